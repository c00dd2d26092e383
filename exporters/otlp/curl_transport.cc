#include "exporters/otlp/curl_transport.h"

#include <curl/curl.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <cstring>

namespace infrared::otlp {
namespace {

// What the callbacks collect during one transfer.
struct Exchange {
  std::string body;
  std::optional<std::chrono::seconds> retry_after;
};

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  const size_t room = kMaxResponseBody - exchange->body.size();
  // Past the cap the bytes are read and dropped rather than failing the
  // transfer, so the status code still reaches the caller.
  exchange->body.append(data, bytes < room ? bytes : room);
  return bytes;
}

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  const std::string_view line(data, bytes);
  if (line.starts_with("HTTP/")) {
    exchange->retry_after.reset();  // a new (possibly final) response begins
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos && EqualsIgnoreCase(line.substr(0, colon), "retry-after")) {
    exchange->retry_after = ParseRetryAfter(line.substr(colon + 1));
  }
  return bytes;
}

std::int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Aborts the transfer once the deadline set by FinishWithin has passed.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* deadline_ns = static_cast<const std::atomic<std::int64_t>*>(user);
  return SteadyNowNs() >= deadline_ns->load(std::memory_order_relaxed) ? 1 : 0;
}

bool HasLineBreak(std::string_view text) {
  return text.find_first_of("\r\n") != std::string_view::npos;
}

bool ValidateOptions(const CurlTransportOptions& options, std::string& error) {
  if (options.url.empty()) {
    error = "The OTLP exporter has no URL; set an endpoint such as http://localhost:4318.";
    return false;
  }
  if (options.timeout.count() <= 0) {
    error = "The OTLP exporter timeout must be a positive number of milliseconds.";
    return false;
  }
  for (const auto& [name, value] : options.headers) {
    if (name.empty() || HasLineBreak(name) || name.find(':') != std::string::npos ||
        HasLineBreak(value)) {
      error = "The OTLP exporter header \"" + name +
              "\" is not a valid HTTP header; names need no colon and neither may hold a line "
              "break.";
      return false;
    }
  }
  return true;
}

// Builds the header list; null when curl runs out of memory.
curl_slist* BuildHeaders(const CurlTransportOptions& options) {
  std::vector<std::string> lines = {"Content-Type: application/x-protobuf",
                                    // No "Expect: 100-continue" round trip before large bodies.
                                    "Expect:"};
  if (options.gzip) lines.emplace_back("Content-Encoding: gzip");
  for (const auto& [name, value] : options.headers) {
    // "Name;" is curl's spelling of a header with an empty value.
    lines.push_back(value.empty() ? name + ";" : name + ": " + value);
  }
  curl_slist* list = nullptr;
  for (const std::string& line : lines) {
    curl_slist* grown = curl_slist_append(list, line.c_str());
    if (grown == nullptr) {
      curl_slist_free_all(list);
      return nullptr;
    }
    list = grown;
  }
  return list;
}

// Sets the options that stay the same for every post. Returns the first failure.
CURLcode Configure(CURL* handle, const CurlTransportOptions& options, curl_slist* headers,
                   const std::atomic<std::int64_t>* deadline_ns) {
  const long timeout_ms = static_cast<long>(options.timeout.count());
  const std::pair<CURLoption, long> numbers[] = {
      {CURLOPT_NOSIGNAL, 1L},           {CURLOPT_POST, 1L},
      {CURLOPT_TIMEOUT_MS, timeout_ms}, {CURLOPT_CONNECTTIMEOUT_MS, timeout_ms},
      {CURLOPT_SSL_VERIFYPEER, 1L},     {CURLOPT_SSL_VERIFYHOST, 2L},
      {CURLOPT_FOLLOWLOCATION, 0L},     {CURLOPT_NOPROGRESS, 0L},
  };
  for (const auto& [option, value] : numbers) {
    if (CURLcode rc = curl_easy_setopt(handle, option, value); rc != CURLE_OK) return rc;
  }
  CURLcode rc = curl_easy_setopt(handle, CURLOPT_URL, options.url.c_str());
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_USERAGENT, options.user_agent.c_str());
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &OnBody);
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, &OnHeader);
  if (rc == CURLE_OK) rc = curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  if (rc == CURLE_OK) {
    rc = curl_easy_setopt(handle, CURLOPT_XFERINFODATA,
                          const_cast<std::atomic<std::int64_t>*>(deadline_ns));
  }
  if (rc == CURLE_OK && !options.ca_file.empty()) {
    rc = curl_easy_setopt(handle, CURLOPT_CAINFO, options.ca_file.c_str());
  }
  return rc;
}

// libcurl's process-wide initialisation is not thread-safe, so it runs once.
CURLcode GlobalInit() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

}  // namespace

