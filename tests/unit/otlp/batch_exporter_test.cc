#include "exporters/otlp/batch_exporter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace infrared::otlp {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

const Clock::TimePoint kT0 = Clock::TimePoint() + 1h;

class FakeClock : public Clock {
 public:
  TimePoint Now() override {
    std::lock_guard<std::mutex> lock(mutex_);
    return now_;
  }
  void Advance(milliseconds by) {
    std::lock_guard<std::mutex> lock(mutex_);
    now_ += by;
  }
  void AdvanceTo(TimePoint to) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (to > now_) now_ = to;
  }

 private:
  std::mutex mutex_;
  TimePoint now_ = kT0;
};

// Finite waits take no time: the clock jumps to the deadline. Waits without a
// deadline, and waits longer than `block_beyond`, block for real until woken.
class FakeSleeper : public Sleeper {
 public:
  explicit FakeSleeper(FakeClock& clock) : clock_(clock) {}

  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 Clock::TimePoint deadline, const std::function<bool()>& wake) override {
    if (wake()) return true;
    if (deadline == Clock::TimePoint::max() || deadline - clock_.Now() > block_beyond_) {
      {
        std::lock_guard<std::mutex> blocked(mutex_);
        ++blocked_;
      }
      blocked_cv_.notify_all();
      cv.wait(lock, wake);
      return true;
    }
    {
      std::lock_guard<std::mutex> record(mutex_);
      waits_.push_back(std::chrono::duration_cast<milliseconds>(deadline - clock_.Now()));
    }
    clock_.AdvanceTo(deadline);
    return wake();
  }

  void BlockBeyond(milliseconds limit) { block_beyond_ = limit; }
  // Waits until `count` waits have blocked.
  void AwaitBlocked(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    blocked_cv_.wait(lock, [&] { return blocked_ >= count; });
  }
  std::vector<milliseconds> Waits() {
    std::lock_guard<std::mutex> lock(mutex_);
    return waits_;
  }

 private:
  FakeClock& clock_;
  milliseconds block_beyond_ = std::chrono::hours(24 * 365);
  std::mutex mutex_;
  std::condition_variable blocked_cv_;
  int blocked_ = 0;
  std::vector<milliseconds> waits_;
};

std::vector<std::string> Split(std::string_view body) {
  std::vector<std::string> names;
  while (!body.empty()) {
    const std::size_t newline = body.find('\n');
    names.emplace_back(body.substr(0, newline));
    body = newline == std::string_view::npos ? std::string_view() : body.substr(newline + 1);
  }
  return names;
}

std::string Encode(const std::vector<telemetry::Span>& spans) {
  std::string body;
  for (const telemetry::Span& span : spans) {
    if (!body.empty()) body += '\n';
    body += span.name;
  }
  return body;
}

// Bodies "partial:<rejected>:<message>" carry a partial success.
bool ParsePartial(std::string_view body, std::int64_t& rejected, std::string& message) {
  if (!body.starts_with("partial:")) return false;
  body.remove_prefix(8);
  const std::size_t colon = body.find(':');
  rejected = std::stoll(std::string(body.substr(0, colon)));
  message = std::string(body.substr(colon + 1));
  return true;
}

HttpResponse Status(int status, std::string body = "") {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  if (status == 0) response.error = "Connection refused";
  return response;
}

HttpResponse RetryAfter(int status, std::chrono::seconds after) {
  HttpResponse response = Status(status);
  response.retry_after = after;
  return response;
}

struct Call {
  std::vector<std::string> names;
  Clock::TimePoint at;
  int status;
};

// Answers from a script (then 200), records every call, and can run a hook
// on the exporter thread during a call.
class FakeTransport : public Transport {
 public:
  explicit FakeTransport(FakeClock& clock) : clock_(clock) {}

