#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "agent/core/config.h"
#include "agent/core/kube_watch.h"
#include "agent/core/logging.h"
#include "agent/process/pod_catalog.h"
#include "agent/process/selection.h"
#include "agent/telemetry/self_metrics.h"

namespace infrared::core {

// This node's name: k8s.node_name, else $NODE_NAME (a DaemonSet sets it from
// spec.nodeName), else the host name.
std::string NodeName(const Config& config);

// Container and pod names for the process table (the kubelet's log
// directories, the API server when there is one), and the process selection.
class Workloads {
 public:
  Workloads(const Config& config, Logger& logger, telemetry::SelfMetrics& self);

  process::PodCatalog& Catalog() { return catalog_; }
  const process::ProcessSelector& Selector() const { return selector_; }

  // Reads the log directories and starts the API watch, if any.
  void Start();
  // Stops the API watch.
  void Stop();

 private:
  // Delegated to with NodeName(config), read once.
  Workloads(const Config& config, const std::string& node_name, Logger& logger,
            telemetry::SelfMetrics& self);
  // Hands a full pod list to the catalog; warns once if the API lists no pod on
  // this node while the log directories name some (a wrong node name).
  void ReplaceFromApi(std::vector<process::PodInfo> pods);

  Logger& logger_;
  telemetry::SelfMetrics& self_;
  process::PodCatalog catalog_;
  process::ProcessSelector selector_;
  std::optional<KubeApiSettings> api_;
  std::atomic<bool> warned_empty_list_{false};  // set by the watch thread
  std::unique_ptr<KubeWatch> watch_;
};

}  // namespace infrared::core
