#pragma once

// The process table wired to a fake procfs, with the kernel's events built by
// hand, for process_table_test.cc and process_table_identity_test.cc.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/process/process_table.h"
#include "tests/unit/process/fake_procfs.h"

namespace infrared::process::table_test {

constexpr std::uint64_t kPfKthread = 0x00200000;
constexpr std::uint64_t kUserFlags = 4194304;

inline std::string StatLine(std::uint32_t pid, const std::string& comm, std::uint32_t ppid,
                            std::uint64_t flags, std::uint64_t faults, std::uint64_t cpu_ticks) {
  return std::to_string(pid) + " (" + comm + ") S " + std::to_string(ppid) + " " +
         std::to_string(pid) + " 1 0 -1 " + std::to_string(flags) + " " + std::to_string(faults) +
         " 0 0 0 " + std::to_string(cpu_ticks) + " 0 0 0 20 0 1 0 1000 3133440 395\n";
}

// A fake procfs that knows how the process table's tests fill it.
class TableProcfs : public FakeProcfs {
 public:
  // A user process with an exe link; kernel threads get neither exe nor memory.
  void AddProcess(std::uint32_t pid, std::uint32_t ppid, const std::string& exe,
                  std::string_view environ = "", bool kernel_thread = false) const {
    const std::string comm = exe.substr(exe.rfind('/') + 1).substr(0, 15);
    Write(pid, "stat",
          StatLine(pid, comm, ppid, kernel_thread ? kUserFlags | kPfKthread : kUserFlags, 25, 300));
    Write(pid, "environ", environ);
    if (kernel_thread) {
      Write(pid, "status", "Name:\t" + comm + "\nKthread:\t1\n");
      return;
    }
    Write(pid, "status", "VmSize:\t1000 kB\nRssAnon:\t10 kB\nRssFile:\t20 kB\nRssShmem:\t3 kB\n");
    Symlink(std::to_string(pid) + "/exe", exe);
  }
  void Write(std::uint32_t pid, const char* name, std::string_view contents) const {
    FakeProcfs::Write(std::to_string(pid) + "/" + name, contents);
  }
  void Remove(std::uint32_t pid) const { FakeProcfs::Remove(std::to_string(pid)); }
};

inline EventHeader Header(std::uint32_t pid, std::uint32_t ppid, std::string comm) {
  EventHeader header;
  header.pid = pid;
  header.ppid = ppid;
  header.tid = pid;
  header.timestamp_ns = 1;
  header.comm = std::move(comm);
  return header;
}

inline ForkEvent Fork(std::uint32_t pid, std::uint32_t ppid, std::string comm = "forked") {
  return ForkEvent{Header(pid, ppid, std::move(comm))};
}

inline ExecEvent Exec(std::uint32_t pid, std::uint32_t ppid, std::string filename,
                      std::string comm = "execd") {
  ExecEvent event;
  event.header = Header(pid, ppid, std::move(comm));
  event.filename = std::move(filename);
  return event;
}

inline ExitEvent Exit(std::uint32_t pid, std::int32_t code = 0,
                      std::optional<infrared_proc_stats> stats = std::nullopt) {
  ExitEvent event;
  event.header = Header(pid, 1, "gone");
  event.exit_code = code;
  event.has_stats = stats.has_value();
  if (stats) event.stats = *stats;
  return event;
}

class ProcessTableTest : public ::testing::Test {
 protected:
  ProcessTable MakeTable(std::size_t capacity = 64) {
    return ProcessTable(capacity, [this](const char* reason) { drops_.emplace_back(reason); });
  }

  // (pid, exited) of every entry VisitAndReap shows, in visiting order.
  static std::vector<std::pair<std::uint32_t, bool>> Visit(ProcessTable& table) {
    std::vector<std::pair<std::uint32_t, bool>> seen;
    table.VisitAndReap([&](ProcessEntry& entry) { seen.emplace_back(entry.pid, entry.exited); });
    return seen;
  }

  TableProcfs procfs_;
  ProcReader reader_{procfs_.root()};
  std::vector<std::string> drops_;
};

}  // namespace infrared::process::table_test