  HttpResponse Post(const std::string& body) override {
    std::function<void()> hook;
    HttpResponse response = Status(200);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const std::size_t index = calls_.size();
      if (index < script_.size()) response = script_[index];
      if (auto it = hooks_.find(index); it != hooks_.end()) hook = it->second;
    }
    if (hook) hook();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      calls_.push_back(Call{Split(body), clock_.Now(), response.status});
    }
    cv_.notify_all();
    return response;
  }

  void FinishWithin(milliseconds budget) override {
    std::lock_guard<std::mutex> lock(mutex_);
    budgets_.push_back(budget);
  }

  void Script(std::vector<HttpResponse> script) { script_ = std::move(script); }
  // Runs `hook` inside call number `index` (from 0), before it answers.
  void OnCall(std::size_t index, std::function<void()> hook) { hooks_[index] = std::move(hook); }
  void AwaitCalls(std::size_t count) {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return calls_.size() >= count; });
  }
  std::vector<Call> Calls() {
    std::lock_guard<std::mutex> lock(mutex_);
    return calls_;
  }
  // The budgets FinishWithin was given, in order.
  std::vector<milliseconds> Budgets() {
    std::lock_guard<std::mutex> lock(mutex_);
    return budgets_;
  }

 private:
  FakeClock& clock_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<HttpResponse> script_;
  std::map<std::size_t, std::function<void()>> hooks_;
  std::vector<Call> calls_;
  std::vector<milliseconds> budgets_;
};

telemetry::Span Named(std::string name) {
  telemetry::Span span;
  span.name = std::move(name);
  return span;
}

class BatchExporterTest : public ::testing::Test {
 protected:
  BatchExporterTest() { options_.shutdown_timeout = 1h; }

  BatchExporter& Make(double random = 0.5) {
    exporter_ = std::make_unique<BatchExporter>(options_, transport_, Encode, ParsePartial, clock_,
                                                sleeper_, [random] { return random; });
    return *exporter_;
  }
  // Offers spans "<prefix>0" .. "<prefix>(count-1)"; returns how many were taken.
  int OfferMany(int count, const std::string& prefix = "s") {
    int accepted = 0;
    for (int i = 0; i < count; ++i) accepted += exporter_->Offer(Named(prefix + std::to_string(i)));
    return accepted;
  }

  BatchOptions options_;
  FakeClock clock_;
  FakeSleeper sleeper_{clock_};
  FakeTransport transport_{clock_};
  std::unique_ptr<BatchExporter> exporter_;
};

TEST_F(BatchExporterTest, SendsFullBatchesAtOnceAndTheRestAfterMaxDelay) {
  options_.max_batch = 3;
  Make();
  OfferMany(7);
  exporter_->Start();
  transport_.AwaitCalls(3);
  exporter_->Shutdown();

  const std::vector<Call> calls = transport_.Calls();
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].names, (std::vector<std::string>{"s0", "s1", "s2"}));
  EXPECT_EQ(calls[1].names, (std::vector<std::string>{"s3", "s4", "s5"}));
  EXPECT_EQ(calls[2].names, (std::vector<std::string>{"s6"}));
  EXPECT_EQ(calls[0].at, kT0);
  EXPECT_EQ(calls[1].at, kT0);
  EXPECT_EQ(calls[2].at, kT0 + 5s);
  EXPECT_EQ(exporter_->Counters().exported, 7u);
}

TEST_F(BatchExporterTest, MaxDelayCountsFromTheOldestQueuedSpan) {
  options_.max_batch = 100;
  Make();
  exporter_->Offer(Named("a"));
  clock_.Advance(2s);
  exporter_->Offer(Named("b"));
  // Offered on the exporter thread during the first call, at kT0 + 5s.
  transport_.OnCall(0, [&] { exporter_->Offer(Named("c")); });
  exporter_->Start();
  transport_.AwaitCalls(2);
  exporter_->Shutdown();

  const std::vector<Call> calls = transport_.Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(calls[0].at, kT0 + 5s);
  EXPECT_EQ(calls[1].names, (std::vector<std::string>{"c"}));
  EXPECT_EQ(calls[1].at, kT0 + 10s);
  EXPECT_EQ(sleeper_.Waits(), (std::vector<milliseconds>{3s, 5s}));
}

TEST_F(BatchExporterTest, BatchesNeverExceedMaxBatch) {
  options_.max_batch = 64;
  options_.queue_capacity = 2000;
  Make();
  ASSERT_EQ(OfferMany(1000), 1000);
  exporter_->Shutdown();  // never started: flushes on this thread

  std::size_t total = 0;
  for (const Call& call : transport_.Calls()) {
    EXPECT_LE(call.names.size(), 64u);
    EXPECT_EQ(call.at, kT0);  // a flush does not wait for max_delay
    total += call.names.size();
  }
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(transport_.Calls().size(), 16u);
  EXPECT_EQ(exporter_->Counters().exported, 1000u);
}

