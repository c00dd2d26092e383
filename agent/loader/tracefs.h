#pragma once

#include <string>

#include "agent/core/logging.h"

namespace infrared::loader {

// Makes sure tracefs is mounted, as tracepoint attachment needs it. Mounts it
// at /sys/kernel/tracing when neither that nor /sys/kernel/debug/tracing has
// it, and says so in the log. Returns false with `error` set when it cannot.
bool EnsureTracefs(core::Logger& logger, std::string& error);

}  // namespace infrared::loader
