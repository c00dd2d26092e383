#include "agent/process/process_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/unit/process/process_table_fixture.h"

namespace infrared::process {
namespace {

using namespace std::string_view_literals;
using namespace ::infrared::process::table_test;  // NOLINT(build/namespaces): the shared fixture
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

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

TEST(ExecutableNameFromPathTest, Table) {
  const std::pair<std::string, std::string> cases[] = {
      {"/usr/bin/name", "name"}, {"name", "name"}, {"./a/b", "b"}, {"", ""}};
  for (const auto& [path, expected] : cases) {
    EXPECT_EQ(ExecutableNameFromPath(path), expected) << path;
  }
}

}  // namespace
}  // namespace infrared::process