TEST_F(BatchExporterTest, RetriesServiceUnavailableWithDoublingJitteredBackoff) {
  options_.max_batch = 2;
  transport_.Script({Status(503), Status(503), Status(503), Status(200)});
  Make(0.5);
  OfferMany(2);
  exporter_->Start();
  transport_.AwaitCalls(4);
  exporter_->Shutdown();

  const std::vector<Call> calls = transport_.Calls();
  ASSERT_EQ(calls.size(), 4u);
  for (const Call& call : calls) EXPECT_EQ(call.names, (std::vector<std::string>{"s0", "s1"}));
  EXPECT_EQ(calls[1].at, kT0 + 500ms);
  EXPECT_EQ(calls[2].at, kT0 + 1500ms);
  EXPECT_EQ(calls[3].at, kT0 + 3500ms);
  EXPECT_EQ(sleeper_.Waits(), (std::vector<milliseconds>{500ms, 1000ms, 2000ms}));
  const ExportCounters counters = exporter_->Counters();
  EXPECT_EQ(counters.exported, 2u);
  EXPECT_EQ(counters.retried, 3u);
  EXPECT_EQ(counters.failed, 0u);
}

TEST_F(BatchExporterTest, BackoffStopsDoublingAtMaxBackoff) {
  options_.max_batch = 1;
  options_.initial_backoff = 1s;
  options_.max_backoff = 4s;
  transport_.Script({Status(503), Status(503), Status(503), Status(503), Status(503), Status(200)});
  Make(0.5);
  OfferMany(1);
  exporter_->Start();
  transport_.AwaitCalls(6);
  exporter_->Shutdown();

  EXPECT_EQ(sleeper_.Waits(), (std::vector<milliseconds>{500ms, 1s, 2s, 2s, 2s}));
  EXPECT_EQ(exporter_->Counters().retried, 5u);
  EXPECT_EQ(exporter_->Counters().exported, 1u);
}

TEST_F(BatchExporterTest, WaitsTheLongerOfRetryAfterAndTheBackoff) {
  options_.max_batch = 1;
  transport_.Script({RetryAfter(429, 7s), RetryAfter(503, 1s), Status(200)});
  Make(0.75);
  OfferMany(1);
  exporter_->Start();
  transport_.AwaitCalls(3);
  exporter_->Shutdown();

  // 7s beats 750ms; then 1500ms (0.75 of 2s) beats 1s.
  EXPECT_EQ(sleeper_.Waits(), (std::vector<milliseconds>{7s, 1500ms}));
  EXPECT_EQ(transport_.Calls()[1].at, kT0 + 7s);
  EXPECT_EQ(exporter_->Counters().retried, 2u);
  EXPECT_EQ(exporter_->Counters().exported, 1u);
}

TEST_F(BatchExporterTest, EveryRetryableStatusIsRetried) {
  for (int status : {0, 429, 502, 503, 504}) {
    SCOPED_TRACE(status);
    FakeClock clock;
    FakeSleeper sleeper(clock);
    FakeTransport transport(clock);
    transport.Script({Status(status), Status(200)});
    BatchExporter exporter(options_, transport, Encode, ParsePartial, clock, sleeper,
                           [] { return 0.5; });
    exporter.Offer(Named("x"));
    exporter.Shutdown();
    const ExportCounters counters = exporter.Counters();
    EXPECT_EQ(counters.retried, 1u);
    EXPECT_EQ(counters.exported, 1u);
    EXPECT_EQ(counters.failed, 0u);
    EXPECT_EQ(transport.Calls().size(), 2u);
  }
}

TEST_F(BatchExporterTest, OtherStatusesDropTheBatchWithoutRetry) {
  for (int status : {301, 400, 401, 403, 404, 413, 500, 501, 505}) {
    SCOPED_TRACE(status);
    FakeClock clock;
    FakeSleeper sleeper(clock);
    FakeTransport transport(clock);
    transport.Script({Status(status, "bad request"), Status(200)});
    options_.max_batch = 3;
    BatchExporter exporter(options_, transport, Encode, ParsePartial, clock, sleeper,
                           [] { return 0.5; });
    for (int i = 0; i < 5; ++i) exporter.Offer(Named("x" + std::to_string(i)));
    exporter.Shutdown();
    const ExportCounters counters = exporter.Counters();
    EXPECT_EQ(counters.failed, 3u);
    EXPECT_EQ(counters.exported, 2u);  // the next batch still goes out
    EXPECT_EQ(counters.retried, 0u);
    EXPECT_EQ(transport.Calls().size(), 2u);
    EXPECT_NE(exporter.LastError().find("HTTP " + std::to_string(status)), std::string::npos);
  }
}

