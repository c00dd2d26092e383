#include "agent/process/kube_pod_json.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace infrared::process {
namespace {

// Every access below is checked for type first: nlohmann throws only on
// unchecked access, so hostile JSON cannot throw without a try/catch.
using Json = nlohmann::json;

// Labels become attributes on every series and span of the pod: bounded so
// that one pod's labels cannot swamp them.
constexpr std::size_t kMaxLabels = 64;
constexpr std::size_t kMaxLabelBytes = 256;
constexpr std::size_t kContainerIdLength = 64;

constexpr std::array<std::string_view, 3> kStatusLists = {
    "containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"};
constexpr std::array<std::string_view, 2> kContainerLists = {"containers", "initContainers"};

Json Parse(std::string_view text) {
  // nlohmann takes a raw NUL for the end of the text, so "{...}\0junk" would
  // pass; JSON holds no raw NUL anywhere (U+0000 is written "\u0000").
  if (text.find('\0') != std::string_view::npos) return Json(Json::value_t::discarded);
  return Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
}

// The member `key` of `object`; null when there is no object or no such member.
const Json* Member(const Json* object, std::string_view key) {
  if (object == nullptr || !object->is_object()) return nullptr;
  const auto it = object->find(key);
  return it == object->end() ? nullptr : &*it;
}

// The string member `key` of `object`; empty when missing or not a string.
std::string_view Text(const Json* object, std::string_view key) {
  const Json* value = Member(object, key);
  if (value == nullptr || !value->is_string()) return {};
  return value->get_ref<const std::string&>();
}

const Json* ArrayMember(const Json* object, std::string_view key) {
  const Json* value = Member(object, key);
  return value != nullptr && value->is_array() ? value : nullptr;
}

// "containerd://<id>", "cri-o://<id>", "docker://<id>": the id, lowercased,
// when it is 64 hex digits (the form cgroup paths carry), else empty.
std::string ContainerIdOf(std::string_view uri) {
  const std::size_t scheme = uri.find("://");
  const std::string_view id = scheme == std::string_view::npos ? uri : uri.substr(scheme + 3);
  if (id.size() != kContainerIdLength) return {};
  std::string lower(id);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'F') {
      c = static_cast<char>(c - 'A' + 'a');
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return {};
    }
  }
  return lower;
}

