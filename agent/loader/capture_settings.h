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

  // Each CPU counts what it wrote since it last woke the reader: together they
  // leave at most a quarter of the ring buffer unread before a wakeup, however
  // small the buffer or many the CPUs (the reader waits for wakeups, so a
  // buffer the CPUs could fill between them without one would sit full).
  const long cpus = std::max(1L, sysconf(_SC_NPROCESSORS_CONF));
  rodata.wakeup_bytes = std::min<std::uint64_t>(
      256 << 10, std::max<std::uint64_t>(1, config.capture_events_buffer_bytes / 4 / cpus));
}

}  // namespace infrared::loader
