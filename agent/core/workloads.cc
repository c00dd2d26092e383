#include "agent/core/workloads.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>

namespace infrared::core {
namespace {

std::uint64_t MonotonicNs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

}  // namespace

std::string NodeName(const Config& config) {
  if (!config.k8s_node_name.empty()) return config.k8s_node_name;
  if (const char* node = std::getenv("NODE_NAME"); node && *node) return node;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

Workloads::Workloads(const Config& config, Logger& logger, telemetry::SelfMetrics& self)
    : Workloads(config, NodeName(config), logger, self) {}

Workloads::Workloads(const Config& config, const std::string& node_name, Logger& logger,
                     telemetry::SelfMetrics& self)
    : logger_(logger),
      self_(self),
      catalog_({.pod_logs_dir = config.k8s_pod_logs_dir,
                .container_logs_dir = config.k8s_container_logs_dir,
                .node_name = node_name,
                .now_ns = MonotonicNs,
                .on_drop = [&self](const char* reason) { self.Dropped("k8s_pods", reason); }}),
      selector_(process::SelectionRules{config.select_executables, config.select_command_lines,
                                        config.select_containers, config.select_k8s_namespaces,
                                        config.select_k8s_pod_labels},
                process::SelectionRules{config.exclude_executables, config.exclude_command_lines,
                                        config.exclude_containers, config.exclude_k8s_namespaces,
                                        config.exclude_k8s_pod_labels},
                config.select_llm_only),
      api_(ResolveKubeApi(config.k8s_api, config.k8s_token_file, config.k8s_ca_file, node_name)) {
  self.Dropped("k8s_pods", "too_many_pods", 0);
}

void Workloads::Start() {
  catalog_.ScanLogDirectories();
  logger_.Info("k8s", "pods found in the kubelet's log directories",
               {{"pods", catalog_.PodCount()}});
  if (!api_) return;
  logger_.Info("k8s", "watching this node's pods on the API server",
               {{"url", api_->url}, {"node", api_->node_name}});
  watch_ = KubeWatch::Start(
      *api_, logger_, self_,
      {.replace = [this](std::vector<process::PodInfo> pods) { ReplaceFromApi(std::move(pods)); },
       .upsert = [this](process::PodInfo pod) { catalog_.UpsertFromApi(std::move(pod)); },
       .remove = [this](const std::string& uid) { catalog_.RemoveFromApi(uid); }});
}

void Workloads::ReplaceFromApi(std::vector<process::PodInfo> pods) {
  const bool none = pods.empty();
  catalog_.ReplaceFromApi(std::move(pods));
  // With no API pods, PodCount is what the log directories name.
  const std::size_t from_logs = none ? catalog_.PodCount() : 0;
  if (from_logs > 0 && !warned_empty_list_.exchange(true)) {
    logger_.Warn("k8s",
                 "the API server lists no pod on this node while the kubelet's log directory "
                 "names some: is the node's name right? Set k8s.node_name, or NODE_NAME from "
                 "spec.nodeName (in a pod the host name is the pod's)",
                 {{"node", api_->node_name}, {"pods_in_logs", from_logs}});
  }
}

void Workloads::Stop() { watch_.reset(); }

}  // namespace infrared::core
