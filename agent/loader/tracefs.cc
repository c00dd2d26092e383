#include "agent/loader/tracefs.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace infrared::loader {
namespace {

bool HasEvents(const char* root) {
  struct stat info;
  std::string events = std::string(root) + "/events";
  return stat(events.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace

bool EnsureTracefs(core::Logger& logger, std::string& error) {
  constexpr const char* kTracefs = "/sys/kernel/tracing";
  if (HasEvents(kTracefs) || HasEvents("/sys/kernel/debug/tracing")) return true;
  if (mount("tracefs", kTracefs, "tracefs", 0, nullptr) != 0) {
    error = std::string("tracefs is not mounted and mounting it at ") + kTracefs + " failed (" +
            std::strerror(errno) +
            "); mount it with 'mount -t tracefs tracefs /sys/kernel/tracing' and start again";
    return false;
  }
  logger.Info("loader", "tracefs was not mounted; mounted it", {{"path", kTracefs}});
  return true;
}

}  // namespace infrared::loader
