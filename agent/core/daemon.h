#pragma once

#include "agent/core/config.h"
#include "agent/core/logging.h"

namespace infrared::core {

// Runs the agent until SIGINT or SIGTERM: mounts tracefs if needed, loads and
// attaches the probes, seeds the process table, serves /metrics and keeps the
// table current from kernel events. Returns the process exit code: 0 after a
// signal, 1 when the kernel side or the endpoint cannot be set up.
int RunDaemon(const Config& config, Logger& logger);

}  // namespace infrared::core
