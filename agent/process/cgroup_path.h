#pragma once

#include <string>
#include <string_view>

namespace infrared::process {

// What a process's cgroup path says about the container it runs in.
struct CgroupRef {
  std::string container_id;  // 64 lowercase hex digits; empty when not in a container
  std::string pod_uid;       // "8d4b2c1e-5f6a-...": dashes restored; empty when not in a pod
  std::string runtime;       // "containerd", "cri-o", "docker", "podman"; empty when unknown

  bool operator==(const CgroupRef&) const = default;
};

// One cgroup path, as /proc/<pid>/cgroup shows it after the second colon:
//   systemd driver  /kubepods.slice/kubepods-burstable.slice/
//                   kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope
//                   (crio-<id>.scope, docker-<id>.scope, libpod-<id>.scope)
//   cgroupfs driver /kubepods/burstable/pod<uid>/<id>, /kubepods/pod<uid>/<id> (guaranteed)
//   plain engines   /docker/<id>, /system.slice/docker-<id>.scope,
//                   /machine.slice/libpod-<id>.scope/container
// Leading "/.." components (a path seen from another cgroup namespace) and
// sub-cgroups below the container's are allowed; the outermost container
// component wins. cgroupfs drops ".scope" (crio-<id>), which is accepted too.
// Any bare 64-hex component is a container, of runtime "docker" under
// "docker" and unknown elsewhere. crio-conmon-<id>.scope (libpod-conmon-) is
// the runtime's monitor, not the container: no container id. A pod's own
// cgroup gives its uid alone. Never throws; an unrecognised path gives an
// empty CgroupRef.
CgroupRef ParseCgroupPath(std::string_view path);

// The whole of /proc/<pid>/cgroup ("hierarchy-ID:controllers:path" lines,
// cgroup v2's "0::path" and v1's "4:memory:path"): the unified (v2) line is
// tried first, then the v1 lines in order; the first naming a container wins,
// else the first naming a pod.
CgroupRef ParseProcCgroup(std::string_view text);

}  // namespace infrared::process
