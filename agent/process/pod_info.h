#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace infrared::process {

using StringPairs = std::vector<std::pair<std::string, std::string>>;

// What the agent knows of one Kubernetes pod, from the kubelet's log
// directories or from the API server.
struct PodInfo {
  std::string uid;             // metadata.uid
  std::string namespace_name;  // metadata.namespace
  std::string name;            // metadata.name
  std::string node_name;       // spec.nodeName (API only)
  // The controller owning the pod, one level resolved: a ReplicaSet whose
  // name is "<deployment>-<pod-template-hash label>" becomes that Deployment;
  // a Job named "<cronjob>-<digits>" stays a Job. Empty without the API.
  std::string owner_kind;      // "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", ...
  std::string owner_name;
  StringPairs labels;          // metadata.labels, sorted by key (API only)
  // Container id (64 hex digits, without "containerd://") to container name,
  // from status.containerStatuses, initContainerStatuses and
  // ephemeralContainerStatuses, or from /var/log/containers link names.
  StringPairs containers;
  // Names of the pod's containers (log directories under
  // /var/log/pods/<ns>_<pod>_<uid>/, or spec.containers and initContainers):
  // a single name settles the container of a one-container pod.
  std::vector<std::string> container_names;

  bool operator==(const PodInfo&) const = default;
};

// A process's place in Kubernetes, as reported on its metrics and spans.
struct Workload {
  std::string container_id;
  std::string pod_uid;
  std::string namespace_name;
  std::string pod_name;
  std::string container_name;
  std::string owner_kind;
  std::string owner_name;
  std::string node_name;
  StringPairs pod_labels;

  bool operator==(const Workload&) const = default;
};

// The metric labels of a workload, in this order: k8s_namespace_name,
// k8s_pod_name, k8s_container_name, container_id (values may be empty:
// exposition leaves such labels out).
inline std::array<std::pair<const char*, std::string>, 4> WorkloadLabels(const Workload& w) {
  return {{{"k8s_namespace_name", w.namespace_name},
           {"k8s_pod_name", w.pod_name},
           {"k8s_container_name", w.container_name},
           {"container_id", w.container_id}}};
}
// The values of WorkloadLabels, in its order, without copying them.
inline std::array<std::string_view, 4> WorkloadLabelValues(const Workload& w) {
  return {w.namespace_name, w.pod_name, w.container_name, w.container_id};
}

}  // namespace infrared::process
