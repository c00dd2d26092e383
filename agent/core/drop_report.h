#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "agent/core/logging.h"
#include "agent/telemetry/metric_family.h"

namespace infrared::core {

// Says in the log that data was lost: one warning at most per interval,
// naming each infrared_dropped_total{stage,reason} that grew since the last
// warning and by how much. Silent while nothing is dropped.
class DropReport {
 public:
  DropReport(Logger& logger, std::uint64_t interval_ns);

  // `families`: the infrared_dropped families now (MetricRegistry::CollectDrops);
  // `now_ns`: a monotonic clock. True when it logged a line.
  bool Update(const std::vector<telemetry::MetricFamily>& families, std::uint64_t now_ns);
  // Whether Update would look at the counters at `now_ns` (saves collecting them).
  bool Due(std::uint64_t now_ns) const { return now_ns >= next_ns_; }

 private:
  Logger& logger_;
  std::uint64_t interval_ns_;
  std::uint64_t next_ns_ = 0;
  std::map<std::pair<std::string, std::string>, double> reported_;  // totals at the last line
};

}  // namespace infrared::core
