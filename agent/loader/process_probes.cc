#include "agent/loader/process_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/loader/bpf_util.h"
#include "process.skel.h"

namespace infrared::loader {

ProcessProbes::ProcessProbes(process_bpf* skeleton, RecordFn on_record)
    : skeleton_(skeleton), ring_(std::make_unique<RingReader>(std::move(on_record))) {}

ProcessProbes::~ProcessProbes() {
  ring_.reset();  // before the maps it reads go
  DetachAll(links_);
  process_bpf__destroy(skeleton_);  // detaches every link, closes every map
}

std::unique_ptr<ProcessProbes> ProcessProbes::Create(const core::Config& config,
                                                     core::Logger& logger, RecordFn on_record,
                                                     std::string& error) {
  RouteLibbpfLogs(logger);
  process_bpf* skeleton = process_bpf__open();
  if (!skeleton) {
    error = "opening the process eBPF object failed (" + std::string(std::strerror(errno)) + ")";
    return nullptr;
  }
  std::unique_ptr<ProcessProbes> probes(new ProcessProbes(skeleton, std::move(on_record)));
  skeleton->rodata->page_size = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  const std::uint32_t processes = config.process_max_processes;
  bpf_map__set_max_entries(skeleton->maps.proc_events, config.process_events_buffer_bytes);
  bpf_map__set_max_entries(skeleton->maps.proc_stats, processes);
  bpf_map__set_max_entries(skeleton->maps.mm_owner, processes);
  if (int err = process_bpf__load(skeleton); err != 0) {
    error = LoadError("process", -err);
    return nullptr;
  }
  if (!probes->Attach(logger)) {
    error = "none of the process probes could be attached; see the log lines before this one";
    return nullptr;
  }
  if (!probes->ring_->Open(bpf_map__fd(skeleton->maps.proc_events))) {
    error = "creating the process ring buffer reader failed (" + std::string(std::strerror(errno)) +
            ")";
    return nullptr;
  }
  return probes;
}

bool ProcessProbes::Attach(core::Logger& logger) {
  auto& p = skeleton_->progs;
  auto& l = skeleton_->links;
  const std::vector<ProbeSlot> slots = {
      {"sched_switch", p.handle_sched_switch, &l.handle_sched_switch},
      {"sched_process_fork", p.handle_sched_process_fork, &l.handle_sched_process_fork},
      {"sched_process_exec", p.handle_sched_process_exec, &l.handle_sched_process_exec},
      {"sched_process_exit", p.handle_sched_process_exit, &l.handle_sched_process_exit},
      {"rss_stat", p.handle_rss_stat, &l.handle_rss_stat},
      {"page_fault_user", p.handle_page_fault_user, &l.handle_page_fault_user},
  };
  for (const ProbeSlot& slot : slots) links_.push_back(slot.link);
  probes_ = AttachEach(slots, logger);
  return AnyAttached(probes_);
}

int ProcessProbes::Poll(int timeout_ms) {
  // Exits do not wake the poller one by one (bpf/process.bpf.c; forks and
  // execs do): what a timeout leaves in the buffer is read here.
  int handled = ring_->Poll(timeout_ms);
  if (handled < 0) return handled;
  const int waiting = ring_->Consume();
  return waiting < 0 ? waiting : handled + waiting;
}

std::optional<infrared_proc_stats> ProcessProbes::Lookup(std::uint32_t pid) {
  infrared_proc_stats stats;
  if (bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.proc_stats), &pid, &stats) != 0) {
    return std::nullopt;
  }
  return stats;
}

std::array<std::uint64_t, INFRARED_DROP_COUNT> ProcessProbes::Drops() const {
  std::array<std::uint64_t, INFRARED_DROP_COUNT> totals{};
  const int fd = bpf_map__fd(skeleton_->maps.proc_drops);
  for (std::uint32_t reason = 0; reason < INFRARED_DROP_COUNT; ++reason) {
    totals[reason] = SumPerCpu(fd, reason);
  }
  return totals;
}

}  // namespace infrared::loader
