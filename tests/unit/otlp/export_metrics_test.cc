#include "exporters/otlp/export_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace infrared::otlp {
namespace {

using telemetry::MetricFamily;
using telemetry::MetricType;

ExportCounters Distinct() {
  ExportCounters counters;
  counters.exported = 101;
  counters.failed = 7;
  counters.retried = 13;
  counters.dropped_queue_full = 29;
  counters.dropped_shutdown = 3;
  counters.rejected = 5;
  counters.unreadable_responses = 2;
  return counters;
}

const MetricFamily* Find(const std::vector<MetricFamily>& families, const std::string& name) {
  const MetricFamily* found = nullptr;
  for (const MetricFamily& family : families) {
    if (family.name == name) {
      EXPECT_EQ(found, nullptr) << name << " appears twice";
      found = &family;
    }
  }
  return found;
}

// {"label=value,...": value} of a counter or gauge family.
std::map<std::string, double> Samples(const MetricFamily& family) {
  std::map<std::string, double> out;
  for (const telemetry::Sample& sample : family.samples) {
    std::string key;
    for (const telemetry::Label& label : sample.labels) {
      if (!key.empty()) key += ',';
      key += label.name + '=' + label.value;
    }
    EXPECT_EQ(out.count(key), 0u) << key;
    out[key] = sample.value;
  }
  return out;
}

TEST(ExportMetricsTest, EveryLossIsADropWithItsReason) {
  const MetricFamily family = OtlpDroppedFamily(Distinct());
  EXPECT_EQ(family.name, telemetry::kDroppedFamily);
  EXPECT_EQ(family.type, MetricType::kCounter);
  EXPECT_EQ(Samples(family), (std::map<std::string, double>{
                                 {"stage=otlp,reason=queue_full", 29},
                                 {"stage=otlp,reason=shutdown", 3},
                                 {"stage=otlp,reason=export_failed", 7},
                                 {"stage=otlp,reason=rejected", 5},
                             }));
}

TEST(ExportMetricsTest, ReportsOutcomesRetriesUnreadableAnswersQueueAndDrops) {
  std::vector<MetricFamily> families;
  AppendExportMetrics(Distinct(), 17, families);
  ASSERT_EQ(families.size(), 5u);

  const MetricFamily* spans = Find(families, "infrared_otlp_spans");
  ASSERT_NE(spans, nullptr);
  EXPECT_EQ(spans->type, MetricType::kCounter);
  EXPECT_EQ(Samples(*spans),
            (std::map<std::string, double>{
                {"outcome=exported", 101}, {"outcome=failed", 7}, {"outcome=rejected", 5}}));
  const MetricFamily* retries = Find(families, "infrared_otlp_retries");
  ASSERT_NE(retries, nullptr);
  EXPECT_EQ(retries->type, MetricType::kCounter);
  EXPECT_EQ(Samples(*retries), (std::map<std::string, double>{{"", 13}}));
  const MetricFamily* unreadable = Find(families, "infrared_otlp_unreadable_responses");
  ASSERT_NE(unreadable, nullptr);
  EXPECT_EQ(unreadable->type, MetricType::kCounter);
  EXPECT_EQ(Samples(*unreadable), (std::map<std::string, double>{{"", 2}}));
  const MetricFamily* queue = Find(families, "infrared_otlp_queue_spans");
  ASSERT_NE(queue, nullptr);
  EXPECT_EQ(queue->type, MetricType::kGauge);
  EXPECT_EQ(Samples(*queue), (std::map<std::string, double>{{"", 17}}));
  const MetricFamily* dropped = Find(families, telemetry::kDroppedFamily);
  ASSERT_NE(dropped, nullptr);
  EXPECT_EQ(Samples(*dropped), Samples(OtlpDroppedFamily(Distinct())));
  for (const MetricFamily& family : families) {
    // The dropped family takes its help from the registry's own.
    if (family.name != telemetry::kDroppedFamily) {
      EXPECT_FALSE(family.help.empty()) << family.name;
    }
  }
}

TEST(ExportMetricsTest, AFreshExporterReportsZeroes) {
  std::vector<MetricFamily> families;
  AppendExportMetrics(ExportCounters{}, 0, families);
  for (const MetricFamily& family : families) {
    for (const telemetry::Sample& sample : family.samples) {
      EXPECT_EQ(sample.value, 0) << family.name;
    }
  }
  EXPECT_EQ(Samples(*Find(families, telemetry::kDroppedFamily)).size(), 4u);
}

}  // namespace
}  // namespace infrared::otlp
