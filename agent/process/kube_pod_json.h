#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/process/pod_info.h"

namespace infrared::process {

// The API server's pod JSON, parsed. Every function is total: malformed or
// hostile input gives nullopt (or an event of type kError), never an exception.

// One Pod object (the "object" of a watch event, an item of a PodList).
// nullopt without a string metadata.uid; any other field of the wrong type is
// left empty rather than losing the pod.
std::optional<PodInfo> PodFromJson(std::string_view json);

// GET /api/v1/pods?fieldSelector=spec.nodeName%3D<node>: the pods and the
// list's metadata.resourceVersion, from which a watch continues. Items that
// are no pod are skipped; nullopt unless "items" is an array (or null: Go's
// empty slice).
struct PodList {
  std::vector<PodInfo> pods;
  std::string resource_version;
};
std::optional<PodList> PodListFromJson(std::string_view json);

// One line of a watch stream (?watch=1): {"type":"ADDED","object":{...}}.
// nullopt for an unknown type, a pod event whose object is no pod, or a
// BOOKMARK without a version; an ERROR is an event whatever its object holds.
struct PodWatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kError;
  std::optional<PodInfo> pod;    // ADDED, MODIFIED, DELETED
  std::string resource_version;  // the object's metadata.resourceVersion
  int error_code = 0;            // ERROR: the Status object's code (410: the version is gone)
};
std::optional<PodWatchEvent> PodWatchEventFromJson(std::string_view line);

}  // namespace infrared::process
