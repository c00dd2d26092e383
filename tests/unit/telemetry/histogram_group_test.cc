#include "agent/telemetry/histogram_group.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "agent/telemetry/metric_registry.h"
#include "exporters/prometheus/exposition.h"

namespace infrared::telemetry {
namespace {

using prometheus::ExpositionFormat;

const std::vector<std::string> kLabels = {"route", "pod"};
const std::vector<double> kSeconds = {0.1, 1};
const std::vector<double> kBytes = {0, 100, 1000};

struct Observation {
  std::vector<std::string> labels;
  std::uint64_t now_ns;
  double seconds, bytes;
};

const std::vector<Observation> kObservations = {
    {{"/b", ""}, 100, 0.05, 10},  {{"/a", "web-1"}, 200, 2, 5000},
    {{"/b", ""}, 300, 0.5, 0},    {{"/c", "x\"y"}, 400, 0.1, 100},
    {{"/a", "web-1"}, 50, 0.2, 1},  // older than its last use: does not age it
};

// The families as they were before they were grouped: one expiring family each,
// with a family registered between them.
MetricRegistry& Separate(MetricRegistry& registry) {
  HistogramFamily& duration = registry.AddHistogram("duration_seconds", "How long.", kLabels,
                                                    kSeconds, "seconds");
  registry.AddCounter("between", "Registered in between.", {}).WithLabels({}).Inc();
  HistogramFamily& size = registry.AddHistogram("size_bytes", "How big.", kLabels, kBytes, "bytes");
  duration.ExpireIdle();
  size.ExpireIdle();
  for (const Observation& o : kObservations) {
    ObserveAt(duration, o.labels, o.now_ns, o.seconds);
    ObserveAt(size, o.labels, o.now_ns, o.bytes);
  }
  return registry;
}

MetricRegistry& Grouped(MetricRegistry& registry) {
  HistogramGroup& group = registry.AddHistogramGroup(kLabels);
  EXPECT_EQ(registry.AddToGroup(group, "duration_seconds", "How long.", kSeconds, "seconds"), 0u);
  registry.AddCounter("between", "Registered in between.", {}).WithLabels({}).Inc();
  EXPECT_EQ(registry.AddToGroup(group, "size_bytes", "How big.", kBytes, "bytes"), 1u);
  for (const Observation& o : kObservations) {
    const std::vector<std::string_view> labels(o.labels.begin(), o.labels.end());
    group.ObserveAt(labels, o.now_ns, {o.seconds, o.bytes});
  }
  return registry;
}

TEST(HistogramGroupTest, ExposedAsTheSeparateFamiliesWouldBe) {
  MetricRegistry separate, grouped;
  Separate(separate);
  Grouped(grouped);
  for (ExpositionFormat format : {ExpositionFormat::kText004, ExpositionFormat::kOpenMetrics100}) {
    const std::string expected = prometheus::Render(separate.Collect(), format);
    EXPECT_NE(expected.find("size_bytes_bucket{route=\"/a\",pod=\"web-1\",le=\"1000.0\"} 1"),
              std::string::npos)
        << expected;
    EXPECT_EQ(prometheus::Render(grouped.Collect(), format), expected);
  }
}

TEST(HistogramGroupTest, IdleSeriesLeaveAsTheSeparateFamiliesWould) {
  MetricRegistry separate, grouped;
  Separate(separate);
  Grouped(grouped);
  // /b last used at 300, /a at 200, /c at 400; each member's series counts.
  EXPECT_EQ(grouped.RemoveIdleSeries(250), separate.RemoveIdleSeries(250));
  EXPECT_EQ(grouped.RemoveIdleSeries(350), 2u);
  EXPECT_EQ(separate.RemoveIdleSeries(350), 2u);
  const auto text = [](MetricRegistry& registry) {
    return prometheus::Render(registry.Collect(), ExpositionFormat::kText004);
  };
  EXPECT_EQ(text(grouped), text(separate));
  EXPECT_EQ(text(grouped).find("/b"), std::string::npos);
  EXPECT_NE(text(grouped).find("/c"), std::string::npos);
}

using HistogramGroupDeathTest = ::testing::Test;

TEST_F(HistogramGroupDeathTest, MisuseAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MetricRegistry registry;
  HistogramGroup& group = registry.AddHistogramGroup({"route"});
  registry.AddToGroup(group, "a", "", {1});
  EXPECT_DEATH(registry.AddToGroup(group, "a", "", {1}), "registered twice");
  EXPECT_DEATH(registry.AddToGroup(group, "b", "", {2, 1}), "strictly ascending");
  const std::vector<std::string_view> root = {"/"}, extra = {"/", "extra"};
  EXPECT_DEATH(group.ObserveAt(extra, 1, {1}), "takes 1 label values, got 2");
  EXPECT_DEATH(group.ObserveAt(root, 1, {1, 2}), "observes 2 values");
  group.ObserveAt(root, 1, {1});
  EXPECT_DEATH(registry.AddToGroup(group, "c", "", {1}), "after the first observation");
}

}  // namespace
}  // namespace infrared::telemetry
