#include "agent/core/daemon.h"

#include <malloc.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <type_traits>

#include "agent/core/clock.h"
#include "agent/core/drop_report.h"
#include "agent/core/http_capture.h"
#include "agent/core/workloads.h"
#include "agent/genai/prices.h"
#include "agent/loader/process_probes.h"
#include "agent/loader/tracefs.h"
#include "agent/net/tcp_capture.h"
#include "agent/process/event_decoder.h"
#include "agent/process/proc_reader.h"
#include "agent/process/process_collector.h"
#include "agent/process/process_table.h"
#include "agent/telemetry/metric_registry.h"
#include "agent/telemetry/self_metrics.h"
#include "exporters/prometheus/http_endpoint.h"

#ifndef INFRARED_VERSION
#define INFRARED_VERSION "dev"
#endif

namespace infrared::core {
namespace {

constexpr int kPollTimeoutMs = 100;  // bounds how long a stop request waits
constexpr std::uint64_t kUpkeepIntervalNs = 1000000000;
constexpr std::uint64_t kTrimIntervalNs = 10000000000;
constexpr std::uint64_t kDropReportIntervalNs = 60000000000;  // a drop warning a minute at most

// Reports the kernel's own drop counters as infrared_dropped_total{stage="kernel"}.
class KernelDropCollector : public telemetry::Collector {
 public:
  explicit KernelDropCollector(loader::ProcessProbes& probes) : probes_(probes) {}
  void Collect(std::vector<telemetry::MetricFamily>& out) override {
    static constexpr const char* kReasons[INFRARED_DROP_COUNT] = {
        "ringbuf_full", "stats_map_full", "thread_map_full", "exec_strings"};
    out.push_back(telemetry::DroppedFamily("kernel", kReasons, probes_.Drops()));
  }

 private:
  loader::ProcessProbes& probes_;
};

// Applies one ring-buffer record to the process table.
class EventHandler {
 public:
  EventHandler(process::ProcessTable& table, const process::ProcReader& reader,
               telemetry::SelfMetrics& self, Logger& logger)
      : table_(table), reader_(reader), self_(self), logger_(logger) {}

  // Told of every exec once it exists (it looks for TLS libraries in them).
  void SetHttpCapture(HttpCapture* http) { http_ = http; }

  void operator()(const void* data, std::size_t size) {
    std::visit([this](const auto& event) { Handle(event); },
               process::DecodeProcessEvent(data, size));
  }

 private:
  void Handle(const process::ForkEvent& event) {
    self_.Event("process_fork");
    table_.OnFork(event, reader_);
    logger_.Debug("process", "fork", {{"pid", event.header.pid}, {"ppid", event.header.ppid}});
  }
  void Handle(const process::ExecEvent& event) {
    self_.Event("process_exec");
    table_.OnExec(event, reader_);
    if (HttpCapture* http = http_.load()) http->OnExec(event.header.pid, event.filename);
    logger_.Debug(
        "process", "exec",
        {{"pid", event.header.pid}, {"ppid", event.header.ppid}, {"filename", event.filename}});
  }
  void Handle(const process::ExitEvent& event) {
    self_.Event("process_exit");
    table_.OnExit(event);
    logger_.Debug(
        "process", "exit",
        {{"pid", event.header.pid}, {"exit_status", event.exit_code}, {"comm", event.header.comm}});
  }
  void Handle(process::DecodeError error) {
    self_.Dropped("ringbuf", process::DecodeErrorName(error));
  }

