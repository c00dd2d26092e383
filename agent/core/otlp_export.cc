#include "agent/core/otlp_export.h"

#include <cstdint>
#include <cstdlib>

#include "exporters/otlp/export_metrics.h"
#include "exporters/otlp/span_encoder.h"

#ifndef INFRARED_VERSION
#define INFRARED_VERSION "dev"
#endif

namespace infrared::core {

bool ResolveOtlpSettings(const Config& config,
                         const std::function<const char*(const char*)>& getenv,
                         otlp::OtlpSettings& settings, std::string& error) {
  if (!otlp::ApplyOtelEnvironment(getenv, settings, error)) return false;
  if (!config.otlp_endpoint.empty()) {
    settings.endpoint = config.otlp_endpoint;
    // A configured base wins over a traces URL that came from the environment.
    if (config.otlp_traces_endpoint.empty()) settings.traces_endpoint.clear();
  }
  if (!config.otlp_traces_endpoint.empty()) settings.traces_endpoint = config.otlp_traces_endpoint;
  if (!config.otlp_headers.empty()) {
    settings.headers.clear();
    for (const std::string& pair : config.otlp_headers) {
      std::size_t equals = pair.find('=');
      settings.headers.emplace_back(pair.substr(0, equals), pair.substr(equals + 1));
    }
  }
  if (config.otlp_timeout_ms != 0) {
    settings.timeout = std::chrono::milliseconds(config.otlp_timeout_ms);
  }
  if (!config.otlp_compression.empty()) settings.compression = config.otlp_compression;
  if (!config.otlp_ca_file.empty()) settings.ca_file = config.otlp_ca_file;
  return true;
}

std::unique_ptr<OtlpExport> OtlpExport::Create(const Config& config, Logger& logger,
                                               std::string& error) {
  otlp::OtlpSettings settings;
  if (!ResolveOtlpSettings(config, std::getenv, settings, error)) return nullptr;
  std::unique_ptr<OtlpExport> exporter(new OtlpExport(logger));
  exporter->url_ = otlp::TracesUrl(settings);
  if (exporter->url_.empty()) return nullptr;  // not configured: no export

  otlp::CurlTransportOptions transport;
  transport.url = exporter->url_;
  transport.headers = settings.headers;
  transport.timeout = settings.timeout;
  transport.gzip = settings.compression == "gzip";
  transport.ca_file = settings.ca_file;
  transport.user_agent = std::string("infrared/") + INFRARED_VERSION;
  exporter->transport_ = otlp::CurlTransport::Create(std::move(transport), error);
  if (!exporter->transport_) return nullptr;

  otlp::BatchOptions options;
  options.queue_capacity = config.otlp_queue_size;
  options.max_batch = config.otlp_max_batch;
  options.max_delay = std::chrono::milliseconds(config.otlp_max_delay_ms);
  const otlp::ScopeInfo scope{"infrared", INFRARED_VERSION};
  exporter->exporter_ = std::make_unique<otlp::BatchExporter>(
      options, *exporter->transport_,
      [scope](const std::vector<telemetry::Span>& spans) {
        return otlp::SerializeRequest(otlp::EncodeSpans(spans, scope));
      },
      otlp::ParsePartialSuccess);
  logger.Info("otlp", "exporting spans",
              {{"url", exporter->url_},
               {"compression", transport.gzip ? "gzip" : "none"},
               {"timeout_ms", static_cast<std::int64_t>(settings.timeout.count())}});
  return exporter;
}

OtlpExport::~OtlpExport() {
  if (exporter_) Shutdown();
}

void OtlpExport::Shutdown() {
  exporter_->Shutdown();
  std::call_once(stopped_, [this] {
    const otlp::ExportCounters c = exporter_->Counters();
    logger_.Info("otlp", "stopped",
                 {{"exported", c.exported},
                  {"export_failed", c.failed},
                  {"rejected", c.rejected},
                  {"queue_full", c.dropped_queue_full},
                  {"shutdown", c.dropped_shutdown},
                  {"retries", c.retried},
                  {"unreadable_responses", c.unreadable_responses},
                  {"last_error", exporter_->LastError()}});
  });
}

void OtlpExport::Collect(std::vector<telemetry::MetricFamily>& out) {
  otlp::AppendExportMetrics(exporter_->Counters(), exporter_->QueueSize(), out);
}

void OtlpExport::CollectDrops(std::vector<telemetry::MetricFamily>& out) {
  out.push_back(otlp::OtlpDroppedFamily(exporter_->Counters()));
}

}  // namespace infrared::core