TEST_F(BatchExporterTest, ConnectionErrorIsRetriedAndReported) {
  options_.max_batch = 1;
  transport_.Script({Status(0)});
  transport_.OnCall(
      1, [&] { EXPECT_NE(exporter_->LastError().find("Connection refused"), std::string::npos); });
  Make();
  OfferMany(1);
  exporter_->Start();
  transport_.AwaitCalls(2);
  exporter_->Shutdown();
  EXPECT_EQ(exporter_->Counters().retried, 1u);
  EXPECT_EQ(exporter_->Counters().exported, 1u);
}

TEST_F(BatchExporterTest, PartialSuccessCountsRejectedSpans) {
  struct Case {
    std::string body;
    std::uint64_t exported;
    std::uint64_t rejected;
    std::uint64_t unreadable;
  };
  const Case cases[] = {
      {"partial:2:bad span", 3, 2, 0},       {"partial:0:just a warning", 5, 0, 0},
      {"partial:9:more than sent", 0, 5, 0}, {"partial:-4:nonsense", 5, 0, 0},
      {"not a partial success", 5, 0, 1},    {"", 5, 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    FakeClock clock;
    FakeSleeper sleeper(clock);
    FakeTransport transport(clock);
    transport.Script({Status(200, c.body)});
    BatchExporter exporter(options_, transport, Encode, ParsePartial, clock, sleeper,
                           [] { return 0.5; });
    for (int i = 0; i < 5; ++i) exporter.Offer(Named("x"));
    exporter.Shutdown();
    EXPECT_EQ(exporter.Counters().exported, c.exported);
    EXPECT_EQ(exporter.Counters().rejected, c.rejected);
    EXPECT_EQ(exporter.Counters().unreadable_responses, c.unreadable);
    EXPECT_EQ(exporter.Counters().failed, 0u);
    EXPECT_EQ(exporter.Counters().retried, 0u);
    EXPECT_EQ(transport.Calls().size(), 1u);
  }
}

TEST_F(BatchExporterTest, UnreadableSuccessBodyCountsAsExportedAndIsNotSentAgain) {
  options_.max_batch = 3;
  // A 200 whose body is not an export response, then a 2xx other than 200.
  transport_.Script({Status(200, std::string("\xff\xff garbage", 10)), Status(202, "<html>")});
  Make();
  OfferMany(5);
  exporter_->Shutdown();

  const ExportCounters counters = exporter_->Counters();
  EXPECT_EQ(counters.exported, 5u);
  EXPECT_EQ(counters.unreadable_responses, 2u);
  EXPECT_EQ(counters.failed, 0u);
  EXPECT_EQ(counters.rejected, 0u);
  EXPECT_EQ(counters.retried, 0u);
  EXPECT_EQ(transport_.Calls().size(), 2u);
  EXPECT_EQ(exporter_->LastError(),
            "The collector answered HTTP 202 with a body that is not an export response; its 2 "
            "spans count as exported: <html>");
}

TEST_F(BatchExporterTest, PartialSuccessMessageIsKept) {
  transport_.Script({Status(200, "partial:2:span 7 has no name")});
  Make();
  OfferMany(4);
  exporter_->Shutdown();
  EXPECT_EQ(exporter_->LastError(), "The collector rejected 2 spans: span 7 has no name");
}

TEST_F(BatchExporterTest, DeliversEverySpanExactlyOnceAcrossRetries) {
  options_.max_batch = 3;
  transport_.Script({Status(503), Status(200), Status(0), Status(0), Status(200),
                     RetryAfter(429, 2s), Status(200), Status(502), Status(504), Status(200)});
  Make(0.3);
  OfferMany(10);
  exporter_->Start();
  transport_.AwaitCalls(10);  // 4 batches, 6 retries
  exporter_->Shutdown();

  std::map<std::string, int> delivered;
  for (const Call& call : transport_.Calls()) {
    EXPECT_LE(call.names.size(), 3u);
    if (call.status != 200) continue;
    for (const std::string& name : call.names) ++delivered[name];
  }
  ASSERT_EQ(delivered.size(), 10u);
  for (const auto& [name, times] : delivered) EXPECT_EQ(times, 1) << name;
  const ExportCounters counters = exporter_->Counters();
  EXPECT_EQ(counters.exported, 10u);
  EXPECT_EQ(counters.retried, 6u);
  EXPECT_EQ(counters.failed, 0u);
  EXPECT_EQ(transport_.Calls().size(), 10u);
}

TEST_F(BatchExporterTest, QueueFillsAndDropsWhileTheTransportFails) {
  options_.max_batch = 2;
  options_.queue_capacity = 5;
  transport_.Script({Status(503), Status(503)});
  Make();
  OfferMany(2, "first");
  int accepted = 0;
  // While the first batch is failing: 5 fit, 3 are dropped, and Offer returns.
  transport_.OnCall(0, [&] { accepted = OfferMany(8, "more"); });
  exporter_->Start();
  transport_.AwaitCalls(6);  // 2 failures, then 3 batches of 2, 2 and 1
  exporter_->Shutdown();

  EXPECT_EQ(accepted, 5);
  const ExportCounters counters = exporter_->Counters();
  EXPECT_EQ(counters.dropped_queue_full, 3u);
  EXPECT_EQ(counters.exported, 7u);
  EXPECT_EQ(counters.retried, 2u);
  EXPECT_EQ(counters.failed, 0u);
  const std::vector<Call> calls = transport_.Calls();
  ASSERT_EQ(calls.size(), 6u);
  EXPECT_EQ(calls[3].names, (std::vector<std::string>{"more0", "more1"}));
  EXPECT_EQ(calls[5].names, (std::vector<std::string>{"more4"}));
}

TEST_F(BatchExporterTest, ZeroCapacityRefusesEverything) {
  options_.queue_capacity = 0;
  Make();
  EXPECT_FALSE(exporter_->Offer(Named("a")));
  EXPECT_EQ(exporter_->Counters().dropped_queue_full, 1u);
  EXPECT_EQ(exporter_->QueueSize(), 0u);
}

TEST_F(BatchExporterTest, ShutdownFlushesWhatIsQueuedWithoutWaitingForMaxDelay) {
  options_.max_batch = 2;
  Make();
  OfferMany(5);
  EXPECT_EQ(exporter_->QueueSize(), 5u);
  exporter_->Shutdown();
  EXPECT_EQ(exporter_->QueueSize(), 0u);
  EXPECT_EQ(exporter_->Counters().exported, 5u);
  EXPECT_EQ(transport_.Calls().size(), 3u);
  EXPECT_TRUE(sleeper_.Waits().empty());
}

TEST_F(BatchExporterTest, ShutdownOfAStartedExporterFlushes) {
  options_.max_batch = 2;
  Make();
  exporter_->Start();
  OfferMany(4);  // sent as two full batches by the thread or by the flush
  exporter_->Shutdown();
  EXPECT_EQ(exporter_->Counters().exported, 4u);
}

TEST_F(BatchExporterTest, ShutdownGivesUpAtTheDeadlineAndCountsTheRestAsFailed) {
  options_.max_batch = 2;
  options_.shutdown_timeout = 5s;
  transport_.Script(std::vector<HttpResponse>(100, Status(503)));
  Make(0.5);
  OfferMany(4);
  exporter_->Shutdown();

  // Batch 1: attempts at 0, 0.5, 1.5 and 3.5s; the next (7.5s) is too late.
  // Batch 2: attempts at 3.5 and 4s; the next (5s) is too late.
  const std::vector<Call> calls = transport_.Calls();
  ASSERT_EQ(calls.size(), 6u);
  EXPECT_EQ(calls[3].at, kT0 + 3500ms);
  EXPECT_EQ(calls[5].at, kT0 + 4000ms);
  EXPECT_EQ(calls[5].names, (std::vector<std::string>{"s2", "s3"}));
  const ExportCounters counters = exporter_->Counters();
  EXPECT_EQ(counters.failed, 4u);
  EXPECT_EQ(counters.retried, 4u);
  EXPECT_EQ(counters.exported, 0u);
}

TEST_F(BatchExporterTest, ShutdownPastTheDeadlineSendsNothing) {
  options_.shutdown_timeout = 0ms;
  Make();
  OfferMany(3);
  exporter_->Shutdown();
  EXPECT_TRUE(transport_.Calls().empty());
  EXPECT_EQ(exporter_->Counters().failed, 3u);
}

TEST_F(BatchExporterTest, ShutdownInterruptsABackoffForOneLastAttempt) {
  options_.max_batch = 1;
  options_.initial_backoff = 60s;
  options_.max_backoff = 60s;
  options_.shutdown_timeout = 5s;
  transport_.Script({Status(503), Status(503)});
  sleeper_.BlockBeyond(10s);  // the 30s backoff blocks until shutdown wakes it
  Make(0.5);
  OfferMany(1);
  exporter_->Start();
  sleeper_.AwaitBlocked(1);  // the idle wait does not count: the span was queued first
  exporter_->Shutdown();

  const std::vector<Call> calls = transport_.Calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].at, kT0);  // retried at once, not 30s later
  const ExportCounters counters = exporter_->Counters();
  EXPECT_EQ(counters.retried, 1u);
  EXPECT_EQ(counters.failed, 1u);  // the following 30s wait would pass the deadline
}

