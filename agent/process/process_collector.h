#pragma once

#include <cstdint>
#include <optional>

#include "agent/process/process_table.h"
#include "agent/telemetry/metric_registry.h"
#include "infrared/abi/process.h"

namespace infrared::process {

// Where the kernel's per-process figures are read from (the proc_stats map).
class KernelStats {
 public:
  virtual ~KernelStats() = default;
  // The kernel's figures for a live process, nullopt when it has none yet.
  virtual std::optional<infrared_proc_stats> Lookup(std::uint32_t pid) = 0;
};

// The per-process figures as exported, merged from kernel and /proc.
struct ProcessFigures {
  double cpu_seconds = 0;
  std::uint64_t voluntary_switches = 0;
  std::uint64_t involuntary_switches = 0;
  std::uint64_t page_faults = 0;
  std::uint64_t rss_bytes = 0;
  std::uint64_t vm_bytes = 0;
};

// Kernel figures where the kernel has them, else the /proc baseline; counters
// are held monotonic through entry.reported_*.
ProcessFigures MergeFigures(ProcessEntry& entry, const std::optional<infrared_proc_stats>& kernel);

// The process_* families, read at scrape time. Every process appears with its
// pid, executable, parent and service name; an exited process appears in one
// more scrape with its final figures and is then forgotten.
class ProcessCollector : public telemetry::Collector {
 public:
  ProcessCollector(ProcessTable& table, KernelStats& kernel);
  void Collect(std::vector<telemetry::MetricFamily>& out) override;
  // None: its losses are counted in the registry. (Collect hands exited
  // processes over once: it must run for scrapes only.)
  void CollectDrops(std::vector<telemetry::MetricFamily>&) override {}

 private:
  ProcessTable& table_;
  KernelStats& kernel_;
};

}  // namespace infrared::process
