#include "agent/process/proc_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/process/fake_procfs.h"

namespace infrared::process {
namespace {

using namespace std::string_view_literals;
using ::testing::ElementsAre;

constexpr std::uint64_t kPfKthread = 0x00200000;

// A /proc/<pid>/stat line as the kernel writes it; the fields the parser does
// not use hold typical values.
std::string StatLine(std::uint32_t pid, const std::string& comm, std::uint32_t ppid,
                     std::uint64_t flags = 4194304, std::uint64_t minflt = 0,
                     std::uint64_t majflt = 0, std::uint64_t utime = 0, std::uint64_t stime = 0,
                     std::uint64_t start = 0) {
  return std::to_string(pid) + " (" + comm + ") S " + std::to_string(ppid) + " " +
         std::to_string(pid) + " 7883 0 -1 " + std::to_string(flags) + " " +
         std::to_string(minflt) + " 0 " + std::to_string(majflt) + " 0 " + std::to_string(utime) +
         " " + std::to_string(stime) + " 0 0 20 0 1 0 " + std::to_string(start) +
         " 3133440 395 18446744073709551615 94899940532224 94899940552105 140721026000528 0 0 0 0 "
         "0 0 0 0 0 17 1 0 0 0 0 0\n";
}

// ---- ParseProcStat ----

struct StatCase {
  const char* name;
  std::string text;
  std::optional<ProcStat> expected;
};

ProcStat Stat(std::uint32_t ppid, std::string comm, std::uint64_t flags, std::uint64_t faults,
              std::uint64_t cpu_ticks, std::uint64_t start_ticks) {
  ProcStat stat;
  stat.ppid = ppid;
  stat.comm = std::move(comm);
  stat.flags = flags;
  stat.faults = faults;
  stat.cpu_ticks = cpu_ticks;
  stat.start_ticks = start_ticks;
  return stat;
}

TEST(ParseProcStatTest, Table) {
  const std::string real =
      "8422 (cat) R 8419 8419 7883 0 -1 4194304 99 0 1 0 3 4 0 0 20 0 1 0 126827 3133440 395 "
      "18446744073709551615 94899940532224 94899940552105 140721026000528 0 0 0 0 0 0 0 0 0 17 1 "
      "0 0 0 0 0 94899940568112 94899940569728 94900080820224 140721026005632 140721026005652 "
      "140721026005652 140721026007019 0\n";
  // Fields 3 (state) to 22 (starttime): the fewest the parser accepts.
  const std::string minimal = "7 (x) S 1 7 7 0 -1 64 10 0 2 0 5 6 0 0 20 0 1 0 99";
  const StatCase cases[] = {
      {"real line", real, Stat(8419, "cat", 4194304, 100, 7, 126827)},
      {"without trailing newline", real.substr(0, real.size() - 1),
       Stat(8419, "cat", 4194304, 100, 7, 126827)},
      {"comm with spaces", StatLine(1234, "Web Content", 1, 4194560, 10, 1, 100, 50, 777),
       Stat(1, "Web Content", 4194560, 11, 150, 777)},
      {"comm with parens", StatLine(1234, "a) b) c", 99, 64, 1, 2, 3, 4, 5),
       Stat(99, "a) b) c", 64, 3, 7, 5)},
      {"comm that looks like fields", StatLine(1234, "x) S 5 5 5 5", 42, 64, 0, 0, 1, 1, 8),
       Stat(42, "x) S 5 5 5 5", 64, 0, 2, 8)},
      {"empty comm", StatLine(5, "", 1, 64, 0, 0, 0, 0, 1), Stat(1, "", 64, 0, 0, 1)},
      {"kernel thread", StatLine(2, "kthreadd", 0, 2129984, 0, 0, 0, 0, 1),
       Stat(0, "kthreadd", 2129984, 0, 0, 1)},
      {"exactly 20 fields after comm", minimal, Stat(1, "x", 64, 12, 11, 99)},
      {"19 fields after comm", minimal.substr(0, minimal.rfind(' ')), std::nullopt},
      {"cut after state", "1234 (bash) S", std::nullopt},
      {"cut at comm", "1234 (bash)", std::nullopt},
      {"empty", "", std::nullopt},
      {"no parens", "1234 bash S 1 1234 1234 0 -1 64 0 0 0 0 0 0 0 0 20 0 1 0 5", std::nullopt},
      {"no closing paren", "1234 (bash S 1 1234 1234 0 -1 64 0 0 0 0 0 0 0 0 20 0 1 0 5",
       std::nullopt},
      {"no opening paren", "1234 bash) S 1 1234 1234 0 -1 64 0 0 0 0 0 0 0 0 20 0 1 0 5",
       std::nullopt},
      {"parens reversed", "1234 )bash( S 1 1234 1234 0 -1 64 0 0 0 0 0 0 0 0 20 0 1 0 5",
       std::nullopt},
      {"non-numeric ppid", "7 (x) S one 7 7 0 -1 64 10 0 2 0 5 6 0 0 20 0 1 0 99", std::nullopt},
      {"non-numeric flags", "7 (x) S 1 7 7 0 -1 0x40 10 0 2 0 5 6 0 0 20 0 1 0 99", std::nullopt},
      {"non-numeric minflt", "7 (x) S 1 7 7 0 -1 64 1O 0 2 0 5 6 0 0 20 0 1 0 99", std::nullopt},
      {"non-numeric majflt", "7 (x) S 1 7 7 0 -1 64 10 0 z 0 5 6 0 0 20 0 1 0 99", std::nullopt},
      {"non-numeric utime", "7 (x) S 1 7 7 0 -1 64 10 0 2 0 5x 6 0 0 20 0 1 0 99", std::nullopt},
      {"non-numeric stime", "7 (x) S 1 7 7 0 -1 64 10 0 2 0 5 - 0 0 20 0 1 0 99", std::nullopt},
      {"non-numeric starttime", "7 (x) S 1 7 7 0 -1 64 10 0 2 0 5 6 0 0 20 0 1 0 9.9",
       std::nullopt},
      {"negative ppid", "7 (x) S -1 7 7 0 -1 64 10 0 2 0 5 6 0 0 20 0 1 0 99", std::nullopt},
      {"ppid above 32 bits", "7 (x) S 4294967296 7 7 0 -1 64 10 0 2 0 5 6 0 0 20 0 1 0 99",
       std::nullopt},
      {"double space shifts fields", "7 (x) S  1 7 7 0 -1 64 10 0 2 0 5 6 0 0 20 0 1 0 99",
       std::nullopt},
  };
  for (const StatCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::optional<ProcStat> got = ParseProcStat(c.text);
    ASSERT_EQ(got.has_value(), c.expected.has_value());
    if (!got) continue;
    EXPECT_EQ(got->ppid, c.expected->ppid);
    EXPECT_EQ(got->comm, c.expected->comm);
    EXPECT_EQ(got->flags, c.expected->flags);
    EXPECT_EQ(got->faults, c.expected->faults);
    EXPECT_EQ(got->cpu_ticks, c.expected->cpu_ticks);
    EXPECT_EQ(got->start_ticks, c.expected->start_ticks);
  }
}

// ---- ParseProcStatus ----

struct StatusCase {
  const char* name;
  std::string text;
  std::optional<ProcStatus> expected;
};

ProcStatus Status(std::uint64_t vm, std::uint64_t anon, std::uint64_t file, std::uint64_t shmem) {
  ProcStatus status;
  status.vm_bytes = vm;
  status.rss_anon_bytes = anon;
  status.rss_file_bytes = file;
  status.rss_shmem_bytes = shmem;
  return status;
}

TEST(ParseProcStatusTest, Table) {
  const std::string real =
      "Name:\tcat\nUmask:\t0022\nState:\tR (running)\nTgid:\t8422\nPid:\t8422\nPPid:\t8419\n"
      "VmPeak:\t    3776 kB\nVmSize:\t    3760 kB\nVmLck:\t       0 kB\nVmHWM:\t    2124 kB\n"
      "VmRSS:\t    2124 kB\nRssAnon:\t     144 kB\nRssFile:\t    1980 kB\n"
      "RssShmem:\t       8 kB\nVmData:\t     292 kB\nVmSwap:\t       0 kB\nThreads:\t1\n";
  const std::string kernel_thread =
      "Name:\tkthreadd\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t2\nPid:\t2\nPPid:\t0\n"
      "Kthread:\t1\nThreads:\t1\nSigQ:\t0/96365\n";
  const StatusCase cases[] = {
      {"real", real, Status(3760 * 1024, 144 * 1024, 1980 * 1024, 8 * 1024)},
      {"kernel thread", kernel_thread, Status(0, 0, 0, 0)},
      {"empty", "", Status(0, 0, 0, 0)},
      {"only RssFile", "RssFile:\t12 kB\n", Status(0, 0, 12 * 1024, 0)},
      {"no trailing newline", "VmSize:\t5 kB", Status(5 * 1024, 0, 0, 0)},
      {"spaces instead of tab", "RssAnon:     7 kB\n", Status(0, 7 * 1024, 0, 0)},
      {"similar names ignored", "VmSizeX:\tjunk\nRssAnonymous: x\nVmRSS:\t9 kB\n",
       Status(0, 0, 0, 0)},
      {"largest value", "VmSize:\t18014398509481983 kB\n",
       Status(18014398509481983ull << 10, 0, 0, 0)},
      {"value overflows bytes", "VmSize:\t18014398509481984 kB\n", std::nullopt},
      {"garbage value", "VmSize:\tlots kB\n", std::nullopt},
      {"garbage in a later field", real + "RssShmem:\t1x kB\n", std::nullopt},
      {"wrong unit", "VmSize:\t3760 MB\n", std::nullopt},
      {"no unit", "VmSize:\t3760\n", std::nullopt},
      {"no value", "VmSize:\t kB\n", std::nullopt},
      {"empty value", "VmSize:\n", std::nullopt},
      {"negative value", "RssAnon:\t-4 kB\n", std::nullopt},
  };
  for (const StatusCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::optional<ProcStatus> got = ParseProcStatus(c.text);
    ASSERT_EQ(got.has_value(), c.expected.has_value());
    if (!got) continue;
    EXPECT_EQ(got->vm_bytes, c.expected->vm_bytes);
    EXPECT_EQ(got->rss_anon_bytes, c.expected->rss_anon_bytes);
    EXPECT_EQ(got->rss_file_bytes, c.expected->rss_file_bytes);
    EXPECT_EQ(got->rss_shmem_bytes, c.expected->rss_shmem_bytes);
  }
}

// ---- FindEnvironVar ----

struct EnvironCase {
  const char* name;
  std::string_view environ;
  std::optional<std::string> expected;
};

TEST(FindEnvironVarTest, Table) {
  const EnvironCase cases[] = {
      {"only entry", "OTEL_SERVICE_NAME=checkout\0"sv, "checkout"},
      {"among others", "PATH=/bin\0OTEL_SERVICE_NAME=checkout\0HOME=/root\0"sv, "checkout"},
      {"first match wins", "OTEL_SERVICE_NAME=first\0OTEL_SERVICE_NAME=second\0"sv, "first"},
      {"no trailing NUL", "PATH=/bin\0OTEL_SERVICE_NAME=checkout"sv, "checkout"},
      {"value holds =", "OTEL_SERVICE_NAME=a=b\0"sv, "a=b"},
      {"empty value", "OTEL_SERVICE_NAME=\0"sv, ""},
      {"longer name is not a match", "OTEL_SERVICE_NAMEX=wrong\0"sv, std::nullopt},
      {"longer name then real one", "OTEL_SERVICE_NAMEX=wrong\0OTEL_SERVICE_NAME=right\0"sv,
       "right"},
      {"suffix is not a match", "MY_OTEL_SERVICE_NAME=wrong\0"sv, std::nullopt},
      {"name without =", "OTEL_SERVICE_NAME\0"sv, std::nullopt},
      {"shorter than name", "OTEL\0"sv, std::nullopt},
      {"empty", ""sv, std::nullopt},
      {"only NULs", "\0\0\0"sv, std::nullopt},
      {"absent", "PATH=/bin\0HOME=/root\0"sv, std::nullopt},
  };
  for (const EnvironCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(FindEnvironVar(c.environ, "OTEL_SERVICE_NAME"), c.expected);
  }
}

// ---- ProcReader ----

std::uint64_t NsPerTick() {
  return 1000000000ull / static_cast<std::uint64_t>(sysconf(_SC_CLK_TCK));
}

class ProcReaderTest : public ::testing::Test {
 protected:
  FakeProcfs procfs_;
};

TEST_F(ProcReaderTest, ListPidsIgnoresNonNumericEntries) {
  for (const char* dir : {"1", "42", "31337", "self", "sys", "12abc", "0", "-5", "net"}) {
    procfs_.MakeDir(dir);
  }
  procfs_.Write("uptime", "1.0 2.0\n");
  std::vector<std::uint32_t> pids = ProcReader(procfs_.root()).ListPids();
  std::sort(pids.begin(), pids.end());
  EXPECT_THAT(pids, ElementsAre(1u, 42u, 31337u));
}

TEST_F(ProcReaderTest, ListPidsOfMissingRootIsEmpty) {
  EXPECT_TRUE(ProcReader(procfs_.root() + "/absent").ListPids().empty());
}

TEST_F(ProcReaderTest, ReadsAProcess) {
  procfs_.Write("100/stat", StatLine(100, "fake-exe", 1, 4194304, 40, 2, 300, 49, 5000));
  procfs_.Write("100/status",
                "Name:\tfake-exe\nVmSize:\t  2048 kB\nRssAnon:\t 16 kB\nRssFile:\t 32 kB\n"
                "RssShmem:\t 4 kB\n");
  procfs_.Write("100/environ", "HOME=/root\0OTEL_SERVICE_NAME=checkout\0"sv);
  procfs_.Symlink("100/exe", "/usr/bin/fake-exe (deleted)");

  std::optional<ProcSnapshot> snapshot = ProcReader(procfs_.root()).Read(100);
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->pid, 100u);
  EXPECT_EQ(snapshot->ppid, 1u);
  EXPECT_EQ(snapshot->executable_name, "fake-exe");
  EXPECT_EQ(snapshot->service_name, "checkout");
  EXPECT_FALSE(snapshot->kernel_thread);
  EXPECT_EQ(snapshot->start_ticks, 5000u);
  EXPECT_EQ(snapshot->cpu_ns, 349 * NsPerTick());
  EXPECT_EQ(snapshot->faults, 42u);
  EXPECT_EQ(snapshot->memory.vm_bytes, 2048u * 1024);
  EXPECT_EQ(snapshot->memory.rss_anon_bytes, 16u * 1024);
  EXPECT_EQ(snapshot->memory.rss_file_bytes, 32u * 1024);
  EXPECT_EQ(snapshot->memory.rss_shmem_bytes, 4u * 1024);
}

TEST_F(ProcReaderTest, ExecutableNameFromExeLink) {
  struct Case {
    const char* target;
    const char* expected;
  };
  const Case cases[] = {
      {"/usr/bin/fake-exe", "fake-exe"},
      {"/usr/bin/fake-exe (deleted)", "fake-exe"},
      {"/opt/my app/bin/run me", "run me"},
      {"relative-exe", "relative-exe"},
  };
  std::uint32_t pid = 200;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.target);
    const std::string dir = std::to_string(pid);
    procfs_.Write(dir + "/stat", StatLine(pid, "comm-name", 1));
    procfs_.Symlink(dir + "/exe", c.target);
    std::optional<ProcSnapshot> snapshot = ProcReader(procfs_.root()).Read(pid);
    ASSERT_TRUE(snapshot.has_value());
    EXPECT_EQ(snapshot->executable_name, c.expected);
    // Without OTEL_SERVICE_NAME the service is named after the executable.
    EXPECT_EQ(snapshot->service_name, c.expected);
    ++pid;
  }
}

