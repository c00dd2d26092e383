#include "agent/protocols/http1/stitcher.h"

#include <algorithm>
#include <utility>

namespace infrared::protocols::http1 {

Stitcher::Stitcher(ParserLimits limits) : request_parser_(limits), response_parser_(limits) {}

void Stitcher::OnRequestBytes(std::string_view captured, std::uint64_t missing,
                              std::uint64_t timestamp_ns) {
  request_parser_.Feed(captured, missing, timestamp_ns);
  CollectRequests();
  EmitReady();
}

void Stitcher::OnResponseBytes(std::string_view captured, std::uint64_t missing,
                               std::uint64_t timestamp_ns) {
  response_parser_.Feed(captured, missing, timestamp_ns);
  CollectResponses();
  CollectRequests();  // an upgrade stops the request parser, which may complete one
  EmitReady();
}

void Stitcher::OnClose(std::uint64_t timestamp_ns) {
  request_parser_.Close(timestamp_ns);
  response_parser_.Close(timestamp_ns);
  CollectRequests();
  CollectResponses();
  EmitReady();
  for (Pending& pending : pending_) {
    // Every parsed head yields a message, so this is a defensive guard only.
    if (!pending.has_request) {
      ++dropped_requests_;
      continue;
    }
    ready_.push_back(Exchange{std::move(pending.request),
                              pending.has_response ? std::move(pending.response) : Response{}});
  }
  pending_.clear();
  requests_done_ = heads_seen_;  // both parsers start afresh
}

std::vector<Exchange> Stitcher::TakeExchanges() { return std::exchange(ready_, {}); }

Stitcher::Stats Stitcher::stats() const {
  Stats stats;
  stats.requests = request_parser_.stats();
  stats.responses = response_parser_.stats();
  stats.unmatched_responses = unmatched_responses_;
  stats.dropped_requests = dropped_requests_;
  stats.interim_responses = interim_responses_;
  return stats;
}

std::size_t Stitcher::BufferedBytes() const {
  return request_parser_.BufferedBytes() + response_parser_.BufferedBytes();
}

// A request takes its place in the queue as soon as its head is parsed, and
// its method goes to the response parser then: a server may answer before the
// request body has finished (an early 413, a rejected 100-continue).
void Stitcher::CollectRequests() {
  const std::vector<bool> closeness = request_parser_.TakeHeadCloseness();
  std::size_t head = 0;
  for (std::string& method : request_parser_.TakeHeadMethods()) {
    const bool closely = head < closeness.size() && closeness[head];
    closely_followed_ = closely_followed_ || closely;
    ++head;
    if (pending_.size() >= kMaxPendingRequests) {
      pending_.pop_front();
      ++dropped_requests_;
    }
    Pending pending;
    pending.sequence = heads_seen_++;
    pending_.push_back(std::move(pending));
    response_parser_.PushRequestMethod(method, closely);
  }
  // Requests complete in the order their heads were parsed.
  for (Request& request : request_parser_.TakeRequests()) {
    const std::uint64_t sequence = requests_done_++;
    if (pending_.empty() || sequence < pending_.front().sequence) continue;  // evicted
    const std::uint64_t index = sequence - pending_.front().sequence;
    if (index >= pending_.size()) continue;
    pending_[index].request = std::move(request);
    pending_[index].has_request = true;
  }
}

void Stitcher::CollectResponses() {
  for (Response& response : response_parser_.TakeResponses()) {
    const int status = response.status_code;
    if (status >= 100 && status < 200 && status != 101) {
      ++interim_responses_;
      continue;
    }
    // After an upgrade the client's bytes are no longer HTTP either.
    if (response.tunnel) request_parser_.Stop();
    auto waiting = std::find_if(pending_.begin(), pending_.end(),
                                [](const Pending& pending) { return !pending.has_response; });
    if (waiting == pending_.end()) {
      ++unmatched_responses_;  // its request was never seen
      continue;
    }
    waiting->response = std::move(response);
    waiting->has_response = true;
  }
}

void Stitcher::EmitReady() {
  while (!pending_.empty() && pending_.front().has_request && pending_.front().has_response) {
    ready_.push_back(
        Exchange{std::move(pending_.front().request), std::move(pending_.front().response)});
    pending_.pop_front();
  }
}

}  // namespace infrared::protocols::http1