std::unique_ptr<CurlTransport> CurlTransport::Create(CurlTransportOptions options,
                                                     std::string& error) {
  if (!ValidateOptions(options, error)) return nullptr;
  if (CURLcode rc = GlobalInit(); rc != CURLE_OK) {
    error = std::string("libcurl could not be initialised: ") + curl_easy_strerror(rc) + ".";
    return nullptr;
  }
  CURL* handle = curl_easy_init();
  curl_slist* headers = handle == nullptr ? nullptr : BuildHeaders(options);
  if (headers == nullptr) {
    curl_easy_cleanup(handle);
    error = "libcurl could not allocate a handle for the OTLP exporter.";
    return nullptr;
  }
  // From here on the transport owns the handle and the header list, which curl
  // uses by pointer for as long as the handle lives.
  std::unique_ptr<CurlTransport> transport(new CurlTransport(std::move(options), handle, headers));
  if (CURLcode rc = Configure(handle, transport->options_, headers, &transport->deadline_ns_);
      rc != CURLE_OK) {
    error = "libcurl refused the OTLP exporter settings for " + transport->options_.url + ": " +
            curl_easy_strerror(rc) + ".";
    return nullptr;
  }
  return transport;
}

CurlTransport::CurlTransport(CurlTransportOptions options, void* handle, curl_slist* headers)
    : options_(std::move(options)), handle_(handle), headers_(headers) {}

CurlTransport::~CurlTransport() {
  curl_easy_cleanup(handle_);
  curl_slist_free_all(headers_);
}

void CurlTransport::FinishWithin(std::chrono::milliseconds budget) {
  using std::chrono::nanoseconds;
  const nanoseconds left = std::chrono::duration_cast<nanoseconds>(budget);
  const std::int64_t at = SteadyNowNs() + std::max(left, nanoseconds::zero()).count();
  std::int64_t current = deadline_ns_.load();
  while (at < current && !deadline_ns_.compare_exchange_weak(current, at)) {
  }
}

HttpResponse CurlTransport::Post(const std::string& body) {
  std::lock_guard<std::mutex> lock(mutex_);
  HttpResponse response;
  // The configured timeout, shortened to what is left before FinishWithin's deadline.
  long timeout_ms = static_cast<long>(options_.timeout.count());
  if (const std::int64_t deadline = deadline_ns_.load();
      deadline != std::numeric_limits<std::int64_t>::max()) {
    const std::int64_t left_ms = (deadline - SteadyNowNs()) / 1000000;
    if (left_ms <= 0) {
      response.error = "not sent: the shutdown deadline has passed";
      return response;
    }
    timeout_ms = std::min<long>(timeout_ms, static_cast<long>(left_ms));
  }
  std::string compressed;
  const std::string* payload = &body;
  if (options_.gzip) {
    if (!GzipCompress(body, compressed)) {
      response.error = "gzip compression of the request body failed";
      return response;
    }
    payload = &compressed;
  }

  Exchange exchange;
  std::array<char, CURL_ERROR_SIZE> message{};
  curl_easy_setopt(handle_, CURLOPT_POSTFIELDS, payload->data());
  curl_easy_setopt(handle_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload->size()));
  curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(handle_, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(handle_, CURLOPT_ERRORBUFFER, message.data());
  curl_easy_setopt(handle_, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(handle_, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  const CURLcode rc = curl_easy_perform(handle_);
  // None of these may dangle into the next transfer.
  curl_easy_setopt(handle_, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(handle_, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(handle_, CURLOPT_HEADERDATA, nullptr);
  curl_easy_setopt(handle_, CURLOPT_POSTFIELDS, nullptr);

  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    response.error = "abandoned at the shutdown deadline";
    return response;
  }
  if (rc != CURLE_OK) {
    response.error = message[0] != '\0' ? message.data() : curl_easy_strerror(rc);
    return response;
  }
  long status = 0;
  curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  response.body = std::move(exchange.body);
  response.retry_after = exchange.retry_after;
  return response;
}

bool GzipCompress(std::string_view input, std::string& output) {
  if (input.size() > UINT_MAX) return false;  // one deflate call takes a uInt length
  z_stream stream{};
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return false;
  }
  output.resize(deflateBound(&stream, static_cast<uLong>(input.size())));
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = reinterpret_cast<Bytef*>(output.data());
  stream.avail_out = static_cast<uInt>(output.size());
  const int rc = deflate(&stream, Z_FINISH);
  output.resize(stream.total_out);
  deflateEnd(&stream);
  return rc == Z_STREAM_END;
}

std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value) {
  value = Trim(value);
  if (value.empty()) return std::nullopt;
  std::int64_t seconds = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    if (seconds < kMaxRetryAfterSeconds) seconds = seconds * 10 + (c - '0');
  }
  if (seconds > kMaxRetryAfterSeconds) seconds = kMaxRetryAfterSeconds;
  return std::chrono::seconds(seconds);
}

}  // namespace infrared::otlp
