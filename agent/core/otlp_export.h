#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/core/config.h"
#include "agent/core/logging.h"
#include "agent/telemetry/metric_registry.h"
#include "agent/telemetry/span.h"
#include "exporters/otlp/batch_exporter.h"
#include "exporters/otlp/curl_transport.h"
#include "exporters/otlp/env_config.h"

namespace infrared::core {

// The OTLP/HTTP settings: the OTEL_EXPORTER_OTLP_* environment, then the
// otlp.* config keys that are set. False with a sentence in `error` when a
// value is unusable.
bool ResolveOtlpSettings(const Config& config,
                         const std::function<const char*(const char*)>& getenv,
                         otlp::OtlpSettings& settings, std::string& error);

// Spans to an OTLP/HTTP receiver: a bounded queue, batches, retries, and the
// infrared_otlp_* self-metrics.
class OtlpExport : public telemetry::Collector {
 public:
  // nullptr with an empty `error` when no endpoint is configured anywhere;
  // nullptr with a sentence when the settings are unusable.
  static std::unique_ptr<OtlpExport> Create(const Config& config, Logger& logger,
                                            std::string& error);
  ~OtlpExport() override;

  // Never blocks; a full queue drops the span (counted).
  void Offer(telemetry::Span span) { exporter_->Offer(std::move(span)); }
  void Start() { exporter_->Start(); }
  // Sends what is queued, within the exporter's shutdown timeout, then logs
  // what became of every span offered ("otlp stopped"). Idempotent.
  void Shutdown();
  const std::string& url() const { return url_; }

  void Collect(std::vector<telemetry::MetricFamily>& out) override;
  void CollectDrops(std::vector<telemetry::MetricFamily>& out) override;

 private:
  explicit OtlpExport(Logger& logger) : logger_(logger) {}

  Logger& logger_;
  std::once_flag stopped_;
  std::string url_;
  std::unique_ptr<otlp::CurlTransport> transport_;
  std::unique_ptr<otlp::BatchExporter> exporter_;
};

}  // namespace infrared::core
