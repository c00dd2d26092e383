#include "agent/process/process_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/unit/process/fake_procfs.h"

namespace infrared::process {
namespace {

using namespace std::string_view_literals;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr std::uint64_t kPfKthread = 0x00200000;
constexpr std::uint64_t kUserFlags = 4194304;

std::string StatLine(std::uint32_t pid, const std::string& comm, std::uint32_t ppid,
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

EventHeader Header(std::uint32_t pid, std::uint32_t ppid, std::string comm) {
  EventHeader header;
  header.pid = pid;
  header.ppid = ppid;
  header.tid = pid;
  header.timestamp_ns = 1;
  header.comm = std::move(comm);
  return header;
}

ForkEvent Fork(std::uint32_t pid, std::uint32_t ppid, std::string comm = "forked") {
  return ForkEvent{Header(pid, ppid, std::move(comm))};
}

ExecEvent Exec(std::uint32_t pid, std::uint32_t ppid, std::string filename,
               std::string comm = "execd") {
  ExecEvent event;
  event.header = Header(pid, ppid, std::move(comm));
  event.filename = std::move(filename);
  return event;
}

ExitEvent Exit(std::uint32_t pid, std::int32_t code = 0,
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

TEST_F(ProcessTableTest, RescanSeedsUserProcessesOnly) {
  procfs_.AddProcess(1, 0, "/usr/lib/systemd/systemd");
  procfs_.AddProcess(2, 0, "kthreadd", "", /*kernel_thread=*/true);
  procfs_.AddProcess(100, 1, "/usr/bin/app", "OTEL_SERVICE_NAME=checkout\0"sv);
  ProcessTable table = MakeTable();

  EXPECT_EQ(table.Rescan(reader_), 2u);
  EXPECT_EQ(table.LiveCount(), 2u);
  EXPECT_EQ(table.ExitedCount(), 0u);
  EXPECT_FALSE(table.Find(2).has_value());

  std::optional<ProcessEntry> app = table.Find(100);
  ASSERT_TRUE(app.has_value());
  EXPECT_EQ(app->ppid, 1u);
  EXPECT_EQ(app->executable_name, "app");
  EXPECT_EQ(app->service_name, "checkout");
  EXPECT_FALSE(app->exited);
  EXPECT_EQ(app->baseline.faults, 25u);
  EXPECT_EQ(app->baseline.cpu_ns, 300 * (1000000000ull / sysconf(_SC_CLK_TCK)));
  EXPECT_EQ(app->baseline.memory.vm_bytes, 1000u * 1024);
  EXPECT_EQ(app->baseline.memory.rss_anon_bytes, 10u * 1024);
  EXPECT_EQ(app->baseline.memory.rss_file_bytes, 20u * 1024);
  EXPECT_EQ(app->baseline.memory.rss_shmem_bytes, 3u * 1024);

  std::optional<ProcessEntry> init = table.Find(1);
  ASSERT_TRUE(init.has_value());
  EXPECT_EQ(init->executable_name, "systemd");
  EXPECT_EQ(init->service_name, "systemd");

  // A second rescan adds nothing new.
  EXPECT_EQ(table.Rescan(reader_), 0u);
  EXPECT_EQ(table.LiveCount(), 2u);
  EXPECT_THAT(drops_, IsEmpty());
}

TEST_F(ProcessTableTest, ForkInheritsParentNames) {
  procfs_.AddProcess(100, 1, "/usr/bin/app", "OTEL_SERVICE_NAME=checkout\0"sv);
  ProcessTable table = MakeTable();
  table.Rescan(reader_);
  // The child's /proc shows the pages it shares with its parent.
  procfs_.Write(101, "status", "VmSize:\t500 kB\nRssAnon:\t1 kB\nRssFile:\t2 kB\n");

  table.OnFork(Fork(101, 100, "app"), reader_);

  std::optional<ProcessEntry> child = table.Find(101);
  ASSERT_TRUE(child.has_value());
  EXPECT_EQ(child->ppid, 100u);
  EXPECT_EQ(child->executable_name, "app");
  EXPECT_EQ(child->service_name, "checkout");
  EXPECT_EQ(child->baseline.memory.vm_bytes, 500u * 1024);
  EXPECT_EQ(child->baseline.memory.rss_anon_bytes, 1u * 1024);
  EXPECT_EQ(child->baseline.memory.rss_file_bytes, 2u * 1024);
  EXPECT_EQ(child->baseline.cpu_ns, 0u);
  EXPECT_EQ(table.LiveCount(), 2u);
}

TEST_F(ProcessTableTest, ForkOfUnknownParentUsesComm) {
  ProcessTable table = MakeTable();
  table.OnFork(Fork(300, 299, "worker"), reader_);
  std::optional<ProcessEntry> child = table.Find(300);
  ASSERT_TRUE(child.has_value());
  EXPECT_EQ(child->ppid, 299u);
  EXPECT_EQ(child->executable_name, "worker");
  EXPECT_EQ(child->service_name, "worker");
  EXPECT_EQ(child->baseline.memory.vm_bytes, 0u);  // no /proc entry
}

TEST_F(ProcessTableTest, ForkOfKnownPidIsIgnored) {
  procfs_.AddProcess(100, 1, "/usr/bin/app");
  ProcessTable table = MakeTable();
  table.Rescan(reader_);

  table.OnFork(Fork(100, 55, "other"), reader_);

  std::optional<ProcessEntry> entry = table.Find(100);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->ppid, 1u);
  EXPECT_EQ(entry->executable_name, "app");
  EXPECT_EQ(entry->baseline.memory.vm_bytes, 1000u * 1024);
  EXPECT_EQ(table.LiveCount(), 1u);
}

TEST_F(ProcessTableTest, ExecRenamesAndResetsMemory) {
  struct Case {
    const char* name;
    std::string_view environ;
    std::string filename;
    std::string expected_executable;
    std::string expected_service;
    std::string exe_link = "";  // where /proc/<pid>/exe points after exec; empty: gone
  };
  const Case cases[] = {
      {"service from environ", "A=1\0OTEL_SERVICE_NAME=payments\0"sv, "/usr/local/bin/worker",
       "worker", "payments"},
      {"service from executable", "A=1\0"sv, "/usr/local/bin/worker", "worker", "worker"},
      {"empty service in environ", "OTEL_SERVICE_NAME=\0"sv, "./run.sh", "run.sh", "run.sh"},
      {"bare filename", ""sv, "python3", "python3", "python3"},
      {"empty filename uses comm", ""sv, "", "execd", "execd"},
      {"resolved executable wins", ""sv, "/usr/bin/python3", "python3.11", "python3.11",
       "/usr/bin/python3.11"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TableProcfs procfs;
    procfs.AddProcess(100, 1, "/usr/bin/sh", "OTEL_SERVICE_NAME=old\0"sv);
    ProcReader reader(procfs.root());
    ProcessTable table = MakeTable();
    table.Rescan(reader);
    // The kernel replaces the environment and the executable at exec.
    procfs.Write(100, "environ", c.environ);
    procfs.FakeProcfs::Remove("100/exe");
    if (!c.exe_link.empty()) procfs.Symlink("100/exe", c.exe_link);

    table.OnExec(Exec(100, 7, c.filename), reader);

    std::optional<ProcessEntry> entry = table.Find(100);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->ppid, 7u);
    EXPECT_EQ(entry->executable_name, c.expected_executable);
    EXPECT_EQ(entry->service_name, c.expected_service);
    EXPECT_EQ(entry->baseline.memory.vm_bytes, 0u);
    EXPECT_EQ(entry->baseline.memory.rss_anon_bytes, 0u);
    EXPECT_EQ(entry->baseline.memory.rss_file_bytes, 0u);
    EXPECT_EQ(entry->baseline.memory.rss_shmem_bytes, 0u);
    // The process is the same one: its CPU time and faults so far remain.
    EXPECT_EQ(entry->baseline.faults, 25u);
  }
}

TEST_F(ProcessTableTest, ExecOfUnknownPidAddsIt) {
  procfs_.Write(400, "environ", "OTEL_SERVICE_NAME=api\0"sv);
  ProcessTable table = MakeTable();
  table.OnExec(Exec(400, 3, "/srv/api-server"), reader_);
  std::optional<ProcessEntry> entry = table.Find(400);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->ppid, 3u);
  EXPECT_EQ(entry->executable_name, "api-server");
  EXPECT_EQ(entry->service_name, "api");
}

// An exec event carrying the argv and envp strings the kernel copied.
ExecEvent ExecWithStrings(std::uint32_t pid, std::string_view args, std::string_view env,
                          bool env_whole = true) {
  ExecEvent event = Exec(pid, 1, "/usr/sbin/nginx");
  event.arguments = ExecStrings{std::string(args), true, true};
  event.environment = ExecStrings{std::string(env), true, env_whole};
  return event;
}

TEST_F(ProcessTableTest, ExecNamesFromTheKernelsCopyNotFromProc) {
  // By the time the agent reads /proc, nginx has written its title over both.
  procfs_.Write(500, "environ", "ss -p /srv -c /srv/nginx.conf\0"sv);
  procfs_.Write(500, "cmdline", "nginx: master process /usr/sbin/nginx\0"sv);
  ProcessTable table = MakeTable();
  table.OnExec(ExecWithStrings(500, "/usr/sbin/nginx\0-c\0/srv/nginx.conf\0--token\0s3cret\0"sv,
                               "HOME=/\0OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=prod\0"
                               "OTEL_SERVICE_NAME=web\0"sv),
               reader_);
  std::optional<ProcessEntry> entry = table.Find(500);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->service_name, "web");
  EXPECT_TRUE(entry->service_name_from_environment);
  EXPECT_THAT(entry->resource_attributes, ElementsAre(Pair("deployment.environment.name", "prod")));
  EXPECT_EQ(entry->command_line, "/usr/sbin/nginx -c /srv/nginx.conf --token [REDACTED]");
}

TEST_F(ProcessTableTest, ExecIdentityFromACutCopyOrFromProc) {
  constexpr std::string_view kProc =
      "OTEL_SERVICE_NAME=from-proc\0OTEL_RESOURCE_ATTRIBUTES=team=proc\0"sv;
  struct Case {
    const char* name;
    std::string_view env;
    bool whole;
    bool read;
    const char* expected_service;
    const char* expected_team;  // the resource attribute "team", "" for none
  };
  const Case cases[] = {
      // The copy's last entry is a piece of one: never taken as a value.
      {"cut inside the variable: /proc", "A=1\0OTEL_SERVICE_NAME=we"sv, false, true, "from-proc",
       "proc"},
      {"cut before the variables: /proc", "A=1\0B=2\0"sv, false, true, "from-proc", "proc"},
      {"cut after one: the other from /proc", "OTEL_SERVICE_NAME=web\0C=3"sv, false, true, "web",
       "proc"},
      // OTEL_SERVICE_NAME past the cut still wins over the attributes' service.name.
      {"attributes in the copy, the name past the cut",
       "OTEL_RESOURCE_ATTRIBUTES=service.name=x,team=copy\0D"sv, false, true, "from-proc", "copy"},
      {"cut after both: the copy alone",
       "OTEL_SERVICE_NAME=web\0OTEL_RESOURCE_ATTRIBUTES=team=copy\0E=5"sv, false, true, "web",
       "copy"},
      // An empty OTEL_SERVICE_NAME is set, as in a whole copy: the attributes name it.
      {"an empty name in the copy",
       "OTEL_SERVICE_NAME=\0OTEL_RESOURCE_ATTRIBUTES=service.name=attr,team=copy\0X"sv, false,
       true, "attr", "copy"},
      {"whole copy without them: no /proc", "A=1\0"sv, true, true, "nginx", ""},
      {"not read by the kernel: /proc", ""sv, false, false, "from-proc", "proc"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TableProcfs procfs;
    procfs.AddProcess(600, 1, "/usr/sbin/nginx", kProc);
    ProcReader reader(procfs.root());
    ProcessTable table = MakeTable();
    ExecEvent event = ExecWithStrings(600, "nginx\0"sv, c.env, c.whole);
    event.environment.read = c.read;
    table.OnExec(event, reader);
    std::optional<ProcessEntry> entry = table.Find(600);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->service_name, c.expected_service);
    std::string team;
    for (const auto& [key, value] : entry->resource_attributes) {
      if (key == "team") team = value;
    }
    EXPECT_EQ(team, c.expected_team);
  }
}

TEST_F(ProcessTableTest, ExecArgumentsTheKernelCouldNotReadComeFromProc) {
  procfs_.Write(700, "cmdline", "python3\0app.py\0"sv);
  ProcessTable table = MakeTable();
  ExecEvent event = ExecWithStrings(700, ""sv, "A=1\0"sv);
  event.arguments = ExecStrings{};  // not read
  table.OnExec(event, reader_);
  ASSERT_TRUE(table.Find(700).has_value());
  EXPECT_EQ(table.Find(700)->command_line, "python3 app.py");
}

TEST_F(ProcessTableTest, ExitThenVisitAndReap) {
  ProcessTable table = MakeTable();
  table.OnFork(Fork(10, 1), reader_);
  table.OnFork(Fork(11, 1), reader_);
  infrared_proc_stats stats{};
  stats.cpu_ns = 5;
  table.OnExit(Exit(10, 0x0200, stats));
  table.OnExit(Exit(11, 9));

  EXPECT_EQ(table.LiveCount(), 0u);
  EXPECT_EQ(table.ExitedCount(), 2u);
  // Exited processes stay findable, for late events, until reported.
  ASSERT_TRUE(table.Find(10).has_value());
  EXPECT_TRUE(table.Find(10)->exited);

  std::vector<ProcessEntry> exited;
  table.VisitAndReap([&](ProcessEntry& entry) { exited.push_back(entry); });
  ASSERT_EQ(exited.size(), 2u);
  EXPECT_EQ(exited[0].pid, 10u);
  EXPECT_TRUE(exited[0].exited);
  EXPECT_EQ(exited[0].exit_status, 0x0200);
  ASSERT_TRUE(exited[0].final_stats.has_value());
  // Reported: no longer visited, but still known by pid for late socket events.
  ASSERT_TRUE(table.Find(10).has_value());
  EXPECT_TRUE(table.Find(10)->exited);
  int visited_again = 0;
  table.VisitAndReap([&](ProcessEntry&) { ++visited_again; });
  EXPECT_EQ(visited_again, 0);
  EXPECT_EQ(exited[0].final_stats->cpu_ns, 5u);
  EXPECT_EQ(exited[1].pid, 11u);
  EXPECT_EQ(exited[1].exit_status, 9);
  EXPECT_FALSE(exited[1].final_stats.has_value());
  EXPECT_EQ(table.ExitedCount(), 0u);
}

TEST_F(ProcessTableTest, VisitSeesLiveThenExitedAndForgetsExited) {
  ProcessTable table = MakeTable();
  for (std::uint32_t pid : {20u, 21u, 22u, 23u}) table.OnFork(Fork(pid, 1), reader_);
  table.OnExit(Exit(21));
  table.OnExit(Exit(23));

  auto first = Visit(table);
  ASSERT_EQ(first.size(), 4u);
  // Live ones first (in no particular order), then the exited in exit order.
  EXPECT_THAT(std::vector(first.begin(), first.begin() + 2),
              UnorderedElementsAre(Pair(20u, false), Pair(22u, false)));
  EXPECT_THAT(std::vector(first.begin() + 2, first.end()),
              ElementsAre(Pair(21u, true), Pair(23u, true)));

  EXPECT_THAT(Visit(table), UnorderedElementsAre(Pair(20u, false), Pair(22u, false)));
  EXPECT_EQ(table.LiveCount(), 2u);
  EXPECT_EQ(table.ExitedCount(), 0u);
}

TEST_F(ProcessTableTest, VisitorChangesPersistForLiveEntries) {
  ProcessTable table = MakeTable();
  table.OnFork(Fork(30, 1), reader_);
  table.VisitAndReap([](ProcessEntry& entry) { entry.reported_cpu_seconds = 2.5; });
  ASSERT_TRUE(table.Find(30).has_value());
  EXPECT_EQ(table.Find(30)->reported_cpu_seconds, 2.5);
}

TEST_F(ProcessTableTest, ExitOfUnknownPidIsIgnored) {
  ProcessTable table = MakeTable();
  table.OnExit(Exit(999));
  EXPECT_EQ(table.ExitedCount(), 0u);
  EXPECT_THAT(Visit(table), IsEmpty());
}

TEST_F(ProcessTableTest, RescanMarksMissingProcessExitedOnSecondMiss) {
  procfs_.AddProcess(100, 1, "/usr/bin/app");
  procfs_.AddProcess(101, 1, "/usr/bin/other");
  ProcessTable table = MakeTable();
  ASSERT_EQ(table.Rescan(reader_), 2u);
  procfs_.Remove(100);

  // Once missing: the exit event may still be on its way.
  table.Rescan(reader_);
  EXPECT_TRUE(table.Find(100).has_value());
  EXPECT_EQ(table.ExitedCount(), 0u);
  EXPECT_THAT(drops_, IsEmpty());

  // Twice: the exit event was lost.
  table.Rescan(reader_);
  ASSERT_TRUE(table.Find(100).has_value());
  EXPECT_TRUE(table.Find(100)->exited);
  EXPECT_TRUE(table.Find(101).has_value());
  EXPECT_EQ(table.ExitedCount(), 1u);
  EXPECT_THAT(drops_, ElementsAre("exit_event_missed"));

  auto seen = Visit(table);
  EXPECT_THAT(seen, ElementsAre(Pair(101u, false), Pair(100u, true)));

  // Nothing more is counted for it later.
  table.Rescan(reader_);
  EXPECT_THAT(drops_, ElementsAre("exit_event_missed"));
}

TEST_F(ProcessTableTest, RescanMissesMustBeConsecutive) {
  procfs_.AddProcess(100, 1, "/usr/bin/app");
  ProcessTable table = MakeTable();
  table.Rescan(reader_);

  procfs_.Remove(100);
  table.Rescan(reader_);  // missing once
  procfs_.AddProcess(100, 1, "/usr/bin/app");
  table.Rescan(reader_);  // back
  procfs_.Remove(100);
  table.Rescan(reader_);  // missing once again

  EXPECT_TRUE(table.Find(100).has_value());
  EXPECT_EQ(table.ExitedCount(), 0u);
  EXPECT_THAT(drops_, IsEmpty());
}

TEST_F(ProcessTableTest, ExitEventBetweenRescansIsNotCountedAsMissed) {
  procfs_.AddProcess(100, 1, "/usr/bin/app");
  ProcessTable table = MakeTable();
  table.Rescan(reader_);
  procfs_.Remove(100);
  table.Rescan(reader_);
  table.OnExit(Exit(100));
  table.Rescan(reader_);
  EXPECT_EQ(table.ExitedCount(), 1u);
  EXPECT_THAT(drops_, IsEmpty());
}

TEST_F(ProcessTableTest, FullTableEvictsOldestExitedThenRefuses) {
  ProcessTable table = MakeTable(/*capacity=*/3);
  table.OnFork(Fork(10, 1), reader_);
  table.OnFork(Fork(11, 1), reader_);
  table.OnFork(Fork(12, 1), reader_);
  table.OnExit(Exit(10));
  table.OnExit(Exit(11));
  EXPECT_THAT(drops_, IsEmpty());

  table.OnFork(Fork(13, 1), reader_);  // evicts exited 10, the oldest
  EXPECT_THAT(drops_, ElementsAre("exited_not_scraped"));
  EXPECT_TRUE(table.Find(13).has_value());
  EXPECT_EQ(table.ExitedCount(), 1u);

  table.OnExec(Exec(14, 1, "/bin/true"), reader_);  // evicts exited 11
  EXPECT_THAT(drops_, ElementsAre("exited_not_scraped", "exited_not_scraped"));
  EXPECT_TRUE(table.Find(14).has_value());
  EXPECT_EQ(table.ExitedCount(), 0u);

  table.OnFork(Fork(15, 1), reader_);  // nothing left to give way
  table.OnExec(Exec(16, 1, "/bin/true"), reader_);
  EXPECT_THAT(drops_,
              ElementsAre("exited_not_scraped", "exited_not_scraped", "table_full", "table_full"));
  EXPECT_FALSE(table.Find(15).has_value());
  EXPECT_FALSE(table.Find(16).has_value());
  EXPECT_EQ(table.LiveCount(), 3u);

  EXPECT_THAT(Visit(table),
              UnorderedElementsAre(Pair(12u, false), Pair(13u, false), Pair(14u, false)));
}

TEST_F(ProcessTableTest, FullTableEvictsExitedInExitOrder) {
  ProcessTable table = MakeTable(/*capacity=*/3);
  for (std::uint32_t pid : {10u, 11u, 12u}) table.OnFork(Fork(pid, 1), reader_);
  table.OnExit(Exit(12));
  table.OnExit(Exit(10));
  table.OnFork(Fork(13, 1), reader_);
  EXPECT_THAT(drops_, ElementsAre("exited_not_scraped"));
  // 12 exited first, so it gave way; 10 is still there to be reported.
  EXPECT_THAT(Visit(table), ElementsAre(testing::_, testing::_, Pair(10u, true)));
}

TEST_F(ProcessTableTest, EventsForKnownPidsNeedNoRoom) {
  ProcessTable table = MakeTable(/*capacity=*/1);
  table.OnFork(Fork(10, 1), reader_);
  table.OnFork(Fork(10, 1), reader_);
  table.OnExec(Exec(10, 1, "/bin/sleep"), reader_);
  EXPECT_THAT(drops_, IsEmpty());
  ASSERT_TRUE(table.Find(10).has_value());
  EXPECT_EQ(table.Find(10)->executable_name, "sleep");
}

TEST_F(ProcessTableTest, RescanStopsWhenFull) {
  for (std::uint32_t pid = 100; pid < 105; ++pid) procfs_.AddProcess(pid, 1, "/usr/bin/app");
  ProcessTable table = MakeTable(/*capacity=*/3);
  EXPECT_EQ(table.Rescan(reader_), 3u);
  EXPECT_EQ(table.LiveCount(), 3u);
  EXPECT_THAT(drops_, ElementsAre("table_full"));
}

TEST_F(ProcessTableTest, PidReuseKeepsExitedAndLiveApart) {
  ProcessTable table = MakeTable();
  table.OnFork(Fork(50, 1, "first"), reader_);
  table.OnExit(Exit(50, 3));
  table.OnFork(Fork(50, 2, "second"), reader_);

  EXPECT_EQ(table.LiveCount(), 1u);
  EXPECT_EQ(table.ExitedCount(), 1u);
  std::vector<ProcessEntry> seen;
  table.VisitAndReap([&](ProcessEntry& entry) { seen.push_back(entry); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].pid, 50u);
  EXPECT_FALSE(seen[0].exited);
  EXPECT_EQ(seen[0].ppid, 2u);
  EXPECT_EQ(seen[0].executable_name, "second");
  EXPECT_EQ(seen[1].pid, 50u);
  EXPECT_TRUE(seen[1].exited);
  EXPECT_EQ(seen[1].ppid, 1u);
  EXPECT_EQ(seen[1].executable_name, "first");
  EXPECT_EQ(seen[1].exit_status, 3);
}

// Names a pod's containers from a map the test changes.
class FakeWorkloads : public WorkloadSource {
 public:
  std::uint64_t Generation() const override { return generation; }
  Workload Resolve(const CgroupRef& cgroup) override {
    ++resolves;
    Workload workload;
    workload.container_id = cgroup.container_id;
    workload.pod_uid = cgroup.pod_uid;
    if (auto it = names.find(cgroup.container_id); it != names.end()) {
      workload.namespace_name = "agents";
      workload.pod_name = "worker-0";
      workload.container_name = it->second;
    }
    return workload;
  }
  std::uint64_t generation = 1;
  int resolves = 0;
  std::map<std::string, std::string> names;
};

const std::string kPodCgroup =
    "0::/kubepods.slice/kubepods-besteffort.slice/"
    "kubepods-besteffort-pod8d4b2c1e_5f6a_4b7c_8d9e_0f1a2b3c4d5e.slice/cri-containerd-" +
    std::string(64, 'a') + ".scope\n";

TEST_F(ProcessTableTest, PodProcessesAreNamedByTheirContainer) {
  FakeWorkloads workloads;
  workloads.names[std::string(64, 'a')] = "worker";
  ProcessTable table = MakeTable();
  ProcessSelector nothing({}, {}, false);
  table.SetWorkloads(&workloads, &nothing);
  EXPECT_FALSE(table.Selective());  // no rule: every process, known or not, is reported
  procfs_.AddProcess(10, 1, "/usr/bin/python3");
  procfs_.Write(10, "cgroup", kPodCgroup);
  procfs_.AddProcess(11, 1, "/usr/bin/python3", "OTEL_SERVICE_NAME=billing"sv);
  procfs_.Write(11, "cgroup", kPodCgroup);
  procfs_.AddProcess(12, 1, "/usr/bin/python3");
  procfs_.Write(12, "cgroup", "0::/user.slice/session-1.scope\n");
  table.Rescan(reader_);
  std::optional<ProcessEntry> pod = table.Find(10);
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->service_name, "worker");
  EXPECT_EQ(pod->workload.pod_name, "worker-0");
  EXPECT_EQ(pod->workload.pod_uid, "8d4b2c1e-5f6a-4b7c-8d9e-0f1a2b3c4d5e");
  EXPECT_EQ(table.Find(11)->service_name, "billing");  // OTEL_SERVICE_NAME wins
  EXPECT_EQ(table.Find(12)->service_name, "python3");
  EXPECT_EQ(table.Find(12)->workload, Workload{});
  // Forked children inherit the container; complete names are not asked again
  // until the source changes.
  table.OnFork(Fork(13, 10), reader_);
  EXPECT_EQ(table.Find(13)->workload.container_name, "worker");
  const int asked = workloads.resolves;
  table.Find(10);
  EXPECT_EQ(workloads.resolves, asked);
  workloads.names[std::string(64, 'a')] = "renamed";
  ++workloads.generation;
  EXPECT_EQ(table.Find(10)->service_name, "renamed");
}

