#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace infrared::otlp {

// What came back from one POST.
struct HttpResponse {
  int status = 0;     // HTTP status; 0: no response (connection error, timeout)
  std::string body;   // response body, possibly truncated by the transport's cap
  std::string error;  // why there was no response, when status == 0
  std::optional<std::chrono::seconds> retry_after;  // the server's Retry-After, if given
};

// Sends serialized export requests to one collector endpoint. Implementations
// are used by a single exporter thread at a time.
class Transport {
 public:
  virtual ~Transport() = default;

  // POSTs one body; blocks at most the configured timeout. Never throws: every
  // failure is reported in the returned response.
  virtual HttpResponse Post(const std::string& body) = 0;

  // From now on no transfer runs more than `budget` past this call, the one in
  // progress included: what is still running then is abandoned and reported as
  // no response. Shutdown uses it so that a receiver that never answers cannot
  // hold the agent past its flush deadline. Callable from any thread.
  virtual void FinishWithin(std::chrono::milliseconds budget) = 0;
};

}  // namespace infrared::otlp
