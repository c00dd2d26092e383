#include "agent/core/drop_report.h"

#include <cmath>

namespace infrared::core {
namespace {

const std::string* LabelValue(const telemetry::Labels& labels, const char* name) {
  for (const telemetry::Label& label : labels) {
    if (label.name == name) return &label.value;
  }
  return nullptr;
}

}  // namespace

DropReport::DropReport(Logger& logger, std::uint64_t interval_ns)
    : logger_(logger), interval_ns_(interval_ns) {}

bool DropReport::Update(const std::vector<telemetry::MetricFamily>& families,
                        std::uint64_t now_ns) {
  if (!Due(now_ns)) return false;
  std::map<std::pair<std::string, std::string>, double> totals;
  for (const telemetry::MetricFamily& family : families) {
    if (family.name != telemetry::kDroppedFamily) continue;
    for (const telemetry::Sample& sample : family.samples) {
      const std::string* stage = LabelValue(sample.labels, "stage");
      const std::string* reason = LabelValue(sample.labels, "reason");
      if (stage && reason) totals[{*stage, *reason}] += sample.value;
    }
  }
  std::string grown;
  double lost = 0;
  for (const auto& [key, total] : totals) {
    auto last = reported_.find(key);
    const double delta = total - (last == reported_.end() ? 0 : last->second);
    if (!(delta > 0)) continue;
    if (!grown.empty()) grown += ' ';
    grown += key.first + '/' + key.second + '=' + std::to_string(std::llround(delta));
    lost += delta;
  }
  reported_ = std::move(totals);
  if (grown.empty()) return false;
  logger_.Warn("agent", "data was dropped; see infrared_dropped_total",
               {{"dropped", static_cast<std::uint64_t>(std::llround(lost))},
                {"by_stage_reason", grown},
                {"interval_seconds", static_cast<std::uint64_t>(interval_ns_ / 1000000000)}});
  next_ns_ = now_ns + interval_ns_;
  return true;
}

}  // namespace infrared::core