TEST_F(ProcessTableTest, AProcessMovedIntoAContainerBeforeExecIsReadAgain) {
  FakeWorkloads workloads;
  workloads.names[std::string(64, 'a')] = "worker";
  ProcessTable table = MakeTable();
  table.SetWorkloads(&workloads, nullptr);
  procfs_.AddProcess(20, 1, "/bin/sh");
  procfs_.Write(20, "cgroup", "0::/\n");
  table.Rescan(reader_);
  EXPECT_EQ(table.Find(20)->service_name, "sh");
  procfs_.Write(20, "cgroup", kPodCgroup);
  table.OnExec(Exec(20, 1, "/usr/bin/python3"), reader_);
  EXPECT_EQ(table.Find(20)->workload.container_name, "worker");
  EXPECT_EQ(table.Find(20)->service_name, "worker");
}

TEST_F(ProcessTableTest, SelectionDecidesWhatIsReported) {
  SelectionRules exclude;
  exclude.executables = {"sshd"};
  ProcessSelector selector({}, exclude, /*llm_only=*/true);
  ProcessTable table = MakeTable();
  EXPECT_FALSE(table.Selective());
  table.SetWorkloads(nullptr, &selector);
  EXPECT_TRUE(table.Selective());
  procfs_.AddProcess(30, 1, "/usr/sbin/sshd");
  procfs_.AddProcess(31, 1, "/usr/bin/python3");
  table.Rescan(reader_);
  EXPECT_FALSE(table.Find(30)->admitted);
  EXPECT_FALSE(table.Find(30)->reported);
  EXPECT_TRUE(table.Find(31)->admitted);
  EXPECT_FALSE(table.Find(31)->reported);  // no LLM call yet
  table.MarkLlmCaller(31);
  table.MarkLlmCaller(30);
  EXPECT_TRUE(table.Find(31)->reported);
  EXPECT_FALSE(table.Find(30)->reported);
  // An exec re-reads the command line and executable: sshd becoming python3 is admitted.
  procfs_.Remove(30);
  procfs_.AddProcess(30, 1, "/usr/bin/python3");
  table.OnExec(Exec(30, 1, "/usr/bin/python3"), reader_);
  EXPECT_TRUE(table.Find(30)->admitted);
}