TEST_F(BatchExporterTest, ShutdownHoldsTheTransportToTheSameDeadline) {
  options_.shutdown_timeout = 5s;
  Make();
  exporter_->Start();
  EXPECT_TRUE(transport_.Budgets().empty());
  exporter_->Shutdown();
  exporter_->Shutdown();
  EXPECT_EQ(transport_.Budgets(), (std::vector<milliseconds>{5s}));
}

TEST_F(BatchExporterTest, AnAbandonedRequestAtTheDeadlineCountsAsFailed) {
  options_.max_batch = 2;
  options_.shutdown_timeout = 5s;
  Make();
  OfferMany(3);
  // The transport gives up at the deadline, as CurlTransport does after FinishWithin.
  HttpResponse abandoned = Status(0);
  abandoned.error = "abandoned at the shutdown deadline";
  transport_.Script({abandoned});
  transport_.OnCall(0, [&] { clock_.Advance(5s); });
  exporter_->Shutdown();

  const ExportCounters counters = exporter_->Counters();
  EXPECT_EQ(transport_.Calls().size(), 1u);
  EXPECT_EQ(counters.failed, 3u);  // the batch in flight and the one still queued
  EXPECT_EQ(counters.exported, 0u);
  EXPECT_EQ(counters.retried, 0u);
  EXPECT_EQ(exporter_->LastError(),
            "Dropped 2 spans at the shutdown deadline; the last attempt: abandoned at the "
            "shutdown deadline.");
}

