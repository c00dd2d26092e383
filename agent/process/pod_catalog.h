#pragma once

#include <atomic>
#include <optional>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/process/cgroup_path.h"
#include "agent/process/pod_info.h"

namespace infrared::process {

// Turns what a process's cgroup says (container id, pod uid) into names.
class WorkloadSource {
 public:
  virtual ~WorkloadSource() = default;
  // Changes whenever Resolve may answer differently than before.
  virtual std::uint64_t Generation() const = 0;
  // The workload of a cgroup: the ids always, names as far as they are known.
  virtual Workload Resolve(const CgroupRef& cgroup) = 0;
};

// "<namespace>_<pod>_<uid>" (a directory of /var/log/pods): nullopt unless
// three non-empty parts.
std::optional<PodInfo> PodFromLogDirectoryName(std::string_view name);

// "<pod>_<namespace>_<container>-<64 hex id>.log" (a link of /var/log/containers).
struct ContainerLogName {
  std::string pod_name;
  std::string namespace_name;
  std::string container_name;
  std::string container_id;
};
std::optional<ContainerLogName> ParseContainerLogName(std::string_view name);

// Every pod of this node the agent has heard of: from the kubelet's log
// directories (names only, read when a lookup misses, at most once a second)
// and from the API server (owner and labels too; it wins where both know a
// pod). Safe from any thread.
class PodCatalog : public WorkloadSource {
 public:
  struct Options {
    std::string pod_logs_dir;        // "" : not read
    std::string container_logs_dir;  // "" : not read
    std::string node_name;
    std::function<std::uint64_t()> now_ns;  // monotonic clock
    std::size_t max_pods = 4096;  // per source; more are dropped (counted by on_drop)
    std::function<void(const char* reason)> on_drop;
  };

  explicit PodCatalog(Options options);

  // From the API server: everything it lists now, then changes.
  void ReplaceFromApi(std::vector<PodInfo> pods);
  void UpsertFromApi(PodInfo pod);
  void RemoveFromApi(const std::string& uid);

  // Reads the log directories again now.
  void ScanLogDirectories();

  std::uint64_t Generation() const override { return generation_.load(); }
  Workload Resolve(const CgroupRef& cgroup) override;

  std::size_t PodCount() const;

 private:
  void ScanLocked();
  bool LogsKnowLocked(const CgroupRef& cgroup) const;
  // The pod has one container and no container links: its log directory names it.
  bool OnlyContainerLocked(const PodInfo& pod) const;

  Options options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, PodInfo> api_pods_;   // by uid
  std::unordered_map<std::string, PodInfo> log_pods_;   // by uid
  std::unordered_map<std::string, std::string> log_containers_;  // container id -> name
  // "<namespace>/<pod>" of the pods with container links: an id of theirs that
  // has none is their sandbox (pause), not a container.
  std::unordered_set<std::string> linked_pods_;
  std::unordered_map<std::string, std::uint64_t> misses_;  // "<uid>/<id>" -> last scan for it
  std::uint64_t last_scan_ns_ = 0;
  bool scanned_ = false;
  std::atomic<std::uint64_t> generation_{1};
};

}  // namespace infrared::process
