#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/config.h"
#include "agent/core/logging.h"
#include "agent/loader/bpf_util.h"
#include "agent/process/process_collector.h"
#include "infrared/abi/process.h"

struct process_bpf;

namespace infrared::loader {

// Owns the process BPF object: opens, sizes, loads and attaches it, polls its
// ring buffer and reads its maps. Detaches and frees everything on destruction.
class ProcessProbes : public process::KernelStats {
 public:
  using RecordFn = RingReader::RecordFn;

  // Loads and attaches. nullptr with `error` set (one sentence) when the object
  // cannot be loaded at all; a probe that cannot attach is only logged and
  // reported in Probes().
  static std::unique_ptr<ProcessProbes> Create(const core::Config& config, core::Logger& logger,
                                               RecordFn on_record, std::string& error);
  ~ProcessProbes() override;
  ProcessProbes(const ProcessProbes&) = delete;
  ProcessProbes& operator=(const ProcessProbes&) = delete;

  const std::vector<ProbeStatus>& Probes() const { return probes_; }

  // Waits up to timeout_ms for records and hands each to on_record. Returns the
  // number handled, or a negative errno.
  int Poll(int timeout_ms);

  std::optional<infrared_proc_stats> Lookup(std::uint32_t pid) override;

  // Kernel-side drop counters, summed over CPUs, indexed by infrared_process_drop.
  std::array<std::uint64_t, INFRARED_DROP_COUNT> Drops() const;

 private:
  ProcessProbes(process_bpf* skeleton, RecordFn on_record);
  bool Attach(core::Logger& logger);

  process_bpf* skeleton_;
  std::unique_ptr<RingReader> ring_;
  std::vector<ProbeStatus> probes_;
  std::vector<bpf_link**> links_;
};

}  // namespace infrared::loader