// What FindIdentity says must be what Find says.
void ExpectIdentityOf(ProcessTable& table, std::uint32_t pid) {
  std::optional<ProcessEntry> entry = table.Find(pid);
  std::shared_ptr<const ProcessIdentity> identity = table.FindIdentity(pid);
  ASSERT_TRUE(entry && identity);
  EXPECT_EQ(identity->executable_name, entry->executable_name);
  EXPECT_EQ(identity->service_name, entry->service_name);
  EXPECT_EQ(identity->command_line, entry->command_line);
  EXPECT_EQ(identity->resource_attributes, entry->resource_attributes);
  EXPECT_EQ(identity->start_id, entry->start_id);
  EXPECT_EQ(identity->workload, entry->workload);
  EXPECT_EQ(identity->excluded, !entry->admitted);
  EXPECT_EQ(identity->awaiting_llm, entry->admitted && !entry->reported);
}

TEST_F(ProcessTableTest, AnIdentityIsSharedUntilItChanges) {
  FakeWorkloads workloads;
  workloads.names[std::string(64, 'a')] = "worker";
  ProcessSelector llm_only({}, {}, /*llm_only=*/true);
  ProcessTable table = MakeTable();
  table.SetWorkloads(&workloads, &llm_only);
  procfs_.AddProcess(10, 1, "/usr/bin/python3", "OTEL_RESOURCE_ATTRIBUTES=team=a\0"sv);
  procfs_.Write(10, "cgroup", kPodCgroup);
  table.Rescan(reader_);

  const std::shared_ptr<const ProcessIdentity> first = table.FindIdentity(10);
  ExpectIdentityOf(table, 10);
  EXPECT_EQ(table.FindIdentity(10), first);  // nothing changed: the same copy
  EXPECT_EQ(first->service_name, "worker");
  EXPECT_TRUE(first->awaiting_llm);

  table.MarkLlmCaller(10);
  const std::shared_ptr<const ProcessIdentity> called = table.FindIdentity(10);
  EXPECT_NE(called, first);
  EXPECT_FALSE(called->awaiting_llm);
  EXPECT_TRUE(first->awaiting_llm);  // a copy handed out never changes
  ExpectIdentityOf(table, 10);

  workloads.names[std::string(64, 'a')] = "renamed";
  ++workloads.generation;
  const std::shared_ptr<const ProcessIdentity> renamed = table.FindIdentity(10);
  EXPECT_EQ(renamed->service_name, "renamed");
  EXPECT_EQ(renamed->workload.container_name, "renamed");
  ExpectIdentityOf(table, 10);

  procfs_.Remove(10);
  procfs_.AddProcess(10, 1, "/usr/bin/node");
  procfs_.Write(10, "cgroup", kPodCgroup);
  table.OnExec(Exec(10, 1, "/usr/bin/node"), reader_);
  const std::shared_ptr<const ProcessIdentity> execd = table.FindIdentity(10);
  EXPECT_EQ(execd->executable_name, "node");
  EXPECT_TRUE(execd->resource_attributes.empty());
  ExpectIdentityOf(table, 10);

  // Exited, it is still known, as it was.
  table.OnExit(Exit(10));
  EXPECT_EQ(table.FindIdentity(10), execd);
  Visit(table);
  EXPECT_EQ(table.FindIdentity(10), execd);
}

