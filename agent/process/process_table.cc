#include "agent/process/process_table.h"

#include <unordered_set>
#include <vector>

namespace infrared::process {

std::string ExecutableNameFromPath(const std::string& path) {
  std::size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash + 1 == path.size()) return path;
  return path.substr(slash + 1);
}

ProcessTable::ProcessTable(std::size_t capacity, DropFn on_drop)
    : unknown_excluded_([] {
        ProcessIdentity unknown;
        unknown.excluded = true;
        return std::make_shared<const ProcessIdentity>(std::move(unknown));
      }()),
      capacity_(capacity),
      on_drop_(std::move(on_drop)) {}

void ProcessTable::SetWorkloads(WorkloadSource* workloads, const ProcessSelector* selector) {
  std::lock_guard lock(mutex_);
  workloads_ = workloads;
  selector_ = selector && !(selector->Empty() && !selector->LlmOnly()) ? selector : nullptr;
}

namespace {

// Names still missing that the cgroup promises: worth asking again.
bool Incomplete(const ProcessEntry& entry) {
  return (!entry.cgroup.pod_uid.empty() && entry.workload.pod_name.empty()) ||
         (!entry.cgroup.container_id.empty() && entry.workload.container_name.empty());
}

}  // namespace

void ProcessTable::RefreshLocked(ProcessEntry& entry) {
  const bool was_reported = entry.reported;
  const bool was_admitted = entry.admitted;
  const bool in_container = !entry.cgroup.container_id.empty() || !entry.cgroup.pod_uid.empty();
  if (workloads_ && in_container &&
      (entry.workload_generation != workloads_->Generation() || Incomplete(entry))) {
    entry.workload_generation = workloads_->Generation();
    Workload workload = workloads_->Resolve(entry.cgroup);
    if (workload != entry.workload) {
      entry.workload = std::move(workload);
      entry.selection_stale = true;
      entry.identity.reset();
    }
  }
  if (!workloads_ || !in_container) {
    Workload ids;
    ids.container_id = entry.cgroup.container_id;
    ids.pod_uid = entry.cgroup.pod_uid;
    if (ids != entry.workload) {
      entry.workload = std::move(ids);
      entry.selection_stale = true;
      entry.identity.reset();
    }
  }
  if (!entry.service_name_from_environment) {
    const std::string& service = entry.workload.container_name.empty()
                                     ? entry.executable_name
                                     : entry.workload.container_name;
    if (entry.service_name != service) {
      entry.service_name = service;
      entry.identity.reset();
    }
  }
  if (selector_) {
    if (entry.selection_stale) {
      entry.admitted = selector_->Admits(entry.executable_name, entry.command_line, entry.workload);
      entry.selection_stale = false;
    }
    entry.reported = entry.admitted && (!selector_->LlmOnly() || entry.llm_seen);
  }
  if (entry.admitted != was_admitted || entry.reported != was_reported) entry.identity.reset();
}

bool ProcessTable::Selective() const {
  std::lock_guard lock(mutex_);
  return selector_ != nullptr;
}

void ProcessTable::MarkLlmCaller(std::uint32_t pid) {
  std::lock_guard lock(mutex_);
  auto it = live_.find(pid);
  if (it == live_.end() || it->second.llm_seen) return;
  it->second.llm_seen = true;
  RefreshLocked(it->second);
}

bool ProcessTable::HasRoomLocked() {
  if (live_.size() + exited_.size() < capacity_) return true;
  // Exited processes nobody scraped yet give way first: the oldest goes.
  if (!exited_.empty()) {
    exited_.pop_front();
    on_drop_("exited_not_scraped");
    return true;
  }
  on_drop_("table_full");
  return false;
}

ProcessEntry ProcessTable::FromSnapshot(const ProcSnapshot& snapshot) const {
  ProcessEntry entry;
  entry.pid = snapshot.pid;
  entry.ppid = snapshot.ppid;
  entry.executable_name = snapshot.executable_name;
  entry.service_name = snapshot.service_name;
  entry.service_name_from_environment = snapshot.service_name_from_environment;
  entry.cgroup = snapshot.cgroup;
  entry.command_line = snapshot.command_line;
  entry.resource_attributes = snapshot.resource_attributes;
  entry.start_id = snapshot.start_ticks;
  entry.baseline.cpu_ns = snapshot.cpu_ns;
  entry.baseline.faults = snapshot.faults;
  entry.baseline.memory = snapshot.memory;
  return entry;
}

