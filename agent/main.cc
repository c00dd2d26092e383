// infrared: flags and wiring only; the work is in agent/core/daemon.cc.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "agent/core/config.h"
#include "agent/core/daemon.h"
#include "agent/core/host_paths.h"
#include "agent/core/logging.h"

#ifndef INFRARED_VERSION
#define INFRARED_VERSION "dev"
#endif

namespace {

// Bits of CapEff in /proc/self/status (include/uapi/linux/capability.h).
constexpr int kCapSysAdmin = 21;
constexpr int kCapPerfmon = 38;
constexpr int kCapBpf = 39;

bool HasCapability(unsigned long long effective, int capability) {
  return (effective >> capability) & 1ull;
}

// Loading tracing programs needs CAP_BPF with CAP_PERFMON, or CAP_SYS_ADMIN.
bool CanLoadBpf() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    unsigned long long effective = std::stoull(line.substr(7), nullptr, 16);
    return HasCapability(effective, kCapSysAdmin) ||
           (HasCapability(effective, kCapBpf) && HasCapability(effective, kCapPerfmon));
  }
  return geteuid() == 0;
}

bool HasKernelBtf() {
  struct stat info;
  return stat("/sys/kernel/btf/vmlinux", &info) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace infrared::core;
  std::string error;
  std::optional<CommandLine> command_line = ParseCommandLine(argc, argv, error);
  if (!command_line) {
    std::fprintf(stderr, "infrared: %s\n", error.c_str());
    return 2;
  }
  if (command_line->show_help) {
    std::fputs(HelpText().c_str(), stdout);
    return 0;
  }
  if (command_line->show_version) {
    std::printf("infrared %s\n", INFRARED_VERSION);
    return 0;
  }
  const Config& config = command_line->config;
  if (command_line->print_host_paths) {
    std::fputs(FormatHostPaths(HostPaths(config)).c_str(), stdout);
    return 0;
  }
  LogFormat format = LogFormat::kJson;
  LogLevel level = LogLevel::kInfo;
  ParseLogFormat(config.log_format, format);  // validated by ParseCommandLine
  ParseLogLevel(config.log_level, level);
  Logger logger(format, level);

  if (!CanLoadBpf()) {
    logger.Error("agent",
                 "infrared needs root, or the capabilities CAP_BPF and CAP_PERFMON, to load its "
                 "eBPF programs; run it with sudo or grant those capabilities");
    return 1;
  }
  if (!HasKernelBtf()) {
    logger.Error("agent",
                 "this kernel exposes no BTF (/sys/kernel/btf/vmlinux is missing); infrared "
                 "needs a kernel built with CONFIG_DEBUG_INFO_BTF=y");
    return 1;
  }
  return RunDaemon(config, logger);
}
