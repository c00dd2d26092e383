#include "agent/telemetry/self_metrics.h"

namespace infrared::telemetry {

MetricFamily DroppedFamily(const std::string& stage, std::span<const char* const> reasons,
                           std::span<const std::uint64_t> counts) {
  MetricFamily family;
  family.name = kDroppedFamily;
  family.type = MetricType::kCounter;
  for (std::size_t i = 0; i < reasons.size() && i < counts.size(); ++i) {
    family.samples.push_back(
        {{{"stage", stage}, {"reason", reasons[i]}}, static_cast<double>(counts[i])});
  }
  return family;
}

SelfMetrics::SelfMetrics(MetricRegistry& registry, const std::string& version)
    : build_info_(registry.AddGauge("infrared_build_info",
                                    "Always 1; the labels name the agent's version.", {"version"})),
      probe_attached_(registry.AddGauge("infrared_probe_attached",
                                        "1 when the probe is attached, 0 when it could not be; library names the file of a TLS "
                                        "library probe.",
                                        {"probe", "library"})),
      events_(registry.AddCounter("infrared_events", "Events received from the kernel, by source.",
                                  {"source"})),
      dropped_(registry.AddCounter(
          kDroppedFamily,
          "Items lost, by the stage that lost them and why. Zero is the only good value.",
          {"stage", "reason"})),
      scrape_duration_(registry.AddHistogram(
          "infrared_scrape_duration_seconds",
          "Time taken to render one /metrics response, by exposition format.", {"format"},
          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}, "seconds")) {
  build_info_.WithLabels({version}).Set(1);
}

void SelfMetrics::ProbeAttached(const std::string& probe, bool attached,
                                const std::string& library) {
  probe_attached_.WithLabels({probe, library}).Set(attached ? 1 : 0);
}

void SelfMetrics::Event(const std::string& source) { events_.WithLabels({source}).Inc(); }

void SelfMetrics::Dropped(const std::string& stage, const std::string& reason, double count) {
  dropped_.WithLabels({stage, reason}).Inc(count);
}

}  // namespace infrared::telemetry