std::size_t ProcessTable::Rescan(const ProcReader& reader) {
  std::vector<std::uint32_t> pids = reader.ListPids();
  std::unordered_set<std::uint32_t> alive(pids.begin(), pids.end());
  std::vector<std::uint32_t> unknown;
  {
    std::lock_guard lock(mutex_);
    // A process missing from /proc twice in a row lost its exit event; once
    // is not enough, as the event may still be on its way.
    std::unordered_set<std::uint32_t> missing;
    for (auto it = live_.begin(); it != live_.end();) {
      if (alive.count(it->first)) {
        ++it;
      } else if (!missing_.count(it->first)) {
        missing.insert(it->first);
        ++it;
      } else {
        it->second.exited = true;
        exited_.push_back(std::move(it->second));
        it = live_.erase(it);
        on_drop_("exit_event_missed");
      }
    }
    missing_ = std::move(missing);
    for (std::uint32_t pid : pids) {
      if (!live_.count(pid)) unknown.push_back(pid);
    }
  }
  // /proc is read without the lock, so that a scrape need not wait for it.
  std::vector<ProcSnapshot> snapshots;
  for (std::uint32_t pid : unknown) {
    std::optional<ProcSnapshot> snapshot = reader.Read(pid);
    if (snapshot && !snapshot->kernel_thread) snapshots.push_back(std::move(*snapshot));
  }
  std::size_t added = 0;
  std::lock_guard lock(mutex_);
  for (const ProcSnapshot& snapshot : snapshots) {
    if (live_.count(snapshot.pid)) continue;  // an event got there first
    if (!HasRoomLocked()) break;
    ProcessEntry& entry = live_.emplace(snapshot.pid, FromSnapshot(snapshot)).first->second;
    RefreshLocked(entry);
    ++added;
  }
  return added;
}

void ProcessTable::OnFork(const ForkEvent& event, const ProcReader& reader) {
  std::lock_guard lock(mutex_);
  const std::uint32_t pid = event.header.pid;
  if (live_.count(pid)) return;  // already seeded from /proc
  if (!HasRoomLocked()) return;
  ProcessEntry child;
  child.pid = pid;
  child.ppid = event.header.ppid;
  child.start_id = event.header.timestamp_ns;
  auto parent = live_.find(event.header.ppid);
  if (parent != live_.end()) {
    child.executable_name = parent->second.executable_name;
    child.service_name = parent->second.service_name;
    child.service_name_from_environment = parent->second.service_name_from_environment;
    child.command_line = parent->second.command_line;
    child.resource_attributes = parent->second.resource_attributes;
    child.cgroup = parent->second.cgroup;
    child.workload = parent->second.workload;
    child.workload_generation = parent->second.workload_generation;
  } else {
    child.executable_name = event.header.comm;
    child.service_name = event.header.comm;
    child.cgroup = reader.Cgroup(pid);
  }
  // The child starts with a copy of the parent's resident pages, which the
  // kernel reports against an mm it cannot yet attribute; /proc can.
  if (std::optional<ProcStatus> status = reader.ReadStatus(pid)) child.baseline.memory = *status;
  RefreshLocked(live_.emplace(pid, std::move(child)).first->second);
}

namespace {

// A new image's OTEL_* identity from the environment the kernel copied at exec,
// which the program cannot have rewritten yet (nginx writes its process title
// over it); from /proc when the kernel could not copy it, and for a variable
// that a copy cut at its cap lacks.
ProcIdentity ExecIdentity(const ExecEvent& event, const ProcReader& reader) {
  const ExecStrings& environment = event.environment;
  if (!environment.read) return reader.Identity(event.header.pid);
  if (environment.whole) return IdentityFromEnviron(environment.bytes);
  // A copy cut at its cap ends in a piece of an entry: whole entries only
  // (with no NUL at all, rfind's npos + 1 is 0: none).
  std::string_view entries = environment.bytes;
  entries = entries.substr(0, entries.rfind('\0') + 1);
  std::optional<std::string> service = FindEnvironVar(entries, "OTEL_SERVICE_NAME");
  std::optional<std::string> attributes = FindEnvironVar(entries, "OTEL_RESOURCE_ATTRIBUTES");
  // A variable the copy lacks may be past the cut, where only /proc can still find it.
  if (!service || !attributes) {
    const std::string rest = reader.Environ(event.header.pid).value_or("");
    if (!service) service = FindEnvironVar(rest, "OTEL_SERVICE_NAME");
    if (!attributes) attributes = FindEnvironVar(rest, "OTEL_RESOURCE_ATTRIBUTES");
  }
  return IdentityFromVariables(std::move(service), attributes);
}

}  // namespace

