#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>
#include <vector>

#include "agent/protocols/http1/parse.h"
#include "agent/protocols/http1/types.h"

namespace infrared::protocols::http1 {

// One request and its final response. When the connection closed before a
// response arrived, response.status_code is 0 and the rest of response is
// empty: the caller reports such exchanges as errors.
struct Exchange {
  Request request;
  Response response;
  bool operator==(const Exchange&) const = default;
};

// Matches the i-th request of a connection to its i-th final response
// (interim 1xx responses are skipped), pipelining included.
class Stitcher {
 public:
  struct Stats {
    ParseStats requests;                    // the client-to-server direction
    ParseStats responses;                   // the server-to-client direction
    std::uint64_t unmatched_responses = 0;  // a final response with no request left: dropped
    std::uint64_t dropped_requests = 0;     // evicted from a full pending queue
    std::uint64_t interim_responses = 0;    // 1xx other than 101, skipped
  };

  // Requests waiting for their response; beyond this the oldest is dropped.
  static constexpr std::size_t kMaxPendingRequests = 128;

  explicit Stitcher(ParserLimits limits = {});

  // Bytes of each direction, in order within the direction (see MessageParser::Feed).
  void OnRequestBytes(std::string_view captured, std::uint64_t missing, std::uint64_t timestamp_ns);
  void OnResponseBytes(std::string_view captured, std::uint64_t missing,
                       std::uint64_t timestamp_ns);
  // The connection closed: close-delimited responses complete, and every
  // request still waiting is emitted with response.status_code == 0.
  void OnClose(std::uint64_t timestamp_ns);

  // Exchanges completed so far, in request order; held only until taken.
  std::vector<Exchange> TakeExchanges();

  Stats stats() const;
  std::size_t PendingRequests() const { return pending_.size(); }
  // Bytes buffered by both parsers (excluding completed messages not yet taken).
  std::size_t BufferedBytes() const;
  // True once an upgrade (101) or a CONNECT tunnel ended HTTP on this connection.
  bool tunneled() const { return response_parser_.stopped(); }
  // True once a request head was one the limits follow closely (LLM calls).
  bool closely_followed() const { return closely_followed_; }

 private:
  struct Pending {
    std::uint64_t sequence = 0;  // order of the request's head on the connection
    bool has_request = false;
    bool has_response = false;
    Request request;
    Response response;
  };

  void CollectRequests();
  void CollectResponses();
  void EmitReady();

  RequestParser request_parser_;
  ResponseParser response_parser_;
  std::deque<Pending> pending_;
  std::uint64_t heads_seen_ = 0;
  std::uint64_t requests_done_ = 0;
  std::uint64_t unmatched_responses_ = 0;
  std::uint64_t dropped_requests_ = 0;
  std::uint64_t interim_responses_ = 0;
  std::vector<Exchange> ready_;
  bool closely_followed_ = false;
};

}  // namespace infrared::protocols::http1
