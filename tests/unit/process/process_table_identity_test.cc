// How a process is named and chosen: its service and attributes from the
// strings the kernel copied at exec (or /proc), its container's names, the
// selection, and the identity shared until one of them changes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "agent/process/process_table.h"
#include "tests/unit/process/process_table_fixture.h"

namespace infrared::process {
namespace {

using namespace std::string_view_literals;
using namespace ::infrared::process::table_test;  // NOLINT(build/namespaces): the shared fixture
using ::testing::ElementsAre;
using ::testing::Pair;

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
       "OTEL_SERVICE_NAME=\0OTEL_RESOURCE_ATTRIBUTES=service.name=attr,team=copy\0X"sv, false, true,
       "attr", "copy"},
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

}  // namespace
}  // namespace infrared::process
