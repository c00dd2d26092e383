#include "agent/core/otlp_export.h"

#include <cstdlib>

#include "agent/telemetry/self_metrics.h"
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
  std::unique_ptr<OtlpExport> exporter(new OtlpExport());
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
              {{"url", exporter->url_}, {"compression", transport.gzip ? "gzip" : "none"}});
  return exporter;
}

OtlpExport::~OtlpExport() {
  if (exporter_) exporter_->Shutdown();
}

void OtlpExport::Collect(std::vector<telemetry::MetricFamily>& out) {
  const otlp::ExportCounters counters = exporter_->Counters();
  telemetry::MetricFamily spans;
  spans.name = "infrared_otlp_spans";
  spans.help = "Spans handed to the OTLP receiver, by outcome.";
  spans.type = telemetry::MetricType::kCounter;
  spans.samples = {{{{"outcome", "exported"}}, double(counters.exported)},
                   {{{"outcome", "failed"}}, double(counters.failed)},
                   {{{"outcome", "rejected"}}, double(counters.rejected)}};
  out.push_back(std::move(spans));

  telemetry::MetricFamily retries;
  retries.name = "infrared_otlp_retries";
  retries.help = "Export requests sent again after a retryable failure (429, 502-504, no answer).";
  retries.type = telemetry::MetricType::kCounter;
  retries.samples = {{{}, double(counters.retried)}};
  out.push_back(std::move(retries));

  telemetry::MetricFamily queued;
  queued.name = "infrared_otlp_queue_spans";
  queued.help = "Spans waiting to be exported.";
  queued.type = telemetry::MetricType::kGauge;
  queued.samples = {{{}, double(exporter_->QueueSize())}};
  out.push_back(std::move(queued));

  static constexpr const char* kReasons[] = {"queue_full", "shutdown"};
  const std::uint64_t dropped[] = {counters.dropped_queue_full, counters.dropped_shutdown};
  out.push_back(telemetry::DroppedFamily("otlp", kReasons, dropped));
}

}  // namespace infrared::core
