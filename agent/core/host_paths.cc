#include "agent/core/host_paths.h"

namespace infrared::core {

std::vector<HostPath> HostPaths(const Config& config) {
  std::vector<HostPath> paths = {
      {"/proc", "hostPID", "ro",
       "every process: stat, status, cmdline, environ, cgroup, exe, maps, and root for the TLS "
       "libraries inside containers"},
      {"/sys/kernel/btf/vmlinux", "sysfs", "ro", "kernel BTF, for CO-RE relocations"},
      {"/sys/kernel/tracing", "hostPath", "rw",
       "tracefs, needed to attach tracepoints; mounted by the agent when missing"},
  };
  if (!config.k8s_pod_logs_dir.empty()) {
    paths.push_back({config.k8s_pod_logs_dir, "hostPath", "ro",
                     "pod names, namespaces and container names (directory names only)"});
  }
  if (!config.k8s_container_logs_dir.empty()) {
    paths.push_back({config.k8s_container_logs_dir, "hostPath", "ro",
                     "container names by container id (link names only)"});
  }
  if (config.k8s_api != "off" && !config.k8s_token_file.empty()) {
    paths.push_back({config.k8s_token_file, "serviceAccount", "ro",
                     "bearer token for the API server watch"});
  }
  if (config.k8s_api != "off" && !config.k8s_ca_file.empty()) {
    paths.push_back({config.k8s_ca_file, "serviceAccount", "ro",
                     "CA certificates of the API server"});
  }
  return paths;
}

std::string FormatHostPaths(const std::vector<HostPath>& paths) {
  std::string out;
  for (const HostPath& path : paths) {
    out += path.path + "\t" + path.how + "\t" + path.access + "\t" + path.why + "\n";
  }
  return out;
}

}  // namespace infrared::core
