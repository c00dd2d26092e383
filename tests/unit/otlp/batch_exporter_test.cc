#include "exporters/otlp/batch_exporter.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/unit/otlp/batch_exporter_fixture.h"

namespace infrared::otlp {
namespace {

using namespace ::infrared::otlp::exporter_test;  // NOLINT(build/namespaces): the shared fixture

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

}  // namespace
}  // namespace infrared::otlp
