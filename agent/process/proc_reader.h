#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/process/cgroup_path.h"

namespace infrared::process {

// Figures of /proc/<pid>/stat the agent uses.
struct ProcStat {
  std::uint32_t ppid = 0;
  std::string comm;
  std::uint64_t flags = 0;
  std::uint64_t faults = 0;       // minflt + majflt
  std::uint64_t cpu_ticks = 0;    // utime + stime, in clock ticks
  std::uint64_t start_ticks = 0;  // starttime, clock ticks after boot
};

// Figures of /proc/<pid>/status the agent uses, in bytes.
struct ProcStatus {
  std::uint64_t vm_bytes = 0;
  std::uint64_t rss_anon_bytes = 0;
  std::uint64_t rss_file_bytes = 0;
  std::uint64_t rss_shmem_bytes = 0;
};

// Parses the contents of /proc/<pid>/stat. comm may hold spaces and ')', so
// the fields are counted from the last ')'. nullopt on malformed input.
std::optional<ProcStat> ParseProcStat(std::string_view text);

// Parses the contents of /proc/<pid>/status; missing fields stay zero (kernel
// threads have no Vm lines). nullopt on malformed input.
std::optional<ProcStatus> ParseProcStatus(std::string_view text);

// Finds NAME=value in the NUL-separated contents of /proc/<pid>/environ.
std::optional<std::string> FindEnvironVar(std::string_view environ, std::string_view name);

using ResourceAttributes = std::vector<std::pair<std::string, std::string>>;

// Parses OTEL_RESOURCE_ATTRIBUTES ("key=value,key2=value2", values
// percent-decoded). Malformed pairs are skipped; at most 32 pairs of at most
// 256 bytes each are kept.
ResourceAttributes ParseResourceAttributes(std::string_view text);

// Joins a command line's arguments with spaces, replacing what looks like a
// secret with "[REDACTED]": an argument naming one (authorization, bearer,
// token, secret, password, api key, credential) loses its value after '=' or
// ':' (or all of it), and a flag so named ("--token") loses the next argument.
std::string RedactCommandLine(const std::vector<std::string_view>& arguments);

// A process's own OpenTelemetry identity, from its environment.
struct ProcIdentity {
  std::optional<std::string> service_name;  // OTEL_SERVICE_NAME, else service.name below
  ResourceAttributes resource_attributes;   // OTEL_RESOURCE_ATTRIBUTES
};
ProcIdentity IdentityFromEnviron(std::string_view environ);
// The same from the two variables' values (nullopt: not set).
ProcIdentity IdentityFromVariables(std::optional<std::string> service_name,
                                   const std::optional<std::string>& resource_attributes);

// The command line from NUL-separated arguments (/proc/<pid>/cmdline's form):
// joined by spaces, secrets redacted (RedactCommandLine), at most
// ProcReader::kCommandLineCap bytes.
std::string CommandLineFromArguments(std::string_view raw);

// What the agent knows of a process from /proc.
struct ProcSnapshot {
  std::uint32_t pid = 0;
  std::uint32_t ppid = 0;
  std::string executable_name;  // basename of /proc/<pid>/exe, else comm
  std::string service_name;     // OTEL_SERVICE_NAME, else executable_name
  bool service_name_from_environment = false;  // service_name came from OTEL_* variables
  CgroupRef cgroup;             // container and pod, from /proc/<pid>/cgroup
  std::string command_line;     // /proc/<pid>/cmdline, arguments joined by spaces, capped
  ResourceAttributes resource_attributes;
  bool kernel_thread = false;
  std::uint64_t start_ticks = 0;
  std::uint64_t cpu_ns = 0;
  std::uint64_t faults = 0;
  ProcStatus memory;
};

// Reads processes from a procfs root (a directory in tests).
class ProcReader {
 public:
  explicit ProcReader(std::string root = "/proc");

  // Numeric entries of the root: the processes (not threads) alive now.
  std::vector<std::uint32_t> ListPids() const;
  // nullopt when the process is gone or unreadable.
  std::optional<ProcSnapshot> Read(std::uint32_t pid) const;
  // OTEL_SERVICE_NAME from the process's environment, if set and readable.
  std::optional<std::string> ServiceNameFromEnviron(std::uint32_t pid) const;
  ProcIdentity Identity(std::uint32_t pid) const;
  // /proc/<pid>/environ, NUL-separated; nullopt when gone or unreadable.
  std::optional<std::string> Environ(std::uint32_t pid) const;
  // CommandLineFromArguments of /proc/<pid>/cmdline.
  std::string CommandLine(std::uint32_t pid) const;
  static constexpr std::size_t kCommandLineCap = 1024;
  std::optional<ProcStatus> ReadStatus(std::uint32_t pid) const;
  // The container and pod /proc/<pid>/cgroup names; empty when none or unreadable.
  CgroupRef Cgroup(std::uint32_t pid) const;
  // Basename of the /proc/<pid>/exe link (symlinks resolved, " (deleted)" cut).
  std::optional<std::string> ExecutableName(std::uint32_t pid) const;

 private:
  std::optional<std::string> ReadFile(std::uint32_t pid, const char* name, std::size_t cap) const;

  std::string root_;
  std::uint64_t ns_per_tick_;
};

}  // namespace infrared::process