TEST_F(ProcessTableTest, AnUnknownProcessIsExcludedOnlyUnderASelection) {
  ProcessTable open = MakeTable();
  EXPECT_EQ(open.FindIdentity(99), nullptr);
  SelectionRules exclude;
  exclude.executables = {"sshd"};
  ProcessSelector selector({}, exclude, /*llm_only=*/false);
  ProcessTable selective = MakeTable();
  selective.SetWorkloads(nullptr, &selector);
  std::shared_ptr<const ProcessIdentity> unknown = selective.FindIdentity(99);
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->excluded);
  EXPECT_TRUE(unknown->service_name.empty());
  procfs_.AddProcess(30, 1, "/usr/sbin/sshd");
  selective.Rescan(reader_);
  EXPECT_TRUE(selective.FindIdentity(30)->excluded);
  ExpectIdentityOf(selective, 30);
}

TEST(ExecutableNameFromPathTest, Table) {
  const std::pair<std::string, std::string> cases[] = {
      {"/usr/bin/name", "name"}, {"name", "name"}, {"./a/b", "b"}, {"", ""}};
  for (const auto& [path, expected] : cases) {
    EXPECT_EQ(ExecutableNameFromPath(path), expected) << path;
  }
}

}  // namespace
}  // namespace infrared::process
