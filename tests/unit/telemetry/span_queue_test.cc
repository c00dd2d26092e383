#include "agent/telemetry/span_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace infrared::telemetry {
namespace {

using namespace std::chrono_literals;

// Long enough that a test only passes by being woken, never by timing out.
constexpr std::chrono::milliseconds kForever = std::chrono::hours(1);

Span Named(std::string name) {
  Span span;
  span.name = std::move(name);
  return span;
}

void AwaitWaitingConsumers(const SpanQueue& queue, std::size_t count) {
  while (queue.WaitingConsumers() != count) std::this_thread::yield();
}

TEST(SpanQueueTest, AcceptsUpToCapacityThenDrops) {
  SpanQueue queue(3);
  EXPECT_EQ(queue.Capacity(), 3u);
  EXPECT_TRUE(queue.Push(Named("a")));
  EXPECT_TRUE(queue.Push(Named("b")));
  EXPECT_TRUE(queue.Push(Named("c")));
  EXPECT_FALSE(queue.Push(Named("d")));
  EXPECT_EQ(queue.Size(), 3u);

  std::vector<Span> out;
  EXPECT_EQ(queue.PopBatch(out, 1, 0ms), 1u);
  EXPECT_TRUE(queue.Push(Named("e")));
  EXPECT_FALSE(queue.Push(Named("f")));
}

TEST(SpanQueueTest, ZeroCapacityRefusesEverything) {
  SpanQueue queue(0);
  EXPECT_FALSE(queue.Push(Named("a")));
  EXPECT_EQ(queue.Size(), 0u);
}

TEST(SpanQueueTest, PopBatchTakesOldestFirstUpToMaxAndAppends) {
  SpanQueue queue(10);
  for (const char* name : {"a", "b", "c", "d", "e"}) ASSERT_TRUE(queue.Push(Named(name)));

  std::vector<Span> out;
  out.push_back(Named("kept"));
  EXPECT_EQ(queue.PopBatch(out, 3, 0ms), 3u);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].name, "kept");
  EXPECT_EQ(out[1].name, "a");
  EXPECT_EQ(out[2].name, "b");
  EXPECT_EQ(out[3].name, "c");
  EXPECT_EQ(queue.Size(), 2u);

  out.clear();
  EXPECT_EQ(queue.PopBatch(out, 100, 0ms), 2u);
  EXPECT_EQ(out[0].name, "d");
  EXPECT_EQ(out[1].name, "e");
  EXPECT_EQ(queue.Size(), 0u);
}

TEST(SpanQueueTest, PopBatchWithMaxZeroTakesNothing) {
  SpanQueue queue(2);
  ASSERT_TRUE(queue.Push(Named("a")));
  std::vector<Span> out;
  EXPECT_EQ(queue.PopBatch(out, 0, kForever), 0u);
  EXPECT_EQ(queue.Size(), 1u);
}

TEST(SpanQueueTest, PopBatchTimesOutWhenEmpty) {
  SpanQueue queue(2);
  std::vector<Span> out;
  EXPECT_EQ(queue.PopBatch(out, 10, 1ms), 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(queue.WaitingConsumers(), 0u);
}

TEST(SpanQueueTest, PushWakesWaitingConsumer) {
  SpanQueue queue(4);
  std::vector<Span> out;
  auto consumer = std::async(std::launch::async, [&] { return queue.PopBatch(out, 10, kForever); });
  AwaitWaitingConsumers(queue, 1);
  ASSERT_TRUE(queue.Push(Named("x")));
  EXPECT_EQ(consumer.get(), 1u);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "x");
}

TEST(SpanQueueTest, CloseWakesWaitingConsumer) {
  SpanQueue queue(4);
  std::vector<Span> out;
  auto consumer = std::async(std::launch::async, [&] { return queue.PopBatch(out, 10, kForever); });
  AwaitWaitingConsumers(queue, 1);
  queue.Close();
  EXPECT_EQ(consumer.get(), 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(queue.WaitingConsumers(), 0u);
}

TEST(SpanQueueTest, CloseWakesEveryWaitingConsumer) {
  SpanQueue queue(4);
  std::vector<Span> out_a;
  std::vector<Span> out_b;
  auto a = std::async(std::launch::async, [&] { return queue.PopBatch(out_a, 1, kForever); });
  auto b = std::async(std::launch::async, [&] { return queue.PopBatch(out_b, 1, kForever); });
  AwaitWaitingConsumers(queue, 2);
  queue.Close();
  EXPECT_EQ(a.get(), 0u);
  EXPECT_EQ(b.get(), 0u);
}

TEST(SpanQueueTest, PushAfterCloseFailsButQueuedSpansDrain) {
  SpanQueue queue(4);
  ASSERT_TRUE(queue.Push(Named("before")));
  queue.Close();
  queue.Close();  // idempotent
  EXPECT_TRUE(queue.Closed());
  EXPECT_FALSE(queue.Push(Named("after")));

  std::vector<Span> out;
  EXPECT_EQ(queue.PopBatch(out, 10, kForever), 1u);
  EXPECT_EQ(out[0].name, "before");
  EXPECT_EQ(queue.PopBatch(out, 10, kForever), 0u);  // closed and drained: no wait
}

TEST(SpanQueueTest, ConcurrentProducersAccountForEverySpan) {
  constexpr int kProducers = 4;
  constexpr int kPerProducer = 500;
  SpanQueue queue(64);
  std::atomic<int> accepted{0};
  std::atomic<int> dropped{0};
  std::vector<Span> received;

  std::thread consumer([&] {
    std::vector<Span> batch;
    while (queue.PopBatch(batch, 16, kForever) > 0 || !queue.Closed() || queue.Size() > 0) {
      for (Span& span : batch) received.push_back(std::move(span));
      batch.clear();
    }
  });
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        if (queue.Push(Named(std::to_string(p)))) {
          ++accepted;
        } else {
          ++dropped;
        }
      }
    });
  }
  for (std::thread& producer : producers) producer.join();
  queue.Close();
  consumer.join();

  EXPECT_EQ(accepted + dropped, kProducers * kPerProducer);
  EXPECT_EQ(static_cast<int>(received.size()), accepted.load());
}

}  // namespace
}  // namespace infrared::telemetry
