#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "agent/process/event_decoder.h"
#include "agent/process/pod_catalog.h"
#include "agent/process/process_identity.h"
#include "agent/process/proc_reader.h"
#include "agent/process/selection.h"
#include "infrared/abi/process.h"

namespace infrared::process {

// What /proc said of a process when the agent first met it; used until (and,
// for page faults, added to what) the kernel counts.
struct Baseline {
  std::uint64_t cpu_ns = 0;
  std::uint64_t faults = 0;
  ProcStatus memory;
};

struct ProcessEntry {
  std::uint32_t pid = 0;
  std::uint32_t ppid = 0;
  std::string executable_name;
  std::string service_name;  // OTEL_SERVICE_NAME, else the container's name, else executable_name
  bool service_name_from_environment = false;
  std::string command_line;
  ResourceAttributes resource_attributes;  // the process's OTEL_RESOURCE_ATTRIBUTES
  CgroupRef cgroup;                        // container and pod ids from its cgroup
  Workload workload;                       // their names, as far as known
  std::uint64_t workload_generation = 0;   // the WorkloadSource generation `workload` is from
  // Selection (select.*, exclude.*): whether its attributes admit it, and
  // whether it has called an LLM API (select.llm_only).
  bool admitted = true;
  bool selection_stale = true;
  bool llm_seen = false;
  bool reported = true;  // admitted, and not waiting for an LLM call
  std::uint64_t start_id = 0;  // when it started (clock ticks or ns): with pid, one process
  Baseline baseline;
  // Set once the process has exited: its final kernel figures, if it had any.
  bool exited = false;
  std::int32_t exit_status = 0;
  std::optional<infrared_proc_stats> final_stats;
  // Highest values exported so far, so that counters never go backwards when
  // the source switches from /proc to the kernel.
  double reported_cpu_seconds = 0;
  std::uint64_t reported_faults = 0;
  std::uint64_t reported_voluntary_switches = 0;
  std::uint64_t reported_involuntary_switches = 0;
  // FindIdentity's shared copy of the fields above it reads; nullptr until
  // asked for, and again whenever one of them changes (the table resets it
  // wherever it writes them; visitors do not write them).
  std::shared_ptr<const ProcessIdentity> identity;
};

// The processes of the host: seeded from /proc, then kept current by kernel
// events. Bounded by `capacity` entries, live and exited together. Safe from
// any thread (one mutex): the event thread writes, the scrape thread reads.
class ProcessTable {
 public:
  using DropFn = std::function<void(const char* reason)>;

  ProcessTable(std::size_t capacity, DropFn on_drop);

  // Where container and pod names come from, and which processes are
  // reported; either may be nullptr (no names; every process reported).
  // Before any other call; both must outlive the table.
  void SetWorkloads(WorkloadSource* workloads, const ProcessSelector* selector);

  // Whether select.* / exclude.* rules are in force: then a process the table
  // does not know is not reported either.
  bool Selective() const;

  // The process called an LLM API: select.llm_only reports it from now on.
  void MarkLlmCaller(std::uint32_t pid);

  // Adds the processes /proc lists that the table lacks, and marks exited the
  // live ones /proc no longer has (their exit event was lost). Kernel threads
  // are left out. Returns how many were added.
  std::size_t Rescan(const ProcReader& reader);

  void OnFork(const ForkEvent& event, const ProcReader& reader);
  void OnExec(const ExecEvent& event, const ProcReader& reader);
  void OnExit(const ExitEvent& event);

  // Calls `visit` for each live process, then each exited one, under the lock;
  // then forgets the exited ones: their last figures have been reported once.
  void VisitAndReap(const std::function<void(ProcessEntry&)>& visit);

  // Calls `visit` for each live process under the lock; nothing is reaped.
  void ForEachLive(const std::function<void(const ProcessEntry&)>& visit) const;

  std::size_t LiveCount() const;
  std::size_t ExitedCount() const;
  // The live process with this pid, else the latest exited one (reported or
  // not, among the last few thousand).
  std::optional<ProcessEntry> Find(std::uint32_t pid);
  // Who that process is, as Find would say, without copying it each time: an
  // immutable copy, shared until one of its fields changes. A process the table
  // does not know: nullptr (reported unnamed), or, while select.* / exclude.*
  // rules are in force (Selective), an identity that is excluded.
  std::shared_ptr<const ProcessIdentity> FindIdentity(std::uint32_t pid);

 private:
  bool HasRoomLocked();
  ProcessEntry FromSnapshot(const ProcSnapshot& snapshot) const;
  // The live process with this pid, refreshed, else the latest exited one.
  ProcessEntry* FindLocked(std::uint32_t pid);
  // Brings workload names, service name and selection up to date.
  void RefreshLocked(ProcessEntry& entry);

  WorkloadSource* workloads_ = nullptr;
  const ProcessSelector* selector_ = nullptr;

  const std::shared_ptr<const ProcessIdentity> unknown_excluded_;
  const std::size_t capacity_;
  DropFn on_drop_;
  mutable std::mutex mutex_;
  std::unordered_map<std::uint32_t, ProcessEntry> live_;
  std::deque<ProcessEntry> exited_;
  std::unordered_set<std::uint32_t> missing_;  // absent from /proc at the last rescan
  // Processes already reported gone, kept for Find() alone: socket events are
  // handled in batches and may name a process a moment after it was reaped.
  std::deque<ProcessEntry> recent_;
  static constexpr std::size_t kRecentCap = 4096;
};

// "name" for "/usr/bin/name"; the whole string when it has no slash.
std::string ExecutableNameFromPath(const std::string& path);

}  // namespace infrared::process
