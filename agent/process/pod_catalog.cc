#include "agent/process/pod_catalog.h"

#include <dirent.h>

#include <algorithm>
#include <array>
#include <optional>
#include <memory>

namespace infrared::process {
namespace {

constexpr std::uint64_t kRescanEveryNs = 1'000'000'000;
// A cgroup a scan could not name (a pod's sandbox, a container outside any pod)
// is looked for again this seldom, so that it does not cost a scan a second.
constexpr std::uint64_t kRetryMissEveryNs = 30'000'000'000;
constexpr std::size_t kMaxMisses = 4096;
constexpr std::size_t kContainerIdLength = 64;

bool IsHexId(std::string_view text) {
  return text.size() == kContainerIdLength &&
         std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// The names in a directory, "." and ".." left out; none when it cannot be read.
std::vector<std::string> ListDirectory(const std::string& path) {
  std::vector<std::string> names;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(path.c_str()), closedir);
  if (!dir) return names;
  while (dirent* entry = readdir(dir.get())) {
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
  return names;
}

// Splits at the first two underscores: "a_b_c" into three parts, none empty.
std::optional<std::array<std::string_view, 3>> SplitThree(std::string_view text) {
  std::size_t first = text.find('_');
  if (first == std::string_view::npos) return std::nullopt;
  std::size_t second = text.find('_', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  std::array<std::string_view, 3> parts = {text.substr(0, first),
                                           text.substr(first + 1, second - first - 1),
                                           text.substr(second + 1)};
  for (std::string_view part : parts) {
    if (part.empty()) return std::nullopt;
  }
  return parts;
}

}  // namespace

std::optional<PodInfo> PodFromLogDirectoryName(std::string_view name) {
  std::optional<std::array<std::string_view, 3>> parts = SplitThree(name);
  if (!parts || (*parts)[2].find('_') != std::string_view::npos) return std::nullopt;
  PodInfo pod;
  pod.namespace_name = (*parts)[0];
  pod.name = (*parts)[1];
  pod.uid = (*parts)[2];
  return pod;
}

std::optional<ContainerLogName> ParseContainerLogName(std::string_view name) {
  constexpr std::string_view kSuffix = ".log";
  if (!name.ends_with(kSuffix)) return std::nullopt;
  name.remove_suffix(kSuffix.size());
  std::optional<std::array<std::string_view, 3>> parts = SplitThree(name);
  if (!parts) return std::nullopt;
  std::string_view rest = (*parts)[2];  // <container>-<id>
  std::size_t dash = rest.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || !IsHexId(rest.substr(dash + 1))) {
    return std::nullopt;
  }
  return ContainerLogName{std::string((*parts)[0]), std::string((*parts)[1]),
                          std::string(rest.substr(0, dash)), std::string(rest.substr(dash + 1))};
}

PodCatalog::PodCatalog(Options options) : options_(std::move(options)) {}

void PodCatalog::ReplaceFromApi(std::vector<PodInfo> pods) {
  std::lock_guard lock(mutex_);
  api_pods_.clear();
  for (PodInfo& pod : pods) {
    if (api_pods_.size() >= options_.max_pods) {
      if (options_.on_drop) options_.on_drop("too_many_pods");
      continue;
    }
    std::string uid = pod.uid;
    api_pods_[uid] = std::move(pod);
  }
  ++generation_;
}

void PodCatalog::UpsertFromApi(PodInfo pod) {
  std::lock_guard lock(mutex_);
  auto it = api_pods_.find(pod.uid);
  if (it == api_pods_.end() && api_pods_.size() >= options_.max_pods) {
    if (options_.on_drop) options_.on_drop("too_many_pods");
    return;
  }
  if (it != api_pods_.end() && it->second == pod) return;
  std::string uid = pod.uid;
  api_pods_[uid] = std::move(pod);
  ++generation_;
}

void PodCatalog::RemoveFromApi(const std::string& uid) {
  std::lock_guard lock(mutex_);
  // Processes of a deleted pod may still be reported once (their exit is on
  // its way): the log directories' names keep serving them.
  if (api_pods_.erase(uid) != 0) ++generation_;
}

void PodCatalog::ScanLogDirectories() {
  std::lock_guard lock(mutex_);
  ScanLocked();
}

void PodCatalog::ScanLocked() {
  last_scan_ns_ = options_.now_ns ? options_.now_ns() : 0;
  scanned_ = true;
  std::unordered_map<std::string, PodInfo> pods;
  if (!options_.pod_logs_dir.empty()) {
    for (const std::string& name : ListDirectory(options_.pod_logs_dir)) {
      std::optional<PodInfo> pod = PodFromLogDirectoryName(name);
      if (!pod) continue;
      if (pods.size() >= options_.max_pods) {
        if (options_.on_drop) options_.on_drop("too_many_pods");
        break;
      }
      pod->container_names = ListDirectory(options_.pod_logs_dir + "/" + name);
      std::sort(pod->container_names.begin(), pod->container_names.end());
      pod->node_name = options_.node_name;
      std::string uid = pod->uid;
      pods.emplace(std::move(uid), std::move(*pod));
    }
  }
  std::unordered_map<std::string, std::string> containers;
  std::unordered_set<std::string> linked;
  if (!options_.container_logs_dir.empty()) {
    for (const std::string& name : ListDirectory(options_.container_logs_dir)) {
      std::optional<ContainerLogName> parsed = ParseContainerLogName(name);
      if (!parsed) continue;
      if (containers.size() >= options_.max_pods * 8) break;
      containers.emplace(parsed->container_id, parsed->container_name);
      linked.insert(parsed->namespace_name + "/" + parsed->pod_name);
    }
  }
  if (pods != log_pods_ || containers != log_containers_) {
    log_pods_ = std::move(pods);
    log_containers_ = std::move(containers);
    linked_pods_ = std::move(linked);
    ++generation_;
  }
}

bool PodCatalog::OnlyContainerLocked(const PodInfo& pod) const {
  return pod.container_names.size() == 1 &&
         !linked_pods_.count(pod.namespace_name + "/" + pod.name);
}

bool PodCatalog::LogsKnowLocked(const CgroupRef& cgroup) const {
  if (!cgroup.pod_uid.empty() && !log_pods_.count(cgroup.pod_uid) &&
      !api_pods_.count(cgroup.pod_uid)) {
    return false;
  }
  if (!cgroup.container_id.empty() && !log_containers_.count(cgroup.container_id)) {
    // A one-container pod's log directory names its container well enough, when
    // no container link says which id is the container and which the sandbox.
    auto pod = log_pods_.find(cgroup.pod_uid);
    bool settled = pod != log_pods_.end() && OnlyContainerLocked(pod->second);
    auto api = api_pods_.find(cgroup.pod_uid);
    if (api != api_pods_.end()) {
      for (const auto& [id, name] : api->second.containers) settled |= id == cgroup.container_id;
    }
    return settled;
  }
  return true;
}

Workload PodCatalog::Resolve(const CgroupRef& cgroup) {
  Workload workload;
  workload.container_id = cgroup.container_id;
  workload.pod_uid = cgroup.pod_uid;
  if (cgroup.container_id.empty() && cgroup.pod_uid.empty()) return workload;
  std::lock_guard lock(mutex_);
  const std::uint64_t now = options_.now_ns ? options_.now_ns() : 0;
  if (!LogsKnowLocked(cgroup) && (!scanned_ || now - last_scan_ns_ >= kRescanEveryNs)) {
    const std::string key = cgroup.pod_uid + "/" + cgroup.container_id;
    auto miss = misses_.find(key);
    if (miss == misses_.end() || now - miss->second >= kRetryMissEveryNs) {
      ScanLocked();
      if (misses_.size() >= kMaxMisses) misses_.clear();
      if (!LogsKnowLocked(cgroup)) misses_[key] = now;
    }
  }
  const PodInfo* api = nullptr;
  const PodInfo* logs = nullptr;
  if (auto it = api_pods_.find(cgroup.pod_uid); it != api_pods_.end()) api = &it->second;
  if (auto it = log_pods_.find(cgroup.pod_uid); it != log_pods_.end()) logs = &it->second;
  if (const PodInfo* pod = api ? api : logs) {
    workload.namespace_name = pod->namespace_name;
    workload.pod_name = pod->name;
    workload.owner_kind = pod->owner_kind;
    workload.owner_name = pod->owner_name;
    workload.pod_labels = pod->labels;
    workload.node_name = pod->node_name.empty() ? options_.node_name : pod->node_name;
  }
  if (!cgroup.container_id.empty()) {
    if (api) {
      for (const auto& [id, name] : api->containers) {
        if (id == cgroup.container_id) workload.container_name = name;
      }
    }
    // The API lists every container of a running pod: an id it lacks is the pod's
    // sandbox (pause), not its one container.
    const bool api_lists = api && !api->containers.empty();
    if (workload.container_name.empty() && !api_lists) {
      if (auto it = log_containers_.find(cgroup.container_id); it != log_containers_.end()) {
        workload.container_name = it->second;
      } else if (logs && OnlyContainerLocked(*logs)) {
        // Without links the sandbox cannot be told from the container: both get its name.
        workload.container_name = logs->container_names.front();
      }
    }
  }
  return workload;
}

std::size_t PodCatalog::PodCount() const {
  std::lock_guard lock(mutex_);
  std::size_t count = api_pods_.size();
  for (const auto& [uid, pod] : log_pods_) count += api_pods_.count(uid) ? 0 : 1;
  return count;
}

}  // namespace infrared::process
