#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace infrared::telemetry {

// A point-in-time copy of one metric family, the unit of exchange between the
// registry (and scrape-time collectors) and the exposition formats.

enum class MetricType { kCounter, kGauge, kHistogram };

// infrared_dropped_total{stage,reason}: every loss, wherever it happens.
inline constexpr const char* kDroppedFamily = "infrared_dropped";

struct Label {
  std::string name;
  std::string value;
};
using Labels = std::vector<Label>;

// One counter or gauge series.
struct Sample {
  Labels labels;
  double value = 0;
};

// One histogram series. bucket_counts[i] counts observations <= bucket_bounds[i]
// and > bucket_bounds[i-1] (NOT cumulative); the last element counts observations
// above the highest bound, so bucket_counts.size() == bucket_bounds.size() + 1.
struct HistogramSample {
  Labels labels;
  std::vector<std::uint64_t> bucket_counts;
  double sum = 0;
  std::uint64_t count = 0;
};

struct MetricFamily {
  // For counters the name WITHOUT the "_total" suffix: the exposition adds it
  // (OpenMetrics names the family without it, text 0.0.4 with it).
  std::string name;
  std::string help;
  // "seconds", "bytes" or empty. When set, the name ends with "_<unit>".
  std::string unit;
  MetricType type = MetricType::kGauge;
  std::vector<double> bucket_bounds;  // histograms only, ascending, finite
  std::vector<Sample> samples;        // counters and gauges
  std::vector<HistogramSample> histograms;
};

}  // namespace infrared::telemetry