void ProcessTable::OnExec(const ExecEvent& event, const ProcReader& reader) {
  std::lock_guard lock(mutex_);
  const std::uint32_t pid = event.header.pid;
  auto it = live_.find(pid);
  if (it == live_.end()) {
    if (!HasRoomLocked()) return;
    ProcessEntry entry;
    entry.pid = pid;
    it = live_.emplace(pid, std::move(entry)).first;
  }
  ProcessEntry& entry = it->second;
  entry.ppid = event.header.ppid;
  // The resolved executable, as for seeded processes; the exec'd path when the
  // process is already gone.
  entry.executable_name = reader.ExecutableName(pid).value_or(
      event.filename.empty() ? event.header.comm : ExecutableNameFromPath(event.filename));
  ProcIdentity identity = ExecIdentity(event, reader);
  entry.service_name = identity.service_name.value_or(entry.executable_name);
  entry.service_name_from_environment = identity.service_name.has_value();
  entry.resource_attributes = std::move(identity.resource_attributes);
  entry.command_line = event.arguments.read ? CommandLineFromArguments(event.arguments.bytes)
                                            : reader.CommandLine(pid);
  // Read again: a container runtime moves the process into its cgroup before the exec.
  entry.cgroup = reader.Cgroup(pid);
  entry.workload_generation = 0;
  entry.selection_stale = true;
  if (entry.start_id == 0) entry.start_id = event.header.timestamp_ns;
  entry.baseline.memory = ProcStatus{};  // a new image has a new, empty mm
  entry.identity.reset();
  RefreshLocked(entry);
}

void ProcessTable::OnExit(const ExitEvent& event) {
  std::lock_guard lock(mutex_);
  auto it = live_.find(event.header.pid);
  if (it == live_.end()) return;  // never known: nothing was exported for it
  ProcessEntry entry = std::move(it->second);
  live_.erase(it);
  entry.exited = true;
  entry.exit_status = event.exit_code;
  if (event.has_stats) entry.final_stats = event.stats;
  exited_.push_back(std::move(entry));
}

void ProcessTable::VisitAndReap(const std::function<void(ProcessEntry&)>& visit) {
  std::lock_guard lock(mutex_);
  for (auto& [pid, entry] : live_) {
    RefreshLocked(entry);
    visit(entry);
  }
  for (ProcessEntry& entry : exited_) visit(entry);
  for (ProcessEntry& entry : exited_) {
    entry.final_stats.reset();
    recent_.push_back(std::move(entry));
  }
  exited_.clear();
  while (recent_.size() > kRecentCap) recent_.pop_front();
}

void ProcessTable::ForEachLive(const std::function<void(const ProcessEntry&)>& visit) const {
  std::lock_guard lock(mutex_);
  for (const auto& [pid, entry] : live_) visit(entry);
}

std::size_t ProcessTable::LiveCount() const {
  std::lock_guard lock(mutex_);
  return live_.size();
}

std::size_t ProcessTable::ExitedCount() const {
  std::lock_guard lock(mutex_);
  return exited_.size();
}

ProcessEntry* ProcessTable::FindLocked(std::uint32_t pid) {
  auto it = live_.find(pid);
  if (it != live_.end()) {
    RefreshLocked(it->second);
    return &it->second;
  }
  // An exited process not yet reported is still known, for late events.
  for (std::deque<ProcessEntry>* gone : {&exited_, &recent_}) {
    for (auto exited = gone->rbegin(); exited != gone->rend(); ++exited) {
      if (exited->pid == pid) return &*exited;
    }
  }
  return nullptr;
}

std::optional<ProcessEntry> ProcessTable::Find(std::uint32_t pid) {
  std::lock_guard lock(mutex_);
  const ProcessEntry* entry = FindLocked(pid);
  if (!entry) return std::nullopt;
  return *entry;
}

std::shared_ptr<const ProcessIdentity> ProcessTable::FindIdentity(std::uint32_t pid) {
  std::lock_guard lock(mutex_);
  ProcessEntry* found = FindLocked(pid);
  if (!found) return selector_ ? unknown_excluded_ : nullptr;
  ProcessEntry& entry = *found;
  if (!entry.identity) {
    entry.identity = std::make_shared<const ProcessIdentity>(ProcessIdentity{
        .executable_name = entry.executable_name,
        .service_name = entry.service_name,
        .command_line = entry.command_line,
        .resource_attributes = entry.resource_attributes,
        .start_id = entry.start_id,
        .workload = entry.workload,
        .excluded = !entry.admitted,
        .awaiting_llm = entry.admitted && !entry.reported});
  }
  return entry.identity;
}

}  // namespace infrared::process
