#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "agent/telemetry/span.h"
#include "exporters/otlp/transport.h"

namespace infrared::otlp {

// Serializes a batch into one export request body.
using Encoder = std::function<std::string(const std::vector<telemetry::Span>&)>;
// Reads a non-empty 2xx response body. Returns true when it is a well-formed
// response, with the number of spans the collector rejected and its message
// (0 and empty for a full success); false when the body cannot be read.
using PartialSuccessParser =
    std::function<bool(std::string_view body, std::int64_t& rejected, std::string& message)>;

// The exporter's notion of time: monotonic.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;

  // The current time. Called from any thread.
  virtual TimePoint Now() = 0;
};

// How the exporter thread waits, so that tests can make waits take no time.
class Sleeper {
 public:
  virtual ~Sleeper() = default;

  // Waits, holding `lock` on entry and on return, until `wake()` is true or
  // the clock reaches `deadline` (TimePoint::max(): no deadline). `cv` is
  // notified, under the lock's mutex, whenever `wake()` may have turned true.
  // Returns wake().
  virtual bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         Clock::TimePoint deadline, const std::function<bool()>& wake) = 0;
};

// std::chrono::steady_clock.
class SteadyClock : public Clock {
 public:
  TimePoint Now() override { return std::chrono::steady_clock::now(); }
};

// Waits on the condition variable against std::chrono::steady_clock.
class CondVarSleeper : public Sleeper {
 public:
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 Clock::TimePoint deadline, const std::function<bool()>& wake) override;
};

struct BatchOptions {
  std::size_t queue_capacity = 16384;  // spans waiting to be sent, beyond the batch in flight
  std::size_t max_batch = 512;         // spans per request (0 is taken as 1)
  std::chrono::milliseconds max_delay{5000};  // the oldest queued span waits at most this long
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::milliseconds shutdown_timeout{5000};
};

// A snapshot of what happened to the spans, in spans unless said otherwise.
struct ExportCounters {
  std::uint64_t exported = 0;            // accepted by the collector
  std::uint64_t failed = 0;              // given up: non-retryable status, or shutdown deadline
  std::uint64_t retried = 0;             // requests re-sent after a retryable failure
  std::uint64_t dropped_queue_full = 0;  // refused by Offer because the queue was full
  std::uint64_t dropped_shutdown = 0;    // refused by Offer after Shutdown began
  std::uint64_t rejected = 0;            // refused by the collector in a partial success
  // In requests: 2xx answers whose body the parser could not read. The status
  // says the spans were accepted (OTLP/HTTP: success is "HTTP 200 OK"), so
  // they count as exported and are not sent again.
  std::uint64_t unreadable_responses = 0;
};

// Queues spans and sends them in batches from one thread of its own, retrying
// with exponential backoff and full jitter on 429, 502, 503, 504 and on no
// response (honouring Retry-After), until success or the shutdown deadline.
// Any other status drops the batch. Offer never waits for the network.
class BatchExporter {
 public:
  // `transport`, `clock` and `sleeper` must outlive the exporter. `random`
  // returns a value in [0, 1) and is called on the exporter thread only.
  BatchExporter(BatchOptions options, Transport& transport, Encoder encoder,
                PartialSuccessParser parser, Clock& clock, Sleeper& sleeper,
                std::function<double()> random);
  // The same with the steady clock, real waits and a randomly seeded generator.
  BatchExporter(BatchOptions options, Transport& transport, Encoder encoder,
                PartialSuccessParser parser);
  // Shuts down if that has not been done.
  ~BatchExporter();

  BatchExporter(const BatchExporter&) = delete;
  BatchExporter& operator=(const BatchExporter&) = delete;

  // Queues `span`. Never blocks on the network; returns false and counts the
  // span when the queue is full or Shutdown has begun.
  bool Offer(telemetry::Span span);

  // Starts the exporter thread. Call at most once.
  void Start();

  // Stops taking spans, sends what is queued within shutdown_timeout (what is
  // left then counts as failed) and joins the thread. A request in flight is
  // held to the same deadline (Transport::FinishWithin). When Start was never
  // called the flush runs on the caller's thread. Idempotent.
  void Shutdown();

  ExportCounters Counters() const;
  // Spans queued now (the batch in flight excluded).
  std::size_t QueueSize() const;
  // The most recent failure or partial success, as a sentence; empty if none.
  std::string LastError() const;

 private:
  struct Queued {
    telemetry::Span span;
    Clock::TimePoint enqueued;
  };
  enum class Outcome { kDone, kRetry, kGiveUp };

  void Run();
  // Waits until a batch is due and moves it into `batch`; false when stopping
  // with nothing left (or past the shutdown deadline).
  bool NextBatch(std::vector<telemetry::Span>& batch);
  // Sends one batch, retrying as needed, and counts the result.
  void Deliver(const std::vector<telemetry::Span>& batch);
  Outcome Account(const HttpResponse& response, std::size_t spans);
  // Waits out a backoff; false when the batch should be given up instead
  // (shutting down, and the next attempt would fall past the deadline).
  bool Backoff(std::chrono::milliseconds wait);
  void SetLastError(std::string message);

  const BatchOptions options_;
  Transport& transport_;
  const Encoder encoder_;
  const PartialSuccessParser parser_;
  SteadyClock steady_clock_;
  CondVarSleeper cond_var_sleeper_;
  std::mt19937_64 generator_;
  Clock& clock_;
  Sleeper& sleeper_;
  const std::function<double()> random_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  Clock::TimePoint shutdown_deadline_ = Clock::TimePoint::max();
  std::string last_error_;

  std::mutex lifecycle_mutex_;  // serialises Start and Shutdown
  std::thread thread_;
  bool shut_down_ = false;

  std::atomic<std::uint64_t> exported_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> retried_{0};
  std::atomic<std::uint64_t> dropped_queue_full_{0};
  std::atomic<std::uint64_t> dropped_shutdown_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> unreadable_responses_{0};
};

}  // namespace infrared::otlp