  process::ProcessTable& table_;
  const process::ProcReader& reader_;
  telemetry::SelfMetrics& self_;
  Logger& logger_;
  std::atomic<HttpCapture*> http_{nullptr};  // set on the main thread, read by the poller
};

// SIGINT and SIGTERM are blocked in every thread and taken by sigtimedwait on
// the main thread, so no handler runs in the middle of anything.
sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

int WaitForStopSignal(const sigset_t& signals) {
  for (;;) {
    int signal_number = sigwaitinfo(&signals, nullptr);
    if (signal_number > 0) return signal_number;
  }
}

// Series idle for metrics.series_idle_seconds leave; drops are logged at most
// once a minute.
void Upkeep(telemetry::MetricRegistry& registry, DropReport& drop_report, const Config& config,
            std::uint64_t now_ns) {
  const std::uint64_t idle_ns = std::uint64_t{config.metrics_series_idle_seconds} * 1000000000;
  if (idle_ns > 0 && now_ns > idle_ns) registry.RemoveIdleSeries(now_ns - idle_ns);
  if (drop_report.Due(now_ns)) drop_report.Update(registry.CollectDrops(), now_ns);
}

}  // namespace

int RunDaemon(const Config& config, Logger& logger) {
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::string error;
  if (!loader::EnsureTracefs(logger, error)) {
    logger.Error("loader", error);
    return 1;
  }

  telemetry::MetricRegistry registry;
  telemetry::SelfMetrics self(registry, INFRARED_VERSION);
  // Every drop series exists from the start, at 0, so that alerts on it work.
  for (const char* reason : {"table_full", "exited_not_scraped", "exit_event_missed"}) {
    self.Dropped("process_table", reason, 0);
  }
  for (auto decode_error : {process::DecodeError::kTruncated, process::DecodeError::kUnknownType,
                            process::DecodeError::kBadPid, process::DecodeError::kBadLength}) {
    self.Dropped("ringbuf", process::DecodeErrorName(decode_error), 0);
  }
  process::ProcReader reader;
  process::ProcessTable table(config.process_max_processes, [&self](const char* reason) {
    self.Dropped("process_table", reason);
  });
  Workloads workloads(config, logger, self);
  table.SetWorkloads(&workloads.Catalog(), &workloads.Selector());
  workloads.Start();
  EventHandler handler(table, reader, self, logger);

  prometheus::HttpEndpoint endpoint(registry, &self.scrape_duration());
  if (!endpoint.Start(config.web_listen_address, error)) {
    logger.Error("web", error);
    return 1;
  }

  std::unique_ptr<loader::ProcessProbes> probes = loader::ProcessProbes::Create(
      config, logger, [&handler](const void* data, std::size_t size) { handler(data, size); },
      error);
  if (!probes) {
    logger.Error("loader", error);
    endpoint.Stop();
    return 1;
  }
  for (const loader::ProbeStatus& probe : probes->Probes()) {
    self.ProbeAttached(probe.name, probe.attached);
  }
  std::unique_ptr<OtlpExport> otlp = OtlpExport::Create(config, logger, error);
  if (!otlp && !error.empty()) {
    logger.Error("otlp", error);
    endpoint.Stop();
    return 2;
  }
  if (otlp) {
    registry.AddCollector(otlp.get());
    otlp->Start();
  }
  std::unique_ptr<HttpCapture> http;
  if (config.http_enabled && config.genai_enabled &&
      !genai::LoadPrices(config.genai_prices_file, error)) {
    logger.Error("config", error);
    endpoint.Stop();
    return 2;
  }
  if (config.http_enabled) {
    http = HttpCapture::Create(config, logger, registry, self, table, otlp.get(), error);
    if (!http) {
      logger.Error("http", error);
      endpoint.Stop();
      return 1;
    }
    for (const loader::ProbeStatus& probe : http->Probes()) {
      self.ProbeAttached(probe.name, probe.attached);
    }
    registry.AddCollector(http.get());
    handler.SetHttpCapture(http.get());
  }
  // TCP telemetry degrades alone: without it the rest goes on.
  std::unique_ptr<net::TcpCapture> tcp;
  if (config.tcp_enabled) {
    tcp = net::TcpCapture::Create(
        logger, self, table, std::uint64_t{config.metrics_series_idle_seconds} * 1'000'000'000,
        error);
  }
  if (tcp) {
    for (const loader::ProbeStatus& probe : tcp->Probes()) {
      self.ProbeAttached(probe.name, probe.attached);
    }
    registry.AddCollector(tcp.get());
    tcp->Start();
  } else if (config.tcp_enabled) {
    logger.Error("tcp", error);
  }
  KernelDropCollector kernel_drops(*probes);
  process::ProcessCollector process_collector(table, *probes);
  registry.AddCollector(&process_collector);
  registry.AddCollector(&kernel_drops);

  // Probes are attached before the seed, so that nothing born in between is
  // missed; events about seeded processes are applied on top.
  std::size_t seeded = table.Rescan(reader);
  if (http) {
    table.ForEachLive([&](const process::ProcessEntry& entry) {
      http->OnProcess(entry.pid, entry.executable_name);
    });
    http->Start();
  }
  endpoint.SetReady(true);
  logger.Info("agent", "ready",
              {{"port", endpoint.Port()}, {"processes", seeded}, {"version", INFRARED_VERSION}});

  std::atomic<bool> stop{false};
  DropReport drop_report(logger, kDropReportIntervalNs);
  std::thread poller([&] {
    const auto interval = std::chrono::seconds(config.process_rescan_interval_seconds);
    auto next_rescan = std::chrono::steady_clock::now() + interval;
    std::uint64_t next_upkeep = 0;
    std::uint64_t next_trim = 0;
    while (!stop.load()) {
      const std::uint64_t now = MonotonicToUnix::NowMonotonicNs();
      if (now >= next_upkeep) {
        Upkeep(registry, drop_report, config, now);
        next_upkeep = now + kUpkeepIntervalNs;
      }
      if (now >= next_trim) {
        // A scrape after a burst of exited processes, or a storm of scrapes,
        // leaves freed memory in malloc's arenas: give it back.
        malloc_trim(0);
        next_trim = now + kTrimIntervalNs;
      }
      int handled = probes->Poll(kPollTimeoutMs);
      if (handled < 0 && handled != -EINTR) {
        logger.Error("loader", "polling the process ring buffer failed", {{"errno", -handled}});
        std::this_thread::sleep_for(std::chrono::milliseconds(kPollTimeoutMs));
      }
      if (std::chrono::steady_clock::now() >= next_rescan) {
        table.Rescan(reader);
        next_rescan = std::chrono::steady_clock::now() + interval;
      }
    }
  });

  int signal_number = WaitForStopSignal(signals);
  logger.Info("agent", "stopping", {{"signal", signal_number == SIGINT ? "SIGINT" : "SIGTERM"}});
  stop = true;
  poller.join();
  handler.SetHttpCapture(nullptr);
  if (http) http->Stop();  // hands its last spans to the exporter
  if (otlp) otlp->Shutdown();
  endpoint.Stop();
  http.reset();
  if (tcp) tcp->Stop();
  probes.reset();  // detaches every probe
  workloads.Stop();
  logger.Info("agent", "stopped");
  return 0;
}

}  // namespace infrared::core
