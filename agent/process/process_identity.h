#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "agent/process/pod_info.h"

namespace infrared::process {

// Who a process is, for the labels and span resource of its exchanges.
struct ProcessIdentity {
  std::string executable_name;
  std::string service_name;
  std::string command_line;
  std::vector<std::pair<std::string, std::string>> resource_attributes;  // its own OTEL_RESOURCE_ATTRIBUTES
  std::uint64_t start_id = 0;  // with the pid, names one process instance
  Workload workload;           // container and pod
  bool excluded = false;       // select.* / exclude.* leave it out: nothing is reported
  bool awaiting_llm = false;   // select.llm_only: only its LLM calls are reported, until the first

  bool operator==(const ProcessIdentity&) const = default;
};

}  // namespace infrared::process
