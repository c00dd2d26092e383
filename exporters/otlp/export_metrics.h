#pragma once

#include <cstddef>
#include <vector>

#include "agent/telemetry/metric_family.h"
#include "exporters/otlp/batch_exporter.h"

namespace infrared::otlp {

// infrared_dropped_total{stage="otlp"}: spans refused by a full queue or after
// shutdown began, given up by the exporter (export_failed) and refused by the
// receiver in a partial success (rejected).
telemetry::MetricFamily OtlpDroppedFamily(const ExportCounters& counters);

// Every family the exporter reports (infrared_otlp_* and the one above), from
// a snapshot of its counters and the spans queued now.
void AppendExportMetrics(const ExportCounters& counters, std::size_t queued,
                         std::vector<telemetry::MetricFamily>& out);

}  // namespace infrared::otlp
