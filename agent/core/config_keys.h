#pragma once

#include <span>

#include "agent/core/config_values.h"

namespace infrared::core {

// Every setting of the agent, in the order --help shows them. This table is
// the only place a key is described, so YAML, flags, --help and ConfigKeys()
// cannot drift apart.
std::span<const KeySpec> KeySpecs();

}  // namespace infrared::core
