#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "agent/telemetry/metric_registry.h"

namespace infrared::telemetry {

// infrared_dropped_total samples for counters kept outside the registry (in
// the kernel, in an exporter): reasons[i] is counted by counts[i].
MetricFamily DroppedFamily(const std::string& stage, std::span<const char* const> reasons,
                           std::span<const std::uint64_t> counts);

// The agent's report on itself: infrared_* families.
class SelfMetrics {
 public:
  SelfMetrics(MetricRegistry& registry, const std::string& version);

  // `library`: the file a uprobe is in (empty for kernel probes).
  void ProbeAttached(const std::string& probe, bool attached, const std::string& library = "");
  // Counts one event from `source` ("process_exec", ...).
  void Event(const std::string& source);
  // The counter of `source`, to keep on hot paths.
  Counter& EventCounter(const std::string& source) { return events_.WithLabels({source}); }
  // Counts `count` items lost at `stage` for `reason`.
  void Dropped(const std::string& stage, const std::string& reason, double count = 1);

  HistogramFamily& scrape_duration() { return scrape_duration_; }

 private:
  GaugeFamily& build_info_;
  GaugeFamily& probe_attached_;
  CounterFamily& events_;
  CounterFamily& dropped_;
  HistogramFamily& scrape_duration_;
};

}  // namespace infrared::telemetry
