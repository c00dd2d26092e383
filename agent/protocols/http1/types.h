#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <functional>
#include <string_view>
#include <vector>

namespace infrared::protocols::http1 {

// What replaces the value of a header that carries credentials.
inline constexpr std::string_view kRedacted = "[REDACTED]";

struct Header {
  std::string name;
  std::string value;  // kRedacted for credential headers; the raw value is never stored
  bool operator==(const Header&) const = default;
};

// Where a body's bytes arrived: from decoded (de-chunked) offset `offset` on,
// the bytes came in the chunk stamped `timestamp_ns`. Kept only for messages
// whose body is followed closely (LLM calls: time to first chunk and per chunk).
struct BodyArrival {
  std::uint64_t offset = 0;
  std::uint64_t timestamp_ns = 0;
  bool operator==(const BodyArrival&) const = default;
};

// Timestamps (both messages) are the kernel's monotonic ns of the chunk that
// held the message's first byte and of the chunk that held its last byte.
struct Request {
  std::string method;
  std::string target;
  int version_minor = 1;
  std::vector<Header> headers;  // at most ParserLimits::max_headers
  // Decoded (de-chunked) body length, counting bytes the kernel did not copy.
  std::uint64_t body_size = 0;
  // An exact prefix of the decoded body: capture stops at the cap or at the first gap.
  std::string body;
  bool body_truncated = false;  // body.size() < body_size
  std::uint64_t start_ns = 0;
  std::uint64_t end_ns = 0;
  std::uint64_t first_body_ns = 0;  // the chunk holding the first body byte; 0 without body
  std::vector<BodyArrival> arrivals;  // only for closely followed messages (see ParserLimits)
  bool chunked = false;
  bool connection_close = false;   // "Connection: close", or HTTP/1.0 without keep-alive
  bool headers_truncated = false;  // more header lines than max_headers; extras dropped
  // The end of the message was never seen (a gap broke chunked framing, or the
  // stream closed mid-body): body_size counts only what is known.
  bool incomplete = false;
  bool operator==(const Request&) const = default;
};

struct Response {
  int status_code = 0;
  std::string reason;
  int version_minor = 1;
  std::vector<Header> headers;
  std::uint64_t body_size = 0;
  std::string body;
  bool body_truncated = false;
  std::uint64_t start_ns = 0;
  std::uint64_t end_ns = 0;
  std::uint64_t first_body_ns = 0;
  std::vector<BodyArrival> arrivals;
  bool chunked = false;
  bool connection_close = false;
  bool headers_truncated = false;
  bool incomplete = false;
  bool close_delimited = false;  // no length: the body ran until the connection closed
  // 101, or 2xx to CONNECT: the bytes that follow are not HTTP and are ignored.
  bool tunnel = false;
  bool operator==(const Response&) const = default;
};

struct ParserLimits {
  // A head (start line + headers) longer than this is treated as garbage.
  std::size_t max_head_bytes = 64 * 1024;
  std::size_t max_headers = 100;
  std::size_t body_capture_bytes = 4096;
  // Requests this says yes to (by method and target), and their responses,
  // keep up to full_body_capture_bytes of body, and the responses their
  // arrivals (at most kMaxArrivals): LLM calls, whose usage comes last.
  std::function<bool(std::string_view method, std::string_view target)> follows_closely;
  std::size_t full_body_capture_bytes = 1 << 20;
  static constexpr std::size_t kMaxArrivals = 4096;
};

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [&](char x, char y) { return lower(x) == lower(y); });
}

// The value of the first header called `name` (any case), or "" when absent.
inline std::string_view FindHeader(const std::vector<Header>& headers, std::string_view name) {
  for (const Header& header : headers) {
    if (EqualsIgnoreCase(header.name, name)) return header.value;
  }
  return {};
}

// True for headers whose values are credentials and must never be kept.
inline bool IsSensitiveHeader(std::string_view name) {
  // Views, not C strings: their lengths are not measured again for every header.
  static constexpr std::string_view kSecrets[] = {
      "authorization", "proxy-authorization", "cookie",        "set-cookie",
      "x-api-key",     "api-key",             "x-goog-api-key"};
  for (std::string_view secret : kSecrets) {
    if (EqualsIgnoreCase(name, secret)) return true;
  }
  return false;
}

}  // namespace infrared::protocols::http1