StringPairs LabelsOf(const Json* labels) {
  StringPairs out;
  if (labels == nullptr || !labels->is_object()) return out;
  // Objects iterate in key order, so the cap keeps the first labels by key.
  for (const auto& item : labels->items()) {
    if (out.size() == kMaxLabels) break;
    const Json& value = item.value();
    if (!value.is_string()) continue;
    const std::string& text = value.get_ref<const std::string&>();
    if (item.key().size() > kMaxLabelBytes || text.size() > kMaxLabelBytes) continue;
    out.emplace_back(item.key(), text);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The containers with a known id, sorted by id; an id listed twice keeps its
// first name.
StringPairs ContainersOf(const Json* status) {
  StringPairs out;
  for (std::string_view list : kStatusLists) {
    const Json* statuses = ArrayMember(status, list);
    if (statuses == nullptr) continue;
    for (const Json& entry : *statuses) {
      std::string id = ContainerIdOf(Text(&entry, "containerID"));
      const std::string_view name = Text(&entry, "name");
      if (!id.empty() && !name.empty()) out.emplace_back(std::move(id), name);
    }
  }
  const auto by_id = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::stable_sort(out.begin(), out.end(), by_id);
  const auto same_id = [](const auto& a, const auto& b) { return a.first == b.first; };
  out.erase(std::unique(out.begin(), out.end(), same_id), out.end());
  return out;
}

std::vector<std::string> ContainerNamesOf(const Json* spec) {
  std::vector<std::string> out;
  for (std::string_view list : kContainerLists) {
    const Json* containers = ArrayMember(spec, list);
    if (containers == nullptr) continue;
    for (const Json& container : *containers) {
      const std::string_view name = Text(&container, "name");
      if (!name.empty()) out.emplace_back(name);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The owner reference marked controller, else the first.
const Json* ControllerOf(const Json* references) {
  if (references == nullptr || !references->is_array()) return nullptr;
  const Json* first = nullptr;
  for (const Json& reference : *references) {
    if (!reference.is_object()) continue;
    const Json* controller = Member(&reference, "controller");
    if (controller != nullptr && controller->is_boolean() && controller->get<bool>()) {
      return &reference;
    }
    if (first == nullptr) first = &reference;
  }
  return first;
}

// A Deployment's pods are owned by a ReplicaSet named "<deployment>-<hash>",
// the hash also being the pod's pod-template-hash label: the Deployment is
// the workload people know, and it outlives its ReplicaSets.
void SetOwner(const Json* metadata, PodInfo& pod) {
  const Json* owner = ControllerOf(Member(metadata, "ownerReferences"));
  const std::string_view kind = Text(owner, "kind");
  const std::string_view name = Text(owner, "name");
  if (kind.empty() || name.empty()) return;
  const std::string_view hash = Text(Member(metadata, "labels"), "pod-template-hash");
  if (kind == "ReplicaSet" && !hash.empty() && name.size() > hash.size() + 1 &&
      name.ends_with(hash) && name[name.size() - hash.size() - 1] == '-') {
    pod.owner_kind = "Deployment";
    pod.owner_name = name.substr(0, name.size() - hash.size() - 1);
    return;
  }
  pod.owner_kind = kind;
  pod.owner_name = name;
}

std::optional<PodInfo> PodFromObject(const Json& object) {
  const Json* metadata = Member(&object, "metadata");
  PodInfo pod;
  pod.uid = Text(metadata, "uid");
  if (pod.uid.empty()) return std::nullopt;
  pod.namespace_name = Text(metadata, "namespace");
  pod.name = Text(metadata, "name");
  const Json* spec = Member(&object, "spec");
  pod.node_name = Text(spec, "nodeName");
  SetOwner(metadata, pod);
  pod.labels = LabelsOf(Member(metadata, "labels"));
  pod.containers = ContainersOf(Member(&object, "status"));
  pod.container_names = ContainerNamesOf(spec);
  return pod;
}

std::optional<PodWatchEvent::Type> EventTypeOf(std::string_view type) {
  using Type = PodWatchEvent::Type;
  if (type == "ADDED") return Type::kAdded;
  if (type == "MODIFIED") return Type::kModified;
  if (type == "DELETED") return Type::kDeleted;
  if (type == "BOOKMARK") return Type::kBookmark;
  if (type == "ERROR") return Type::kError;
  return std::nullopt;
}

// A Status object's HTTP code; 0 when missing or not an int.
int StatusCodeOf(const Json* code) {
  constexpr std::int64_t kMax = std::numeric_limits<int>::max();
  if (code == nullptr) return 0;
  if (code->is_number_unsigned()) {
    const std::uint64_t value = code->get<std::uint64_t>();
    return value <= static_cast<std::uint64_t>(kMax) ? static_cast<int>(value) : 0;
  }
  if (code->is_number_integer()) {
    const std::int64_t value = code->get<std::int64_t>();
    return value >= std::numeric_limits<int>::min() && value <= kMax ? static_cast<int>(value) : 0;
  }
  return 0;
}

}  // namespace

std::optional<PodInfo> PodFromJson(std::string_view json) { return PodFromObject(Parse(json)); }

std::optional<PodList> PodListFromJson(std::string_view json) {
  const Json root = Parse(json);
  const Json* items = Member(&root, "items");
  // Go writes an empty slice as null; any other non-array is no list.
  if (items == nullptr || !(items->is_array() || items->is_null())) return std::nullopt;
  PodList list;
  list.resource_version = Text(Member(&root, "metadata"), "resourceVersion");
  for (const Json& item : *items) {  // null iterates as empty
    // One odd item must not cost the node all its pods.
    if (std::optional<PodInfo> pod = PodFromObject(item)) list.pods.push_back(std::move(*pod));
  }
  return list;
}

std::optional<PodWatchEvent> PodWatchEventFromJson(std::string_view line) {
  const Json root = Parse(line);
  const std::optional<PodWatchEvent::Type> type = EventTypeOf(Text(&root, "type"));
  if (!type) return std::nullopt;
  PodWatchEvent event;
  event.type = *type;
  const Json* object = Member(&root, "object");
  event.resource_version = Text(Member(object, "metadata"), "resourceVersion");
  switch (event.type) {
    case PodWatchEvent::Type::kError:
      // Reported even when the Status is odd: the watch must restart either way.
      event.error_code = StatusCodeOf(Member(object, "code"));
      return event;
    case PodWatchEvent::Type::kBookmark:
      // A bookmark is only its version; without one it says nothing.
      if (event.resource_version.empty()) return std::nullopt;
      return event;
    default:
      if (object == nullptr) return std::nullopt;
      event.pod = PodFromObject(*object);
      if (!event.pod) return std::nullopt;
      return event;
  }
}

}  // namespace infrared::process
