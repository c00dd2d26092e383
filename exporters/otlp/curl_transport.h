#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "exporters/otlp/transport.h"

struct curl_slist;

namespace infrared::otlp {

struct CurlTransportOptions {
  std::string url;  // full URL, e.g. http://host:4318/v1/traces
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every POST
  std::chrono::milliseconds timeout{10000};                  // whole request, connect included
  bool gzip = false;                                         // Content-Encoding: gzip
  std::string ca_file;  // TLS trust anchors (PEM); empty: system default
  std::string user_agent = "infrared";
};

// Response bodies larger than this are truncated (the rest is read and discarded).
inline constexpr std::size_t kMaxResponseBody = 1 << 20;
// Retry-After values above this many seconds are clamped to it.
inline constexpr std::int64_t kMaxRetryAfterSeconds = 24 * 3600;

// OTLP/HTTP protobuf over libcurl. One easy handle, reused between posts so
// that the connection is kept alive. TLS peers are always verified.
class CurlTransport : public Transport {
 public:
  // Initialises libcurl (once per process) and an easy handle for `options`.
  // Returns null with `error` set to a sentence when that fails or when the
  // options are unusable (empty URL, header with a line break).
  static std::unique_ptr<CurlTransport> Create(CurlTransportOptions options, std::string& error);

  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  HttpResponse Post(const std::string& body) override;
  // A transfer in progress notices the deadline within about a second (libcurl
  // calls its progress function that often when no data moves).
  void FinishWithin(std::chrono::milliseconds budget) override;

 private:
  CurlTransport(CurlTransportOptions options, void* handle, curl_slist* headers);

  const CurlTransportOptions options_;
  std::mutex mutex_;    // one transfer at a time on the shared handle
  void* const handle_;  // CURL*, kept opaque so that users need not include curl.h
  curl_slist* const headers_;
  // steady_clock nanoseconds past which no transfer may run; max: none.
  std::atomic<std::int64_t> deadline_ns_{std::numeric_limits<std::int64_t>::max()};
};

// Compresses `input` into a gzip member (RFC 1952). False only when zlib fails.
bool GzipCompress(std::string_view input, std::string& output);

// Parses a Retry-After header value in its delta-seconds form ("120"),
// clamped to kMaxRetryAfterSeconds. The HTTP-date form and anything else
// yield nullopt.
std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value);

}  // namespace infrared::otlp
