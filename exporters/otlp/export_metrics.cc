#include "exporters/otlp/export_metrics.h"

#include <cstdint>
#include <utility>

#include "agent/telemetry/self_metrics.h"

namespace infrared::otlp {
namespace {

telemetry::MetricFamily Counter(const char* name, const char* help,
                                std::vector<telemetry::Sample> samples) {
  telemetry::MetricFamily family;
  family.name = name;
  family.help = help;
  family.type = telemetry::MetricType::kCounter;
  family.samples = std::move(samples);
  return family;
}

}  // namespace

telemetry::MetricFamily OtlpDroppedFamily(const ExportCounters& counters) {
  static constexpr const char* kReasons[] = {"queue_full", "shutdown", "export_failed", "rejected"};
  const std::uint64_t dropped[] = {counters.dropped_queue_full, counters.dropped_shutdown,
                                   counters.failed, counters.rejected};
  return telemetry::DroppedFamily("otlp", kReasons, dropped);
}

void AppendExportMetrics(const ExportCounters& counters, std::size_t queued,
                         std::vector<telemetry::MetricFamily>& out) {
  out.push_back(Counter("infrared_otlp_spans", "Spans handed to the OTLP receiver, by outcome.",
                        {{{{"outcome", "exported"}}, double(counters.exported)},
                         {{{"outcome", "failed"}}, double(counters.failed)},
                         {{{"outcome", "rejected"}}, double(counters.rejected)}}));
  out.push_back(
      Counter("infrared_otlp_retries",
              "Export requests sent again after a retryable failure (429, 502-504, no answer).",
              {{{}, double(counters.retried)}}));
  out.push_back(Counter("infrared_otlp_unreadable_responses",
                        "Export requests answered 2xx with a body that is not an "
                        "ExportTraceServiceResponse; their spans count as exported.",
                        {{{}, double(counters.unreadable_responses)}}));

  telemetry::MetricFamily queue;
  queue.name = "infrared_otlp_queue_spans";
  queue.help = "Spans waiting to be exported.";
  queue.type = telemetry::MetricType::kGauge;
  queue.samples = {{{}, double(queued)}};
  out.push_back(std::move(queue));

  out.push_back(OtlpDroppedFamily(counters));
}

}  // namespace infrared::otlp
