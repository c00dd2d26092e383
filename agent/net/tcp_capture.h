#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/logging.h"
#include "agent/loader/tcp_probes.h"
#include "agent/net/tcp_fold.h"
#include "agent/process/process_table.h"
#include "agent/telemetry/metric_registry.h"
#include "agent/telemetry/self_metrics.h"

namespace infrared::net {

// TCP telemetry end to end: the TCP probes, a thread that folds their records,
// and the tcp_* families (plus the kernel's TCP drop counters) at scrape.
class TcpCapture : public telemetry::Collector {
 public:
  // nullptr with `error` set when the probes cannot be loaded or attached.
  // `series_idle_ns`: TcpFolder::Limits::series_idle_ns.
  static std::unique_ptr<TcpCapture> Create(core::Logger& logger, telemetry::SelfMetrics& self,
                                            process::ProcessTable& table,
                                            std::uint64_t series_idle_ns, std::string& error);
  ~TcpCapture() override;

  const std::vector<loader::ProbeStatus>& Probes() const { return probes_->Probes(); }

  // Starts and stops the thread that drains the ring buffer.
  void Start();
  void Stop();

  void Collect(std::vector<telemetry::MetricFamily>& out) override;
  // Its drop counters only: Collect folds records and ages sockets.
  void CollectDrops(std::vector<telemetry::MetricFamily>& out) override;

 private:
  TcpCapture(telemetry::SelfMetrics& self, process::ProcessTable& table,
             std::uint64_t series_idle_ns);
  void OnRecord(const void* data, std::size_t size);
  void DropsLocked(std::vector<telemetry::MetricFamily>& out);

  telemetry::SelfMetrics& self_;
  std::mutex mutex_;  // guards folder_ and the ring buffer reader
  TcpFolder folder_;
  std::unique_ptr<loader::TcpProbes> probes_;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

}  // namespace infrared::net