TEST_F(ProcReaderTest, WithoutExeLinkFallsBackToComm) {
  procfs_.Write("300/stat", StatLine(300, "my comm", 1));
  procfs_.Write("300/environ", "OTEL_SERVICE_NAME=\0"sv);  // empty: not a name
  std::optional<ProcSnapshot> snapshot = ProcReader(procfs_.root()).Read(300);
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->executable_name, "my comm");
  EXPECT_EQ(snapshot->service_name, "my comm");
  EXPECT_EQ(snapshot->memory.vm_bytes, 0u);
}

TEST_F(ProcReaderTest, KernelThread) {
  procfs_.Write("2/stat", StatLine(2, "kthreadd", 0, kPfKthread | 0x40, 0, 0, 7, 3, 1));
  procfs_.Write("2/status", "Name:\tkthreadd\nKthread:\t1\n");
  procfs_.Write("2/environ", "");
  procfs_.Symlink("2/exe", "/should/not/be/read");
  std::optional<ProcSnapshot> snapshot = ProcReader(procfs_.root()).Read(2);
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_TRUE(snapshot->kernel_thread);
  EXPECT_EQ(snapshot->executable_name, "kthreadd");
  EXPECT_EQ(snapshot->service_name, "kthreadd");
  EXPECT_EQ(snapshot->cpu_ns, 10 * NsPerTick());
}

