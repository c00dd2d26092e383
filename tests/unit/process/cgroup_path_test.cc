#include "agent/process/cgroup_path.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>

namespace infrared::process {
namespace {

const std::string kId = "3f9a7c1e5b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c3e5b7d9f2a4c6e8b0d1f3a";
const std::string kOtherId = "b14e0c7c0fbd5de1f3b9a6e4d8c2a0f5e7b9d1c3a5f7e9b2d4c6a8e0f1b3d5c7";
const std::string kUid = "8d4b2c1e-5f6a-4b7c-9d8e-0f1a2b3c4d5e";
const std::string kOtherUid = "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5";

// The uid as the systemd driver writes it: '-' separates slices there.
std::string Underscored(std::string uid) {
  std::replace(uid.begin(), uid.end(), '-', '_');
  return uid;
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

CgroupRef Ref(std::string container_id, std::string pod_uid, std::string runtime) {
  return CgroupRef{std::move(container_id), std::move(pod_uid), std::move(runtime)};
}

struct PathCase {
  const char* name;
  std::string path;
  CgroupRef expected;
};

TEST(ParseCgroupPathTest, Table) {
  const std::string burstable = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                                Underscored(kUid) + ".slice";
  const std::string besteffort =
      "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + Underscored(kUid) +
      ".slice";
  const std::string guaranteed = "/kubepods.slice/kubepods-pod" + Underscored(kUid) + ".slice";
  const PathCase cases[] = {
      // systemd driver
      {"systemd burstable containerd", burstable + "/cri-containerd-" + kId + ".scope",
       Ref(kId, kUid, "containerd")},
      {"systemd besteffort containerd", besteffort + "/cri-containerd-" + kId + ".scope",
       Ref(kId, kUid, "containerd")},
      {"systemd guaranteed containerd", guaranteed + "/cri-containerd-" + kId + ".scope",
       Ref(kId, kUid, "containerd")},
      {"systemd cri-o", burstable + "/crio-" + kId + ".scope", Ref(kId, kUid, "cri-o")},
      {"systemd cri-o monitor is no container", burstable + "/crio-conmon-" + kId + ".scope",
       Ref("", kUid, "")},
      {"systemd cri-dockerd", besteffort + "/docker-" + kId + ".scope", Ref(kId, kUid, "docker")},
      {"kubelet with another cgroup root",
       "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
       "kubelet-kubepods-besteffort-pod" +
           Underscored(kUid) + ".slice/cri-containerd-" + kId + ".scope",
       Ref(kId, kUid, "containerd")},
      {"pod slice without container", burstable, Ref("", kUid, "")},
      {"guaranteed pod slice without container", guaranteed, Ref("", kUid, "")},
      {"sub-cgroup below the container", burstable + "/cri-containerd-" + kId + ".scope/init.scope",
       Ref(kId, kUid, "containerd")},
      {"nested engine below the container",
       burstable + "/cri-containerd-" + kId + ".scope/system.slice/docker-" + kOtherId + ".scope",
       Ref(kId, kUid, "containerd")},
      {"upper-case id", burstable + "/cri-containerd-" + Upper(kId) + ".scope",
       Ref(kId, kUid, "containerd")},
      {"upper-case uid",
       "/kubepods.slice/kubepods-pod" + Upper(Underscored(kUid)) + ".slice/crio-" + kId + ".scope",
       Ref(kId, kUid, "cri-o")},
      // cgroupfs driver
      {"cgroupfs burstable", "/kubepods/burstable/pod" + kUid + "/" + kId, Ref(kId, kUid, "")},
      {"cgroupfs besteffort", "/kubepods/besteffort/pod" + kUid + "/" + kId, Ref(kId, kUid, "")},
      {"cgroupfs guaranteed", "/kubepods/pod" + kUid + "/" + kId, Ref(kId, kUid, "")},
      {"cgroupfs cri-o", "/kubepods/burstable/pod" + kUid + "/crio-" + kId,
       Ref(kId, kUid, "cri-o")},
      {"cgroupfs cri-o monitor", "/kubepods/burstable/pod" + kUid + "/crio-conmon-" + kId,
       Ref("", kUid, "")},
      {"cgroupfs pod without container", "/kubepods/besteffort/pod" + kUid, Ref("", kUid, "")},
      // plain engines
      {"docker cgroupfs", "/docker/" + kId, Ref(kId, "", "docker")},
      {"docker systemd", "/system.slice/docker-" + kId + ".scope", Ref(kId, "", "docker")},
      {"podman container", "/machine.slice/libpod-" + kId + ".scope/container",
       Ref(kId, "", "podman")},
      {"podman rootless",
       "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId + ".scope",
       Ref(kId, "", "podman")},
      {"podman monitor", "/machine.slice/libpod-conmon-" + kId + ".scope", Ref("", "", "")},
      // seen from another cgroup namespace
      {"leading dot-dots",
       "/../../kubepods-besteffort-pod" + Underscored(kUid) + ".slice/cri-containerd-" + kId +
           ".scope",
       Ref(kId, kUid, "containerd")},
      {"leading dot-dots to docker", "/../../../system.slice/docker-" + kId + ".scope",
       Ref(kId, "", "docker")},
      {"only dot-dots", "/../..", Ref("", "", "")},
      // not containers
      {"root", "/", Ref("", "", "")},
      {"empty", "", Ref("", "", "")},
      {"session", "/user.slice/user-0.slice/session-1.scope", Ref("", "", "")},
      {"service", "/system.slice/containerd.service", Ref("", "", "")},
      {"init scope", "/init.scope", Ref("", "", "")},
      {"32 hex digits", "/process_api/ff52e1d79255e1a9340b02c0c036da9e", Ref("", "", "")},
      {"kubepods slice alone", "/kubepods.slice/kubepods-burstable.slice", Ref("", "", "")},
      {"docker alone", "/docker", Ref("", "", "")},
      {"63 hex digits", "/docker/" + kId.substr(1), Ref("", "", "")},
      {"65 hex digits", "/docker/" + kId + "0", Ref("", "", "")},
      {"non-hex digit", "/docker/" + kId.substr(1) + "g", Ref("", "", "")},
      {"scope with trailing text", "/system.slice/docker-" + kId + ".scopes", Ref("", "", "")},
      {"unknown scope prefix", "/system.slice/rkt-" + kId + ".scope", Ref("", "", "")},
      {"uid with a misplaced dash", "/kubepods/pod8d4b2c1e5-f6a-4b7c-9d8e-0f1a2b3c4d5e",
       Ref("", "", "")},
      {"uid too short", "/kubepods/pod" + kUid.substr(1), Ref("", "", "")},
      {"uid with non-hex digit", "/kubepods/pod" + kUid.substr(1) + "x", Ref("", "", "")},
      {"pod slice without dash", "/kubepods.slice/pod" + Underscored(kUid) + ".slice",
       Ref("", "", "")},
      {"pod slice with trailing text",
       "/kubepods.slice/kubepods-pod" + Underscored(kUid) + ".slices", Ref("", "", "")},
  };
  for (const PathCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ParseCgroupPath(c.path), c.expected) << c.path;
  }
}

struct FileCase {
  const char* name;
  std::string text;
  CgroupRef expected;
};

TEST(ParseProcCgroupTest, Table) {
  const std::string pod_slice = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" +
                                Underscored(kUid) + ".slice";
  const std::string containerd = pod_slice + "/cri-containerd-" + kId + ".scope";
  // A hybrid host: v1 controllers first, the unified line last.
  const std::string hybrid_docker =
      "12:pids:/docker/" + kId + "\n11:cpuset:/docker/" + kId + "\n10:memory:/docker/" + kId +
      "\n9:devices:/docker/" + kId + "\n8:net_cls,net_prio:/docker/" + kId +
      "\n7:freezer:/docker/" + kId + "\n6:perf_event:/docker/" + kId + "\n5:blkio:/docker/" + kId +
      "\n4:hugetlb:/docker/" + kId + "\n3:rdma:/\n2:cpu,cpuacct:/docker/" + kId +
      "\n1:name=systemd:/docker/" + kId + "\n0::/system.slice/containerd.service\n";
  const FileCase cases[] = {
      {"cgroup v2", "0::" + containerd + "\n", Ref(kId, kUid, "containerd")},
      {"hybrid docker", hybrid_docker, Ref(kId, "", "docker")},
      {"v1 container after v1 lines naming nothing",
       "1:name=systemd:/\n2:cpu:/\n4:memory:/docker/" + kId + "\n", Ref(kId, "", "docker")},
      {"v1 container after a v1 pod",
       "3:pids:/kubepods/burstable/pod" + kOtherUid + "\n4:memory:/kubepods/burstable/pod" + kUid +
           "/" + kId + "\n",
       Ref(kId, kUid, "")},
      {"v1 container beats a unified pod",
       "0::" + pod_slice + "\n4:memory:/kubepods/pod" + kOtherUid + "/" + kOtherId + "\n",
       Ref(kOtherId, kOtherUid, "")},
      {"unified container beats an earlier v1 container",
       "4:memory:/docker/" + kOtherId + "\n0::" + containerd + "\n", Ref(kId, kUid, "containerd")},
      {"unified pod beats an earlier v1 pod",
       "4:memory:/kubepods/pod" + kOtherUid + "\n0::" + pod_slice + "\n", Ref("", kUid, "")},
      {"first v1 pod", "4:memory:/kubepods/pod" + kOtherUid + "\n5:pids:/kubepods/pod" + kUid,
       Ref("", kOtherUid, "")},
      {"first unified line", "0::/docker/" + kId + "\n0::/docker/" + kOtherId + "\n",
       Ref(kId, "", "docker")},
      {"no newline at end", "0::" + containerd, Ref(kId, kUid, "containerd")},
      {"CRLF", "1:name=systemd:/\r\n0::" + containerd + "\r\n", Ref(kId, kUid, "containerd")},
      {"garbage lines",
       "garbage\n\n:::\nx:y:/docker/" + kOtherId + "\n-1::/docker/" + kOtherId + "\n0:/docker/" +
           kOtherId + "\n\x01\xff\n0::" + containerd + "\n",
       Ref(kId, kUid, "containerd")},
      {"colons in the path", "0::/weird:name/docker/" + kId + "\n", Ref(kId, "", "docker")},
      {"in a container's namespace", "0::/\n", Ref("", "", "")},
      {"not in a container", "0::/user.slice/user-0.slice/session-1.scope\n", Ref("", "", "")},
      {"empty", "", Ref("", "", "")},
      {"newlines only", "\n\n\r\n", Ref("", "", "")},
  };
  for (const FileCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ParseProcCgroup(c.text), c.expected);
  }
}

// Linear in the input: a quadratic parser would not finish these.
TEST(ParseProcCgroupTest, HugeInputs) {
  std::string many_lines;
  for (int i = 0; i < 200'000; ++i) many_lines += "4:memory:/system.slice/a.service\n";
  many_lines += "5:pids:/docker/" + kId + "\n";
  EXPECT_EQ(ParseProcCgroup(many_lines), Ref(kId, "", "docker"));

  const std::string long_line = "0::" + std::string(4'000'000, '/') + "docker/" + kId;
  EXPECT_EQ(ParseProcCgroup(long_line), Ref(kId, "", "docker"));

  std::string many_components = "0::";
  for (int i = 0; i < 200'000; ++i) {
    many_components += "/kubepods-pod" + Underscored(kUid) + ".slice";
  }
  EXPECT_EQ(ParseProcCgroup(many_components), Ref("", kUid, ""));
}

}  // namespace
}  // namespace infrared::process
