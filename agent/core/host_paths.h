#pragma once

#include <string>
#include <vector>

#include "agent/core/config.h"

namespace infrared::core {

// A path on the host the agent reads (or writes), and how a container gets it.
struct HostPath {
  std::string path;
  std::string how;     // "hostPath": a hostPath volume at the same path; "hostPID": /proc
                       // with hostPID; "sysfs": any container's /sys; "serviceAccount":
                       // the projected service account token
  std::string access;  // "ro" or "rw"
  std::string why;
};

// Every host path the agent uses with this configuration; what
// `infrared --print-host-paths` prints and deploy/kubernetes mounts.
std::vector<HostPath> HostPaths(const Config& config);

// One line per path: path, how, access, why, separated by tabs.
std::string FormatHostPaths(const std::vector<HostPath>& paths);

}  // namespace infrared::core
