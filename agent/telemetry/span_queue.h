#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

#include "agent/telemetry/span.h"

namespace infrared::telemetry {

// Bounded hand-off of finished spans from producers (the pipeline) to one
// exporter thread. Safe for any number of producers and consumers. Never
// blocks a producer: a full queue refuses the span and the producer counts
// the drop (infrared_dropped_total{stage="span_queue",reason="full"}).
class SpanQueue {
 public:
  // `capacity` spans at most; a capacity of 0 refuses everything.
  explicit SpanQueue(std::size_t capacity);

  SpanQueue(const SpanQueue&) = delete;
  SpanQueue& operator=(const SpanQueue&) = delete;

  // Enqueues `span`; false (and the span is discarded) when full or closed.
  bool Push(Span span);

  // Waits up to `wait` for at least one span (not at all when one is already
  // queued or the queue is closed), then moves up to `max` spans, oldest
  // first, to the end of `out`. Returns how many were appended; 0 on timeout,
  // when `max` is 0, or when the queue is closed and drained. Spans queued
  // before Close() can still be popped after it.
  std::size_t PopBatch(std::vector<Span>& out, std::size_t max, std::chrono::milliseconds wait);

  // Refuses further pushes and wakes every waiting consumer. Idempotent.
  void Close();

  std::size_t Size() const;
  std::size_t Capacity() const { return capacity_; }
  bool Closed() const;
  // Consumers currently blocked in PopBatch (lets tests await a waiter).
  std::size_t WaitingConsumers() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable not_empty_;
  std::deque<Span> spans_;
  std::size_t waiting_ = 0;
  bool closed_ = false;
};

}  // namespace infrared::telemetry
