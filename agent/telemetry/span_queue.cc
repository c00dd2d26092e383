#include "agent/telemetry/span_queue.h"

#include <algorithm>
#include <utility>

namespace infrared::telemetry {

SpanQueue::SpanQueue(std::size_t capacity) : capacity_(capacity) {}

bool SpanQueue::Push(Span span) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closed_ || spans_.size() >= capacity_) return false;
    spans_.push_back(std::move(span));
  }
  not_empty_.notify_one();
  return true;
}

std::size_t SpanQueue::PopBatch(std::vector<Span>& out, std::size_t max,
                                std::chrono::milliseconds wait) {
  if (max == 0) return 0;
  std::unique_lock<std::mutex> lock(mutex_);
  if (spans_.empty() && !closed_) {
    ++waiting_;
    not_empty_.wait_for(lock, wait, [this] { return !spans_.empty() || closed_; });
    --waiting_;
  }
  const std::size_t count = std::min(max, spans_.size());
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(std::move(spans_.front()));
    spans_.pop_front();
  }
  return count;
}

void SpanQueue::Close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
  }
  not_empty_.notify_all();
}

std::size_t SpanQueue::Size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return spans_.size();
}

bool SpanQueue::Closed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return closed_;
}

std::size_t SpanQueue::WaitingConsumers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return waiting_;
}

}  // namespace infrared::telemetry
