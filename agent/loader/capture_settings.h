#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "agent/core/config.h"

namespace infrared::loader {

// The settings bpf/lib/capture.bpf.h reads, the same in every object that
// includes it (the socket and the TLS probes). `Rodata` is a skeleton's rodata.
template <typename Rodata>
void SetCaptureSettings(Rodata& rodata, const core::Config& config) {
  rodata.capture_all = config.capture_executables.empty();
  rodata.self_tgid = static_cast<std::uint32_t>(getpid());

  rodata.wakeup_bytes = std::min<std::uint64_t>(256 << 10, config.capture_events_buffer_bytes / 4);
}

}  // namespace infrared::loader
