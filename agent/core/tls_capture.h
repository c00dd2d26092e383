#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/logging.h"
#include "agent/loader/tls_probes.h"
#include "agent/telemetry/metric_registry.h"
#include "agent/telemetry/self_metrics.h"
#include "agent/tls/tls_targets.h"

namespace infrared::core {

// Finds the TLS libraries processes use and attaches the TLS probes to each
// file once: the host's libssl at start, then whatever a process maps or
// execs (node's OpenSSL, a Go binary, a container's own libssl), examined on a
// thread of its own so that the event loops never wait for ELF parsing.
class TlsCapture : public telemetry::Collector {
 public:
  TlsCapture(std::unique_ptr<loader::TlsProbes> probes, Logger& logger,
             telemetry::SelfMetrics& self, std::string proc_root = "/proc");
  ~TlsCapture() override;

  // Attaches to the libssl files at the host's usual library paths. Before Start.
  void AttachHostLibraries();
  // Examines the process now, on the calling thread. Before Start.
  void ExamineNow(std::uint32_t pid);
  // Queues the process for examination (any thread); a full queue drops it,
  // counted. `executable`, the path it exec'd, serves when the process is gone
  // by the time it is examined, so that the file's next process is covered.
  void Enqueue(std::uint32_t pid, std::string executable = "");

  void Start();
  void Stop();

  void Collect(std::vector<telemetry::MetricFamily>& out) override;

 private:
  void AttachLibrariesUnder(const std::string& root);
  // The number of new targets found.
  std::size_t Examine(std::uint32_t pid);
  void ExamineGoneExecutable(const std::string& executable);
  void AttachTarget(const tls::TlsTarget& target);
  void WorkLoop();

  std::unique_ptr<loader::TlsProbes> probes_;
  Logger& logger_;
  telemetry::SelfMetrics& self_;
  const std::string proc_root_;
  // The worker's (before Start: the caller's).
  tls::TlsTargetFinder finder_;
  std::set<std::pair<std::uint64_t, std::uint64_t>> attached_files_;  // (device, inode)
  // Executables of gone processes already resolved, oldest first (bounded).
  std::set<std::pair<std::uint64_t, std::uint64_t>> gone_resolved_;
  std::deque<std::pair<std::uint64_t, std::uint64_t>> gone_order_;

  std::mutex mutex_;  // guards what follows
  std::condition_variable wake_;
  struct Queued {
    std::uint32_t pid;
    std::string executable;
  };
  std::deque<Queued> queue_;
  bool stop_ = false;
  std::map<std::string, std::uint64_t> libraries_;  // files attached, by kind

  std::thread worker_;
};

}  // namespace infrared::core
