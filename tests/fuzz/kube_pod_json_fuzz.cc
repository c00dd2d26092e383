// Feeds arbitrary text to the three pod JSON readers. None may throw (an
// escaping exception aborts the run), and what they return keeps the header's
// promises: a uid, few and short labels sorted by key, container ids of 64
// lowercase hex digits sorted and unique, names sorted and unique. A pod reads
// the same alone, as a watch event's object and as a list's one item.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/process/kube_pod_json.h"

namespace {

using namespace infrared::process;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckPod(const PodInfo& pod) {
  Check(!pod.uid.empty());
  Check(pod.owner_kind.empty() == pod.owner_name.empty());
  Check(pod.labels.size() <= 64);
  for (const auto& [key, value] : pod.labels) Check(key.size() <= 256 && value.size() <= 256);
  Check(std::is_sorted(pod.labels.begin(), pod.labels.end()));
  for (std::size_t i = 0; i < pod.containers.size(); ++i) {
    const auto& [id, name] = pod.containers[i];
    Check(id.size() == 64 && !name.empty());
    for (char c : id) Check((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    Check(i == 0 || pod.containers[i - 1].first < id);
  }
  for (std::size_t i = 0; i < pod.container_names.size(); ++i) {
    Check(!pod.container_names[i].empty());
    Check(i == 0 || pod.container_names[i - 1] < pod.container_names[i]);
  }
}

void CheckEvent(const PodWatchEvent& event) {
  using Type = PodWatchEvent::Type;
  const bool has_pod =
      event.type == Type::kAdded || event.type == Type::kModified || event.type == Type::kDeleted;
  Check(event.pod.has_value() == has_pod);
  if (event.pod) CheckPod(*event.pod);
  Check(event.type == Type::kError || event.error_code == 0);
  Check(event.type != Type::kBookmark || !event.resource_version.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<PodInfo> pod = PodFromJson(text);
  if (pod) CheckPod(*pod);
  if (const std::optional<PodList> list = PodListFromJson(text)) {
    for (const PodInfo& item : list->pods) CheckPod(item);
  }
  if (const std::optional<PodWatchEvent> event = PodWatchEventFromJson(text)) CheckEvent(*event);
  // A byte-order mark is skipped only at the start of a text, not inside another.
  if (pod && !text.starts_with("\xEF\xBB\xBF")) {
    const std::optional<PodWatchEvent> added =
        PodWatchEventFromJson(R"({"type":"MODIFIED","object":)" + std::string(text) + "}");
    Check(added && added->pod == pod);
    const std::optional<PodList> list = PodListFromJson(R"({"items":[)" + std::string(text) + "]}");
    Check(list && list->pods.size() == 1 && list->pods[0] == *pod);
  }
  return 0;
}
