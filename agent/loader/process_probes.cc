#include "agent/loader/process_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "process.skel.h"

namespace infrared::loader {
namespace {

// libbpf's print callback takes no context pointer, so the logger it writes
// to has to be reachable from a static; it is set once, before loading.
std::atomic<core::Logger*> libbpf_logger{nullptr};

int PrintLibbpf(libbpf_print_level level, const char* format, va_list args) {
  core::Logger* logger = libbpf_logger.load();
  const core::LogLevel ours = level == LIBBPF_WARN   ? core::LogLevel::kWarn
                              : level == LIBBPF_INFO ? core::LogLevel::kDebug
                                                     : core::LogLevel::kDebug;
  if (!logger || !logger->Enabled(ours)) return 0;
  char line[2048];
  int n = std::vsnprintf(line, sizeof(line), format, args);
  if (n <= 0) return 0;
  std::string_view text(line, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof(line) - 1));
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  logger->Log(ours, "libbpf", text);
  return 0;
}

int OnRingRecord(void* context, void* data, std::size_t size) {
  static_cast<ProcessProbes::RecordFn*>(context)->operator()(data, size);
  return 0;
}

std::string LoadError(int err) {
  if (err == EPERM || err == EACCES) {
    return "the kernel refused to load eBPF programs (" + std::string(std::strerror(err)) +
           "): run infrared as root, or give it CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN";
  }
  return "loading the process eBPF programs failed (" + std::string(std::strerror(err)) +
         "); run with --log.level=debug to see the verifier's log";
}

}  // namespace

ProcessProbes::ProcessProbes(process_bpf* skeleton, RecordFn on_record)
    : skeleton_(skeleton), on_record_(std::move(on_record)) {
  int cpus = libbpf_num_possible_cpus();
  possible_cpus_ = cpus > 0 ? cpus : 1;
}

ProcessProbes::~ProcessProbes() {
  if (ring_) ring_buffer__free(ring_);
  process_bpf__destroy(skeleton_);  // detaches every link, closes every map
}

std::unique_ptr<ProcessProbes> ProcessProbes::Create(const core::Config& config,
                                                     core::Logger& logger, RecordFn on_record,
                                                     std::string& error) {
  libbpf_logger.store(&logger);
  libbpf_set_print(PrintLibbpf);
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
  bpf_map__set_max_entries(skeleton->maps.thread_runtime, processes * 4);
  if (int err = process_bpf__load(skeleton); err != 0) {
    error = LoadError(-err);
    return nullptr;
  }
  if (!probes->Attach(logger)) {
    error = "none of the process probes could be attached; see the log lines before this one";
    return nullptr;
  }
  probes->ring_ = ring_buffer__new(bpf_map__fd(skeleton->maps.proc_events), OnRingRecord,
                                   &probes->on_record_, nullptr);
  if (!probes->ring_) {
    error = "creating the process ring buffer reader failed (" + std::string(std::strerror(errno)) +
            ")";
    return nullptr;
  }
  return probes;
}

bool ProcessProbes::Attach(core::Logger& logger) {
  struct Probe {
    const char* name;
    bpf_program* program;
    bpf_link** link;
  };
  auto& p = skeleton_->progs;
  auto& l = skeleton_->links;
  const Probe table[] = {
      {"sched_switch", p.handle_sched_switch, &l.handle_sched_switch},
      {"sched_process_fork", p.handle_sched_process_fork, &l.handle_sched_process_fork},
      {"sched_process_exec", p.handle_sched_process_exec, &l.handle_sched_process_exec},
      {"sched_process_exit", p.handle_sched_process_exit, &l.handle_sched_process_exit},
      {"rss_stat", p.handle_rss_stat, &l.handle_rss_stat},
      {"page_fault_user", p.handle_page_fault_user, &l.handle_page_fault_user},
  };
  for (const Probe& probe : table) {
    *probe.link = bpf_program__attach(probe.program);
    const bool attached = *probe.link != nullptr;
    if (attached) {
      logger.Debug("loader", "probe attached", {{"probe", probe.name}});
    } else {
      logger.Warn("loader", "probe could not be attached; its figures will be missing",
                  {{"probe", probe.name}, {"error", std::strerror(errno)}});
    }
    probes_.push_back({probe.name, attached});
  }
  return AnyAttached();
}

bool ProcessProbes::AnyAttached() const {
  for (const ProbeStatus& probe : probes_) {
    if (probe.attached) return true;
  }
  return false;
}

int ProcessProbes::Poll(int timeout_ms) { return ring_buffer__poll(ring_, timeout_ms); }

std::optional<infrared_proc_stats> ProcessProbes::Lookup(std::uint32_t pid) {
  infrared_proc_stats stats;
  if (bpf_map_lookup_elem(bpf_map__fd(skeleton_->maps.proc_stats), &pid, &stats) != 0) {
    return std::nullopt;
  }
  return stats;
}

std::array<std::uint64_t, INFRARED_DROP_COUNT> ProcessProbes::Drops() const {
  std::array<std::uint64_t, INFRARED_DROP_COUNT> totals{};
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(possible_cpus_));
  const int fd = bpf_map__fd(skeleton_->maps.proc_drops);
  for (std::uint32_t reason = 0; reason < INFRARED_DROP_COUNT; ++reason) {
    if (bpf_map_lookup_elem(fd, &reason, per_cpu.data()) != 0) continue;
    for (std::uint64_t count : per_cpu) totals[reason] += count;
  }
  return totals;
}

std::size_t ProcessProbes::PruneThreads(const std::function<bool(std::uint32_t tid)>& exists) {
  const int fd = bpf_map__fd(skeleton_->maps.thread_runtime);
  std::vector<std::uint32_t> gone;
  std::uint32_t key = 0;
  std::uint32_t next = 0;
  const std::uint32_t* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    if (!exists(next)) gone.push_back(next);
    key = next;
    previous = &key;
  }
  for (std::uint32_t tid : gone) bpf_map_delete_elem(fd, &tid);
  return gone.size();
}

}  // namespace infrared::loader
