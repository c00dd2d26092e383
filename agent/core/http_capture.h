#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/config.h"
#include "agent/core/exchange_pipeline.h"
#include "agent/core/logging.h"
#include "agent/core/otlp_export.h"
#include "agent/core/tls_capture.h"
#include "agent/loader/sock_probes.h"
#include "agent/net/conn_tracker.h"
#include "agent/process/process_table.h"
#include "agent/telemetry/metric_registry.h"
#include "agent/telemetry/self_metrics.h"
#include "agent/telemetry/span_queue.h"
#include "exporters/console/span_writer.h"

namespace infrared::core {

// HTTP/1.x over plain TCP, end to end: the socket probes, the connection
// tracker and parsers on a thread of their own, HTTP metrics, and spans handed
// by a second thread to the console writer and the OTLP exporter.
class HttpCapture : public net::ConnDecisions, public telemetry::Collector {
 public:
  // nullptr with `error` set when the probes cannot be loaded, a route pattern
  // is invalid or the span output cannot be opened.
  static std::unique_ptr<HttpCapture> Create(const Config& config, Logger& logger,
                                             telemetry::MetricRegistry& registry,
                                             telemetry::SelfMetrics& self,
                                             process::ProcessTable& table, OtlpExport* otlp,
                                             std::string& error);
  ~HttpCapture() override;

  const std::vector<loader::ProbeStatus>& Probes() const { return probes_->Probes(); }

  // Starts the event and span threads.
  void Start();
  // Stops both threads; spans still queued are written first.
  void Stop();

  // A process that existed before the agent: selects it by its executable
  // name (the kernel selects those that start later, at exec and fork), and
  // looks for TLS libraries in it. Before Start.
  void OnProcess(std::uint32_t pid, const std::string& executable_name);
  // A process exec'd: its executable may carry a TLS library (node, Go).
  void OnExec(std::uint32_t pid, const std::string& filename);

  void Skip(const net::ConnId& conn) override;
  void CountOnly(const net::ConnId& conn) override;
  void FollowClosely(const net::ConnId& conn) override;
  void Collect(std::vector<telemetry::MetricFamily>& out) override;

 private:
  HttpCapture(const Config& config, Logger& logger, telemetry::SelfMetrics& self);
  void PollLoop();
  void ExportLoop();

  const Config config_;
  Logger& logger_;
  telemetry::SelfMetrics& self_;
  std::unordered_set<std::string> selected_executables_;
  MonotonicToUnix to_unix_;
  telemetry::RandomIdGenerator ids_;
  std::unique_ptr<telemetry::SpanQueue> spans_;
  std::unique_ptr<console::SpanWriter> writer_;
  OtlpExport* otlp_ = nullptr;
  std::unique_ptr<ExchangePipeline> pipeline_;
  std::unique_ptr<loader::SockProbes> probes_;
  std::unique_ptr<TlsCapture> tls_;  // after probes_: goes first, its maps are shared
  std::atomic<bool> stop_{false};
  // Written by the poller, read by scrapes.
  std::atomic<std::size_t> tracked_connections_{0};
  std::atomic<std::size_t> idle_connections_{0};
  std::atomic<std::uint64_t> http_connections_{0};
  std::atomic<std::uint64_t> not_http_connections_{0};
  std::atomic<std::uint64_t> garbage_bytes_{0};
  // The kernel's count of requests on connections refused a place, as last
  // handed on to conn_tracker/request_untracked (poller only).
  std::uint64_t untracked_requests_ = 0;
  std::thread poller_;
  std::thread exporter_;
};

}  // namespace infrared::core
