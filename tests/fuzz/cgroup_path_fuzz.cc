// Feeds arbitrary text to both cgroup parsers. Whatever the input, an id is 64
// lowercase hex digits, a uid has the API's 8-4-4-4-12 form, a runtime is one
// of the four and comes with an id; a lone path reads the same as a cgroup v2
// file naming it, and CRLF line ends read the same as LF.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/process/cgroup_path.h"

namespace {

using namespace infrared::process;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

void CheckRef(const CgroupRef& ref) {
  Check(ref.container_id.empty() || ref.container_id.size() == 64);
  for (char c : ref.container_id) Check(IsLowerHex(c));
  Check(ref.pod_uid.empty() || ref.pod_uid.size() == 36);
  for (std::size_t i = 0; i < ref.pod_uid.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    Check(dash ? ref.pod_uid[i] == '-' : IsLowerHex(ref.pod_uid[i]));
  }
  Check(ref.runtime.empty() || ref.runtime == "containerd" || ref.runtime == "cri-o" ||
        ref.runtime == "docker" || ref.runtime == "podman");
  Check(ref.runtime.empty() || !ref.container_id.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const CgroupRef path = ParseCgroupPath(text);
  CheckRef(path);
  const CgroupRef file = ParseProcCgroup(text);
  CheckRef(file);
  if (text.find_first_of("\r\n") == std::string_view::npos) {
    Check(ParseProcCgroup("0::" + std::string(text)) == path);
  }
  if (text.find('\r') == std::string_view::npos) {
    std::string crlf;
    for (char c : text) {
      if (c == '\n') crlf += '\r';
      crlf += c;
    }
    Check(ParseProcCgroup(crlf) == file);
  }
  return 0;
}