TEST_F(BatchExporterTest, OfferAfterShutdownIsRefusedAndCounted) {
  Make();
  exporter_->Shutdown();
  EXPECT_FALSE(exporter_->Offer(Named("late")));
  EXPECT_EQ(exporter_->Counters().dropped_shutdown, 1u);
  EXPECT_EQ(exporter_->Counters().dropped_queue_full, 0u);
  exporter_->Shutdown();  // idempotent
}

TEST(BatchExporterRealClockTest, SendsAfterMaxDelayAndShutdownInterruptsBackoff) {
  FakeClock unused_clock;
  FakeTransport transport(unused_clock);
  transport.Script({Status(200), Status(503), Status(503)});
  BatchOptions options;
  options.max_batch = 100;
  options.max_delay = 5ms;
  options.initial_backoff = 60s;
  options.max_backoff = 60s;
  options.shutdown_timeout = 1s;
  SteadyClock clock;
  CondVarSleeper sleeper;
  BatchExporter exporter(options, transport, Encode, ParsePartial, clock, sleeper,
                         [] { return 0.99; });
  exporter.Start();
  exporter.Offer(Named("timed"));
  transport.AwaitCalls(1);  // the real max_delay wait ended
  exporter.Offer(Named("doomed"));
  transport.AwaitCalls(2);  // now failing, about to back off for ~59s

  const auto before = std::chrono::steady_clock::now();
  exporter.Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 30s);
  const ExportCounters counters = exporter.Counters();
  EXPECT_EQ(counters.exported, 1u);
  EXPECT_EQ(counters.failed, 1u);
}

TEST(BatchExporterRealClockTest, DefaultConstructedExporterDelivers) {
  FakeClock unused_clock;
  FakeTransport transport(unused_clock);
  BatchExporter exporter(BatchOptions{}, transport, Encode, nullptr);
  exporter.Start();
  exporter.Offer(Named("a"));
  exporter.Shutdown();
  EXPECT_EQ(exporter.Counters().exported, 1u);
}

}  // namespace
}  // namespace infrared::otlp
