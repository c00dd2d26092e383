#include "agent/core/kube_http.h"

#include <algorithm>
#include <fstream>
#include <mutex>
#include <utility>

#include "agent/core/text.h"

namespace infrared::core::kube_http {
namespace {

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  try {
    if (exchange->status == 0) {
      curl_easy_getinfo(exchange->handle, CURLINFO_RESPONSE_CODE, &exchange->status);
    }
    if (exchange->status != 200) {
      const size_t room = kMaxRefusalBody - std::min(kMaxRefusalBody, exchange->body.size());
      exchange->body.append(data, std::min(bytes, room));
      return bytes;
    }
    if (exchange->on_line) {
      exchange->ended = !FeedLines(*exchange, std::string_view(data, bytes));
      return exchange->ended ? 0 : bytes;
    }
    if (exchange->body.size() + bytes > kMaxListBody) {
      exchange->too_large = true;
      return 0;
    }
    exchange->body.append(data, bytes);
    return bytes;
  } catch (...) {
    exchange->error = std::current_exception();  // never through curl's C frames
    return 0;
  }
}

// Called about once a second even on an idle watch, so a stop is prompt.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Exchange*>(user)->stop->load() ? 1 : 0;
}

}  // namespace

bool FeedLines(Exchange& exchange, std::string_view data) {
  while (!data.empty()) {
    const std::size_t newline = data.find('\n');
    const std::string_view piece = data.substr(0, newline);
    const bool complete = newline != std::string_view::npos;
    if (exchange.skipping || exchange.body.size() + piece.size() > kMaxWatchLine) {
      if (!exchange.skipping) exchange.on_long_line();
      exchange.body.clear();
      exchange.skipping = !complete;  // resynchronise at the next line break
    } else if (!complete) {
      exchange.body.append(piece);
    } else if (exchange.body.empty()) {
      if (!exchange.on_line(piece)) return false;
    } else {
      exchange.body.append(piece);
      const bool go_on = exchange.on_line(exchange.body);
      exchange.body.clear();
      if (!go_on) return false;
    }
    data.remove_prefix(complete ? newline + 1 : data.size());
  }
  return true;
}

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
        (byte >= '0' && byte <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out += {'%', kHex[byte >> 4], kHex[byte & 0xf]};
    }
  }
  return out;
}

std::optional<std::string> ReadToken(const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text(kMaxTokenBytes, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return std::nullopt;
  text.resize(static_cast<std::size_t>(in.gcount()));
  std::string token(Trim(text));
  for (const char c : token) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
  }
  return token;
}

curl_slist* BuildHeaders(const std::string& token) {
  curl_slist* list = curl_slist_append(nullptr, "Accept: application/json");
  if (list == nullptr || token.empty()) return list;
  curl_slist* grown = curl_slist_append(list, ("Authorization: Bearer " + token).c_str());
  if (grown == nullptr) curl_slist_free_all(list);
  return grown;
}

CURLcode Configure(CURL* handle, const std::string& url, const std::string& ca_file, bool watch,
                   curl_slist* headers, Exchange& exchange, char* message) {
  const std::pair<CURLoption, long> numbers[] = {
      {CURLOPT_NOSIGNAL, 1L},
      {CURLOPT_FOLLOWLOCATION, 0L},
      {CURLOPT_SSL_VERIFYPEER, 1L},
      {CURLOPT_SSL_VERIFYHOST, 2L},
      {CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs},
      {CURLOPT_TIMEOUT_MS, watch ? kWatchTimeoutMs : kListTimeoutMs},
      {CURLOPT_TCP_KEEPALIVE, 1L},
      {CURLOPT_TCP_KEEPIDLE, 30L},
      {CURLOPT_TCP_KEEPINTVL, 15L},
      {CURLOPT_NOPROGRESS, 0L},
  };
  for (const auto& [option, value] : numbers) {
    if (CURLcode rc = curl_easy_setopt(handle, option, value); rc != CURLE_OK) return rc;
  }
  CURLcode rc = curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_USERAGENT, "infrared");
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, message);
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &OnBody);
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_WRITEDATA, &exchange);
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &exchange);
  // Lists can be large; watch streams are never compressed by the server.
  if (rc == CURLE_OK && !watch) rc = curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");
  if (rc == CURLE_OK && !ca_file.empty()) {
    rc = curl_easy_setopt(handle, CURLOPT_CAINFO, ca_file.c_str());
  }
  return rc;
}

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

}  // namespace infrared::core::kube_http
