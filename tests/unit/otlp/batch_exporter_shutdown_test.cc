// How the batch exporter stops: what it flushes, the deadline it holds itself
// and its transport to, what it counts as failed past it, and offers after
// shutdown; then two runs on the real clock.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "exporters/otlp/batch_exporter.h"
#include "tests/unit/otlp/batch_exporter_fixture.h"

namespace infrared::otlp {
namespace {

using namespace ::infrared::otlp::exporter_test;  // NOLINT(build/namespaces): the shared fixture

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
