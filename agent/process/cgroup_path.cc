#include "agent/process/cgroup_path.h"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

namespace infrared::process {
namespace {

constexpr std::size_t kContainerIdLength = 64;
constexpr std::size_t kPodUidLength = 36;  // 8-4-4-4-12
constexpr std::string_view kPodPrefix = "pod";

// The names runtimes give a container's cgroup: a systemd scope with the
// systemd driver, a plain directory (no ".scope") with cgroupfs.
struct ScopePrefix {
  std::string_view prefix;
  std::string_view runtime;
};
constexpr std::array<ScopePrefix, 4> kScopePrefixes = {{
    {"cri-containerd-", "containerd"},
    {"crio-", "cri-o"},
    {"docker-", "docker"},
    {"libpod-", "podman"},
}};

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsDigits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Exactly 64 hex digits, lowercased so that ids compare equal whatever wrote them.
std::optional<std::string> ContainerId(std::string_view text) {
  if (text.size() != kContainerIdLength) return std::nullopt;
  std::string id(text);
  for (char& c : id) {
    if (!IsHexDigit(c)) return std::nullopt;
    c = LowerAscii(c);
  }
  return id;
}

// A uid's 36 characters, separated by dashes (cgroupfs) or by underscores
// (systemd, where '-' separates the slice hierarchy), in the API's form.
std::optional<std::string> PodUid(std::string_view text) {
  if (text.size() != kPodUidLength) return std::nullopt;
  std::string uid(text);
  for (std::size_t i = 0; i < uid.size(); ++i) {
    char& c = uid[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-' && c != '_') return std::nullopt;
      c = '-';
    } else {
      if (!IsHexDigit(c)) return std::nullopt;
      c = LowerAscii(c);
    }
  }
  return uid;
}

// "pod<uid>" (cgroupfs) or "<parent slices>-pod<uid_with_underscores>.slice"
// (systemd); the parent slices are not checked, so a kubelet with another
// cgroup root ("kubelet-kubepods-...") is understood too.
std::optional<std::string> PodOf(std::string_view component) {
  constexpr std::size_t kPodNameLength = kPodPrefix.size() + kPodUidLength;
  constexpr std::string_view kSlice = ".slice";
  if (component.ends_with(kSlice)) {
    component.remove_suffix(kSlice.size());
    if (component.size() <= kPodNameLength) return std::nullopt;
    if (component[component.size() - kPodNameLength - 1] != '-') return std::nullopt;
    component.remove_prefix(component.size() - kPodNameLength);
  }
  if (component.size() != kPodNameLength || !component.starts_with(kPodPrefix)) {
    return std::nullopt;
  }
  return PodUid(component.substr(kPodPrefix.size()));
}

// The container a cgroup path component names, if any. `parent` is the
// component above it: a bare id under "docker" is Docker's own cgroupfs layout.
std::optional<CgroupRef> ContainerOf(std::string_view component, std::string_view parent) {
  constexpr std::string_view kScope = ".scope";
  CgroupRef ref;
  std::string_view name = component;
  if (name.ends_with(kScope)) name.remove_suffix(kScope.size());
  for (const ScopePrefix& scope : kScopePrefixes) {
    // CRI-O's and Podman's monitors ("crio-conmon-<id>.scope") share the
    // prefix, but "conmon-<id>" is no id: the monitor is not the container.
    if (!name.starts_with(scope.prefix)) continue;
    std::optional<std::string> id = ContainerId(name.substr(scope.prefix.size()));
    if (!id) return std::nullopt;
    ref.container_id = std::move(*id);
    ref.runtime = scope.runtime;
    return ref;
  }
  // Bare ids: /docker/<id>, and the cgroupfs driver's /kubepods/.../pod<uid>/<id>,
  // which does not say which runtime made it.
  std::optional<std::string> id = ContainerId(component);
  if (!id) return std::nullopt;
  ref.container_id = std::move(*id);
  if (parent == "docker") ref.runtime = "docker";
  return ref;
}

}  // namespace

CgroupRef ParseCgroupPath(std::string_view path) {
  CgroupRef ref;
  std::string_view parent;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view component = path.substr(start, end - start);
    start = end + 1;
    // ".." (leading a path seen from another cgroup namespace) names nothing
    // and falls through like any other unknown component.
    if (component.empty()) continue;
    // The outermost container wins: cgroups below it (init.scope, a nested
    // engine's) are the container's own business.
    if (std::optional<CgroupRef> container = ContainerOf(component, parent)) {
      container->pod_uid = std::move(ref.pod_uid);
      return *container;
    }
    if (ref.pod_uid.empty()) {
      if (std::optional<std::string> uid = PodOf(component)) ref.pod_uid = std::move(*uid);
    }
    parent = component;
  }
  return ref;
}

CgroupRef ParseProcCgroup(std::string_view text) {
  // Ranked: a container named by the unified (v2) line, by a v1 line, then a
  // pod named by the unified line, by a v1 line. The unified line is often
  // last (hybrid hierarchies), so all are read; each once.
  std::optional<CgroupRef> unified_pod;
  std::optional<CgroupRef> v1_container;
  std::optional<CgroupRef> v1_pod;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    const std::size_t first = line.find(':');
    if (first == std::string_view::npos) continue;
    const std::size_t second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view hierarchy = line.substr(0, first);
    if (!IsDigits(hierarchy)) continue;
    // Paths may hold ':' themselves: everything after the second is the path.
    CgroupRef ref = ParseCgroupPath(line.substr(second + 1));
    const bool unified = hierarchy == "0" && second == first + 1;
    if (!ref.container_id.empty()) {
      if (unified) return ref;
      if (!v1_container) v1_container = std::move(ref);
    } else if (!ref.pod_uid.empty()) {
      std::optional<CgroupRef>& slot = unified ? unified_pod : v1_pod;
      if (!slot) slot = std::move(ref);
    }
  }
  if (v1_container) return *v1_container;
  if (unified_pod) return *unified_pod;
  if (v1_pod) return *v1_pod;
  return {};
}

}  // namespace infrared::process
