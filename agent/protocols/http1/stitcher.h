#pragma once

#include <algorithm>
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
//
// Messages the kernel lost whole (OnLostRequests, OnLostResponses) keep their
// place in that order, so that the exchanges after them still pair rightly,
// and each exchange lost is counted once (Losses), whichever side was lost and
// whichever side the agent learnt of first.
class Stitcher {
 public:
  struct Stats {
    ParseStats requests;                    // the client-to-server direction
    ParseStats responses;                   // the server-to-client direction
    std::uint64_t unmatched_responses = 0;  // a final response with no request left: dropped
    std::uint64_t dropped_requests = 0;     // evicted from a full pending queue
    std::uint64_t interim_responses = 0;    // 1xx other than 101, skipped
  };
  // Exchanges not reported, each counted once, by what was lost.
  struct Losses {
    std::uint64_t requests = 0;    // the request was lost (its response came, or never did)
    std::uint64_t responses = 0;   // the response was lost; the request was seen
    std::uint64_t exchanges = 0;   // both were lost
    std::uint64_t overflowed = 0;  // evicted from a full pending queue
  };

  // Requests waiting for their response; beyond this the oldest is dropped.
  static constexpr std::size_t kMaxPendingRequests = 128;

  explicit Stitcher(ParserLimits limits = {});

  // Bytes of each direction, in order within the direction (see MessageParser::Feed).
  void OnRequestBytes(std::string_view captured, std::uint64_t missing, std::uint64_t timestamp_ns);
  void OnResponseBytes(std::string_view captured, std::uint64_t missing,
                       std::uint64_t timestamp_ns);
  // `count` requests (responses) began in bytes the kernel lost; told after
  // the gap that held them was fed, before the bytes that follow it.
  void OnLostRequests(std::uint64_t count);
  void OnLostResponses(std::uint64_t count);
  // The connection closed: close-delimited responses complete, and every
  // request still waiting is emitted with response.status_code == 0.
  void OnClose(std::uint64_t timestamp_ns);

  // Exchanges completed so far, in request order; held only until taken.
  std::vector<Exchange> TakeExchanges();

  Stats stats() const;
  const Losses& losses() const { return losses_; }
  const ParseStats& request_stats() const { return request_parser_.stats(); }
  const ParseStats& response_stats() const { return response_parser_.stats(); }
  // Requests waiting for their response (those whose response was lost and
  // counted are not).
  std::size_t PendingRequests() const {
    return static_cast<std::size_t>(std::count_if(
        pending_.begin(), pending_.end(), [](const Pending& pending) { return !pending.lost_response; }));
  }
  // Bytes buffered by both parsers (excluding completed messages not yet taken).
  std::size_t BufferedBytes() const;
  // True once an upgrade (101) or a CONNECT tunnel ended HTTP on this connection.
  bool tunneled() const { return response_parser_.stopped(); }
  // True once a request head was one the limits follow closely (LLM calls).
  bool closely_followed() const { return closely_followed_; }

 private:
  static constexpr std::uint64_t kLostHead = ~std::uint64_t{0};
  struct Pending {
    std::uint64_t sequence = 0;  // order of the request's head on the connection
    bool has_request = false;
    bool has_response = false;
    bool lost_request = false;   // a request the kernel lost: holds its place
    bool lost_response = false;  // its response was lost (has_response is set too)
    Request request;
    Response response;
  };

  void CollectRequests();
  void CollectResponses();
  void EmitReady();
  // Takes the oldest pending request out of a full queue, counting its loss.
  void Evict();

  RequestParser request_parser_;
  ResponseParser response_parser_;
  std::deque<Pending> pending_;
  std::uint64_t heads_seen_ = 0;
  std::uint64_t requests_done_ = 0;
  std::uint64_t unmatched_responses_ = 0;
  std::uint64_t dropped_requests_ = 0;
  std::uint64_t interim_responses_ = 0;
  Losses losses_;
  // Losses counted before the agent learnt of the lost request they imply:
  // responses that came with no request, and responses lost with none waiting.
  // A lost request told later is one of these, not another loss.
  std::uint64_t unexplained_responses_seen_ = 0;
  std::uint64_t unexplained_responses_lost_ = 0;
  // Responses still to come for requests let go from a full queue: not paired.
  std::uint64_t responses_owed_ = 0;
  std::vector<Exchange> ready_;
  bool closely_followed_ = false;
};

}  // namespace infrared::protocols::http1
