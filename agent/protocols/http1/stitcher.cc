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
    if (pending.lost_response) continue;  // counted when it was lost
    if (pending.lost_request) {
      ++losses_.requests;
      continue;
    }
    // Every parsed head yields a message, so this is a defensive guard only.
    if (!pending.has_request) {
      ++dropped_requests_;
      ++losses_.overflowed;
      continue;
    }
    ready_.push_back(Exchange{std::move(pending.request),
                              pending.has_response ? std::move(pending.response) : Response{}});
  }
  pending_.clear();
  requests_done_ = heads_seen_;  // both parsers start afresh
}

void Stitcher::OnLostRequests(std::uint64_t count) {
  auto absorb = [&count](std::uint64_t& pool) {
    const std::uint64_t taken = std::min(pool, count);
    pool -= taken;
    count -= taken;
  };
  absorb(unexplained_responses_seen_);
  absorb(unexplained_responses_lost_);
  if (count == 0) return;
  response_parser_.PushRequestMethod("GET", false, count);  // unknown: GET's framing
  // Each takes a place after the requests waiting; a full queue lets the
  // oldest go. Those beyond what it holds would go as soon as placed, after
  // every request waiting now: they are let go at once.
  const std::uint64_t placed = std::min<std::uint64_t>(count, kMaxPendingRequests);
  if (count > placed) {
    while (!pending_.empty()) Evict();
    losses_.requests += count - placed;
    responses_owed_ += count - placed;
  }
  for (std::uint64_t i = 0; i < placed; ++i) {
    if (pending_.size() >= kMaxPendingRequests) Evict();
    Pending pending;
    pending.sequence = kLostHead;
    pending.has_request = true;
    pending.lost_request = true;
    pending_.push_back(std::move(pending));
  }
  EmitReady();
}

void Stitcher::OnLostResponses(std::uint64_t count) {
  // The oldest responses answered requests no longer waiting (counted then).
  const std::uint64_t owed = std::min(count, responses_owed_);
  responses_owed_ -= owed;
  count -= owed;
  response_parser_.DropRequestMethods(owed);
  auto waiting = pending_.begin();
  for (; count > 0; --count) {
    waiting = std::find_if(waiting, pending_.end(),
                           [](const Pending& pending) { return !pending.has_response; });
    if (waiting == pending_.end()) break;
    response_parser_.DropRequestMethods(1);
    waiting->has_response = true;
    waiting->lost_response = true;
    ++(waiting->lost_request ? losses_.exchanges : losses_.responses);
  }
  // The rest answered requests lost too, and yet to be told.
  response_parser_.DropRequestMethods(count);
  unexplained_responses_lost_ += count;
  losses_.exchanges += count;
  EmitReady();
}

void Stitcher::Evict() {
  const Pending& oldest = pending_.front();
  if (oldest.lost_request && !oldest.lost_response) {
    ++losses_.requests;
  } else if (!oldest.lost_response) {
    ++dropped_requests_;
    ++losses_.overflowed;
  }
  // Its response is still to come (or to be told lost): it must not be paired.
  if (!oldest.has_response) ++responses_owed_;
  pending_.pop_front();
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
    if (pending_.size() >= kMaxPendingRequests) Evict();
    Pending pending;
    pending.sequence = heads_seen_++;
    pending_.push_back(std::move(pending));
    response_parser_.PushRequestMethod(method, closely);
    // Losses a lost request would explain came before this request.
    unexplained_responses_seen_ = 0;
    unexplained_responses_lost_ = 0;
  }
  // Requests complete in the order their heads were parsed.
  for (Request& request : request_parser_.TakeRequests()) {
    const std::uint64_t sequence = requests_done_++;
    auto it = std::find_if(pending_.begin(), pending_.end(), [sequence](const Pending& pending) {
      return pending.sequence == sequence;
    });
    if (it == pending_.end()) continue;  // evicted
    it->request = std::move(request);
    it->has_request = true;
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
    if (responses_owed_ > 0) {  // it answers a request let go (counted then)
      --responses_owed_;
      continue;
    }
    auto waiting = std::find_if(pending_.begin(), pending_.end(),
                                [](const Pending& pending) { return !pending.has_response; });
    if (waiting == pending_.end()) {
      ++unmatched_responses_;  // its request was never seen
      ++unexplained_responses_seen_;
      ++losses_.requests;
      continue;
    }
    waiting->response = std::move(response);
    waiting->has_response = true;
  }
}

void Stitcher::EmitReady() {
  while (!pending_.empty() && pending_.front().has_request && pending_.front().has_response) {
    Pending& front = pending_.front();
    if (front.lost_request && !front.lost_response) {
      ++losses_.requests;  // its response came: nothing to report it with
    } else if (!front.lost_response) {
      ready_.push_back(Exchange{std::move(front.request), std::move(front.response)});
    }
    pending_.pop_front();
  }
}

}  // namespace infrared::protocols::http1
