#include "agent/protocols/http1/head.h"

#include <algorithm>
#include <string>

namespace infrared::protocols::http1::internal {
namespace {

// Content-Length may be a list of identical values ("5, 5"), RFC 9110 §8.6.
bool MergeContentLength(std::string_view value, std::optional<std::uint64_t>& length) {
  while (true) {
    const std::size_t comma = value.find(',');
    const std::string_view item = Trim(value.substr(0, comma));
    if (item.empty() || item.size() > 19) return false;
    std::uint64_t number = 0;
    for (char c : item) {
      if (!IsDigit(c)) return false;
      number = number * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (length && *length != number) return false;
    length = number;
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

bool HasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    if (EqualsIgnoreCase(Trim(list.substr(0, comma)), token)) return true;
    list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
  }
  return false;
}

// The last transfer coding in a Transfer-Encoding list, without parameters.
std::string_view LastCoding(std::string_view list) {
  const std::size_t comma = list.rfind(',');
  std::string_view last = comma == std::string_view::npos ? list : list.substr(comma + 1);
  return Trim(last.substr(0, last.find(';')));
}

void NoteFraming(std::string_view name, std::string_view value, Fields& fields) {
  if (EqualsIgnoreCase(name, "content-length")) {
    if (!MergeContentLength(value, fields.content_length)) fields.content_length_invalid = true;
  } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
    fields.transfer_encoding = true;
    if (!value.empty()) fields.chunked = EqualsIgnoreCase(LastCoding(value), "chunked");
  } else if (EqualsIgnoreCase(name, "connection")) {
    fields.close = fields.close || HasToken(value, "close");
    fields.keep_alive = fields.keep_alive || HasToken(value, "keep-alive");
  }
}

int VersionMinor(std::string_view version) {
  return version.size() == kVersionPrefix.size() + 1 && IsDigit(version.back())
             ? version.back() - '0'
             : 1;
}

}  // namespace

std::string_view NextLine(std::string_view& text) {
  const std::size_t end = text.find('\n');
  std::string_view line = text.substr(0, end);
  text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

namespace {

// Query parameters that carry credentials (Gemini's ?key=, OAuth's
// access_token) get the header treatment: their value is never stored.
std::string RedactQuery(std::string_view target) {
  const std::size_t query = target.find('?');
  if (query == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, query + 1));
  std::string_view rest = target.substr(query + 1);
  while (true) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const std::string_view name = pair.substr(0, pair.find('='));
    bool secret = false;
    for (std::string_view key : {"key", "api_key", "apikey", "api-key", "access_token", "token"}) {
      secret = secret || EqualsIgnoreCase(name, key);
    }
    if (secret && name.size() < pair.size()) {
      out.append(name).append("=").append(kRedacted);
    } else {
      out.append(pair);
    }
    if (amp == std::string_view::npos) break;
    out.push_back('&');
    rest = rest.substr(amp + 1);
  }
  return out;
}

}  // namespace

void ParseRequestLine(std::string_view line, Request& request) {
  const std::size_t method_end = line.find(' ');
  const std::size_t target_end = line.find(' ', method_end + 1);
  request.method = std::string(line.substr(0, method_end));
  if (method_end != std::string_view::npos && target_end != std::string_view::npos) {
    request.target = RedactQuery(line.substr(method_end + 1, target_end - method_end - 1));
    request.version_minor = VersionMinor(line.substr(target_end + 1));
  }
}

void ParseStatusLine(std::string_view line, Response& response) {
  response.version_minor = VersionMinor(line.substr(0, kVersionPrefix.size() + 1));
  const std::string_view code = line.substr(std::min<std::size_t>(9, line.size()), 3);
  if (code.size() == 3 && std::all_of(code.begin(), code.end(), IsDigit)) {
    response.status_code = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  }
  if (line.size() > 13) response.reason = std::string(Trim(line.substr(13)));
}

Fields ParseFields(std::string_view text, std::size_t max_headers) {
  Fields fields;
  // Most heads have fewer; more grow the vector (a header moves cheaply).
  fields.headers.reserve(std::min<std::size_t>(max_headers, 12));
  bool last_stored = false;
  while (!text.empty()) {
    const std::string_view line = NextLine(text);
    if (line.empty()) break;
    if (IsSpace(line.front())) {  // obsolete line folding, RFC 9112 §5.2
      Header* last = last_stored ? &fields.headers.back() : nullptr;
      if (last != nullptr && last->value != kRedacted) last->value.append(" ").append(Trim(line));
      continue;
    }
    const std::size_t colon = line.find(':');
    last_stored = false;
    if (colon == std::string_view::npos || colon == 0) continue;
    const std::string_view name = Trim(line.substr(0, colon));
    const std::string_view value = Trim(line.substr(colon + 1));
    NoteFraming(name, value, fields);
    if (fields.headers.size() >= max_headers) {
      ++fields.dropped;
      continue;
    }
    fields.headers.push_back(
        Header{std::string(name), std::string(IsSensitiveHeader(name) ? kRedacted : value)});
    last_stored = true;
  }
  return fields;
}

}  // namespace infrared::protocols::http1::internal
