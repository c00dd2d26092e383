#pragma once

#include <curl/curl.h>

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

// The HTTP side of the Kubernetes pod watch: libcurl set up for the API
// server, a bounded list body, and a watch stream cut into lines.
namespace infrared::core::kube_http {

constexpr std::size_t kMaxListBody = std::size_t{64} << 20;
constexpr std::size_t kMaxWatchLine = std::size_t{16} << 20;
constexpr std::size_t kMaxRefusalBody = 512;  // of an error response, kept for the log
constexpr std::size_t kMaxTokenBytes = 64 * 1024;
constexpr int kWatchTimeoutSeconds = 300;
constexpr long kConnectTimeoutMs = 10'000;
constexpr long kListTimeoutMs = 120'000;
// A watch still open a minute after the server should have ended it is a dead connection.
constexpr long kWatchTimeoutMs = (kWatchTimeoutSeconds + 60) * 1000L;

// One request's state, shared with curl's callbacks.
struct Exchange {
  CURL* handle = nullptr;
  const std::atomic<bool>* stop = nullptr;
  // Watch: called with each line of a 200 response; false ends the transfer.
  std::function<bool(std::string_view)> on_line;
  std::function<void()> on_long_line;  // a watch line over kMaxWatchLine was dropped
  std::string body;  // list: the body; watch: the unfinished line; error status: its start
  long status = 0;
  bool too_large = false;    // the list outgrew kMaxListBody
  bool skipping = false;     // dropping the rest of an over-long watch line
  bool ended = false;        // on_line ended the transfer
  std::exception_ptr error;  // thrown in a callback, rethrown once curl has returned
};

// Splits a watch body into lines as it arrives; false when on_line ends the watch.
bool FeedLines(Exchange& exchange, std::string_view data);

// Percent-encodes all but RFC 3986's unreserved characters.
std::string UrlEncode(std::string_view text);

// The bearer token, trimmed; "" without a file; nullopt when the file cannot
// be read or holds what no header may.
std::optional<std::string> ReadToken(const std::string& path);

// Accept: application/json, and the bearer token when there is one.
curl_slist* BuildHeaders(const std::string& token);

// Sets up `handle` for a list or watch request whose body goes to `exchange`;
// `message` is curl's error buffer (CURL_ERROR_SIZE bytes).
CURLcode Configure(CURL* handle, const std::string& url, const std::string& ca_file, bool watch,
                   curl_slist* headers, Exchange& exchange, char* message);

// libcurl's process-wide initialisation, once (it is not thread-safe).
void GlobalInit();

}  // namespace infrared::core::kube_http
