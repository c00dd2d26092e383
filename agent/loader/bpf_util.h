#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/core/logging.h"

struct bpf_program;
struct bpf_link;

namespace infrared::loader {

struct ProbeStatus {
  std::string name;  // the probe label: "sched_switch", ...
  bool attached = false;
};

// One program of a skeleton and where its link goes.
struct ProbeSlot {
  const char* name;
  bpf_program* program;
  bpf_link** link;
};

// Attaches each program on its own: one that cannot attach is logged once and
// reported as not attached, and the others go on.
std::vector<ProbeStatus> AttachEach(const std::vector<ProbeSlot>& slots, core::Logger& logger);

bool AnyAttached(const std::vector<ProbeStatus>& probes);

// Detaches the links concurrently and nulls them. Each tracepoint detach waits
// for an RCU grace period; one after the other, two dozen take seconds.
void DetachAll(const std::vector<bpf_link**>& links);

// The sum over CPUs of entry `index` of a per-CPU array of u64 (0 if unreadable).
std::uint64_t SumPerCpu(int map_fd, std::uint32_t index);

// Sends libbpf's own messages to `logger` (warnings as warn, the rest as debug).
void RouteLibbpfLogs(core::Logger& logger);

// One sentence for a failed skeleton load.
std::string LoadError(const char* what, int err);

}  // namespace infrared::loader