TEST_F(ProcReaderTest, FlagsWithoutKthreadBitAreUserProcesses) {
  procfs_.Write("3/stat", StatLine(3, "user", 1, ~kPfKthread & 0xffffffffull));
  std::optional<ProcSnapshot> snapshot = ProcReader(procfs_.root()).Read(3);
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_FALSE(snapshot->kernel_thread);
}

TEST_F(ProcReaderTest, MissingOrMalformedProcessIsNullopt) {
  procfs_.Write("401/stat", "garbage\n");
  procfs_.MakeDir("402");  // exited between listing and reading: no files
  ProcReader reader(procfs_.root());
  EXPECT_FALSE(reader.Read(400).has_value());
  EXPECT_FALSE(reader.Read(401).has_value());
  EXPECT_FALSE(reader.Read(402).has_value());
}

TEST_F(ProcReaderTest, MalformedStatusLeavesMemoryZero) {
  procfs_.Write("500/stat", StatLine(500, "app", 1));
  procfs_.Write("500/status", "VmSize:\tnonsense kB\n");
  std::optional<ProcSnapshot> snapshot = ProcReader(procfs_.root()).Read(500);
  ASSERT_TRUE(snapshot.has_value());
  EXPECT_EQ(snapshot->memory.vm_bytes, 0u);
  EXPECT_FALSE(ProcReader(procfs_.root()).ReadStatus(500).has_value());
}

TEST_F(ProcReaderTest, ServiceNameFromEnviron) {
  procfs_.Write("600/environ", "A=1\0OTEL_SERVICE_NAME=billing\0"sv);
  procfs_.Write("601/environ", "A=1\0"sv);
  procfs_.Write("602/environ", "OTEL_SERVICE_NAME=\0"sv);
  ProcReader reader(procfs_.root());
  EXPECT_EQ(reader.ServiceNameFromEnviron(600), "billing");
  EXPECT_EQ(reader.ServiceNameFromEnviron(601), std::nullopt);
  EXPECT_EQ(reader.ServiceNameFromEnviron(602), std::nullopt);
  EXPECT_EQ(reader.ServiceNameFromEnviron(603), std::nullopt);
}

}  // namespace
}  // namespace infrared::process
