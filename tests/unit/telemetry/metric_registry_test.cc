#include "agent/telemetry/metric_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace infrared::telemetry {
namespace {

using ::testing::ElementsAre;

TEST(CounterTest, IncrementsAndIgnoresNegativeAndNan) {
  Counter counter;
  counter.Inc();
  counter.Inc(2.5);
  counter.Inc(-1);
  counter.Inc(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(counter.Value(), 3.5);
}

TEST(GaugeTest, SetAndAdd) {
  Gauge gauge;
  gauge.Set(10);
  gauge.Add(-2.5);
  gauge.Add(0.5);
  EXPECT_EQ(gauge.Value(), 8);
}

TEST(HistogramTest, BucketsAreNonCumulativeAndInclusiveOfTheBound) {
  const std::vector<double> bounds = {1, 2, 5};
  Histogram histogram(&bounds);
  for (double value : {0.5, 1.0, 1.5, 2.0, 5.0, 7.0, -3.0}) histogram.Observe(value);
  histogram.Observe(std::numeric_limits<double>::quiet_NaN());  // ignored

  const HistogramSample sample = histogram.Snapshot();
  EXPECT_THAT(sample.bucket_counts, ElementsAre(3u, 2u, 1u, 1u));
  EXPECT_EQ(sample.count, 7u);
  EXPECT_DOUBLE_EQ(sample.sum, 0.5 + 1 + 1.5 + 2 + 5 + 7 - 3);
}

TEST(FamilyTest, WithLabelsReturnsTheSameSeriesForTheSameValues) {
  CounterFamily family("requests", "Requests.", "", MetricType::kCounter, {"method", "code"});
  Counter& get_ok = family.WithLabels({"GET", "200"});
  EXPECT_EQ(&get_ok, &family.WithLabels({"GET", "200"}));
  EXPECT_NE(&get_ok, &family.WithLabels({"GET", "500"}));
  get_ok.Inc(3);

  const MetricFamily snapshot = family.Snapshot();
  EXPECT_EQ(snapshot.name, "requests");
  EXPECT_EQ(snapshot.help, "Requests.");
  EXPECT_EQ(snapshot.type, MetricType::kCounter);
  ASSERT_EQ(snapshot.samples.size(), 2u);
  EXPECT_EQ(snapshot.samples[0].labels[0].name, "method");
  EXPECT_EQ(snapshot.samples[0].labels[1].value, "200");
  EXPECT_EQ(snapshot.samples[0].value, 3);
  EXPECT_TRUE(snapshot.histograms.empty());
}

TEST(FamilyTest, HistogramSnapshotCarriesBoundsAndLabels) {
  HistogramFamily family("latency_seconds", "Latency.", "seconds", MetricType::kHistogram, {"op"},
                         {0.1, 1});
  family.WithLabels({"read"}).Observe(0.5);
  const MetricFamily snapshot = family.Snapshot();
  EXPECT_EQ(snapshot.unit, "seconds");
  EXPECT_THAT(snapshot.bucket_bounds, ElementsAre(0.1, 1));
  ASSERT_EQ(snapshot.histograms.size(), 1u);
  EXPECT_EQ(snapshot.histograms[0].labels[0].value, "read");
  EXPECT_THAT(snapshot.histograms[0].bucket_counts, ElementsAre(0u, 1u, 0u));
}

class FixedCollector : public Collector {
 public:
  void Collect(std::vector<MetricFamily>& out) override {
    MetricFamily family;
    family.name = "from_collector";
    family.samples.push_back({{}, 7});
    out.push_back(family);
  }
};

TEST(MetricRegistryTest, CollectsInRegistrationOrderThenCollectors) {
  MetricRegistry registry;
  FixedCollector collector;
  registry.AddCollector(&collector);
  registry.AddGauge("b_gauge", "", {});
  registry.AddHistogram("c_hist", "", {}, {1});
  registry.AddCounter("a_counter", "", {"reason"}).WithLabels({"x"}).Inc();

  const std::vector<MetricFamily> families = registry.Collect();
  ASSERT_EQ(families.size(), 4u);
  EXPECT_EQ(families[0].name, "b_gauge");
  EXPECT_EQ(families[0].type, MetricType::kGauge);
  EXPECT_EQ(families[1].name, "c_hist");
  EXPECT_EQ(families[1].type, MetricType::kHistogram);
  EXPECT_EQ(families[2].name, "a_counter");
  EXPECT_EQ(families[2].samples.at(0).value, 1);
  EXPECT_EQ(families[3].name, "from_collector");
}

TEST(MetricRegistryTest, ConcurrentIncrementsAreExact) {
  MetricRegistry registry;
  CounterFamily& family = registry.AddCounter("events", "Events.", {"kind"});
  constexpr int kPerThread = 100000;
  auto work = [&family] {
    // Looking the series up each time also exercises the family's map locking.
    for (int i = 0; i < kPerThread; ++i) family.WithLabels({"k"}).Inc();
  };
  std::thread first(work);
  std::thread second(work);
  first.join();
  second.join();
  EXPECT_EQ(family.WithLabels({"k"}).Value(), 2.0 * kPerThread);
}

TEST(MetricRegistryTest, ConcurrentObservationsAreExact) {
  MetricRegistry registry;
  Histogram& histogram = registry.AddHistogram("sizes", "", {}, {10}).WithLabels({});
  constexpr int kPerThread = 50000;
  auto work = [&histogram] {
    for (int i = 0; i < kPerThread; ++i) histogram.Observe(i % 2 == 0 ? 1 : 100);
  };
  std::thread first(work);
  std::thread second(work);
  first.join();
  second.join();
  const HistogramSample sample = histogram.Snapshot();
  EXPECT_EQ(sample.count, 2u * kPerThread);
  EXPECT_THAT(sample.bucket_counts, ElementsAre(kPerThread, kPerThread));
}

TEST(MetricRegistryTest, IdleSeriesOfExpiringFamiliesAreRemoved) {
  MetricRegistry registry;
  HistogramFamily& durations = registry.AddHistogram("durations", "", {"route"}, {1, 2});
  CounterFamily& calls = registry.AddCounter("calls", "", {"model"});
  CounterFamily& drops = registry.AddCounter("drops", "", {"reason"});  // never expires
  durations.ExpireIdle();
  calls.ExpireIdle();
  drops.WithLabels({"full"}).Inc();
  ObserveAt(durations, {"/a"}, 100, 0.5);
  ObserveAt(durations, {"/b"}, 200, 1.5);
  ObserveAt(durations, {"/a"}, 300, 0.5);  // /a used again: kept
  IncAt(calls, {"m1"}, 150, 2);

  EXPECT_EQ(registry.RemoveIdleSeries(250), 2u);  // /b and m1
  ASSERT_EQ(durations.Size(), 1u);
  const MetricFamily kept = durations.Snapshot();
  EXPECT_EQ(kept.histograms[0].labels[0].value, "/a");
  EXPECT_EQ(kept.histograms[0].count, 2u);
  EXPECT_EQ(calls.Size(), 0u);
  EXPECT_EQ(drops.Size(), 1u);

  // A series that comes back starts again from zero (a counter reset to Prometheus).
  IncAt(calls, {"m1"}, 400);
  EXPECT_EQ(calls.Snapshot().samples[0].value, 1);
  // An older timestamp than the series' last use does not age it.
  ObserveAt(durations, {"/a"}, 10, 0.5);
  EXPECT_EQ(registry.RemoveIdleSeries(300), 0u);
  EXPECT_EQ(registry.RemoveIdleSeries(1000), 2u);
}

TEST(MetricRegistryTest, CollectDropsGathersEveryDroppedFamilyAndNothingElse) {
  class Source : public Collector {
   public:
    void Collect(std::vector<MetricFamily>& out) override {
      ++collects;
      MetricFamily other;
      other.name = "other";
      out.push_back(other);
      MetricFamily dropped;
      dropped.name = kDroppedFamily;
      dropped.samples.push_back({{{"stage", "kernel"}, {"reason", "full"}}, 3});
      out.push_back(dropped);
    }
    int collects = 0;
  } source;
  class Consuming : public Collector {
   public:
    void Collect(std::vector<MetricFamily>&) override { ++collects; }
    void CollectDrops(std::vector<MetricFamily>&) override {}
    int collects = 0;
  } consuming;
  MetricRegistry registry;
  registry.AddCounter(kDroppedFamily, "", {"stage", "reason"}).WithLabels({"a", "b"}).Inc(2);
  registry.AddCounter("events", "", {}).WithLabels({}).Inc();
  registry.AddCollector(&source);
  registry.AddCollector(&consuming);

  const std::vector<MetricFamily> drops = registry.CollectDrops();
  ASSERT_EQ(drops.size(), 2u);
  EXPECT_EQ(drops[0].samples[0].value, 2);
  EXPECT_EQ(drops[1].samples[0].value, 3);
  EXPECT_EQ(source.collects, 1);
  EXPECT_EQ(consuming.collects, 0);
}

using MetricRegistryDeathTest = ::testing::Test;

TEST_F(MetricRegistryDeathTest, WithLabelsOnAnExpiringFamilyAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MetricRegistry registry;
  CounterFamily& family = registry.AddCounter("calls", "", {"model"});
  family.ExpireIdle();
  EXPECT_DEATH(family.WithLabels({"m"}), "expires: update it with Update");
}

TEST_F(MetricRegistryDeathTest, LabelCountMismatchAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MetricRegistry registry;
  CounterFamily& family = registry.AddCounter("drops", "", {"reason"});
  EXPECT_DEATH(family.WithLabels({"a", "b"}), "takes 1 label values, got 2");
}

TEST_F(MetricRegistryDeathTest, DuplicateNameAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MetricRegistry registry;
  registry.AddCounter("dup", "", {});
  EXPECT_DEATH(registry.AddGauge("dup", "", {}), "registered twice");
}

TEST_F(MetricRegistryDeathTest, UnsortedBucketsAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MetricRegistry registry;
  EXPECT_DEATH(registry.AddHistogram("h", "", {}, {2, 1}), "strictly ascending");
}

}  // namespace
}  // namespace infrared::telemetry
