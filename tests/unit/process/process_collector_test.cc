#include "agent/process/process_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace infrared::process {
namespace {

using telemetry::Label;
using telemetry::Labels;
using telemetry::MetricFamily;
using telemetry::MetricType;
using telemetry::Sample;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr std::uint32_t kAllRss = (1u << INFRARED_RSS_FILE) | (1u << INFRARED_RSS_ANON) |
                                  (1u << INFRARED_RSS_SWAP) | (1u << INFRARED_RSS_SHMEM);

ProcessEntry EntryWithBaseline() {
  ProcessEntry entry;
  entry.pid = 100;
  entry.baseline.cpu_ns = 2'000'000'000;
  entry.baseline.faults = 40;
  entry.baseline.memory.vm_bytes = 1000;
  entry.baseline.memory.rss_file_bytes = 100;
  entry.baseline.memory.rss_anon_bytes = 200;
  entry.baseline.memory.rss_shmem_bytes = 300;
  return entry;
}

infrared_proc_stats KernelFigures(std::uint32_t rss_known) {
  infrared_proc_stats stats{};
  stats.cpu_ns = 2'500'000'000;
  stats.voluntary_switches = 7;
  stats.involuntary_switches = 3;
  stats.page_faults = 5;
  stats.rss_bytes[INFRARED_RSS_FILE] = 10'000;
  stats.rss_bytes[INFRARED_RSS_ANON] = 20'000;
  stats.rss_bytes[INFRARED_RSS_SWAP] = 40'000;  // not resident: never counted
  stats.rss_bytes[INFRARED_RSS_SHMEM] = 30'000;
  stats.vm_bytes = 99'000;
  stats.rss_known = rss_known;
  return stats;
}

// ---- MergeFigures ----

TEST(MergeFiguresTest, BaselineOnlyWithoutKernelFigures) {
  ProcessEntry entry = EntryWithBaseline();
  ProcessFigures figures = MergeFigures(entry, std::nullopt);
  EXPECT_DOUBLE_EQ(figures.cpu_seconds, 2.0);
  EXPECT_EQ(figures.page_faults, 40u);
  EXPECT_EQ(figures.voluntary_switches, 0u);
  EXPECT_EQ(figures.involuntary_switches, 0u);
  EXPECT_EQ(figures.rss_bytes, 600u);
  EXPECT_EQ(figures.vm_bytes, 1000u);
}

TEST(MergeFiguresTest, KernelFiguresPreferred) {
  ProcessEntry entry = EntryWithBaseline();
  ProcessFigures figures = MergeFigures(entry, KernelFigures(kAllRss));
  EXPECT_DOUBLE_EQ(figures.cpu_seconds, 2.5);
  EXPECT_EQ(figures.page_faults, 45u);  // baseline + kernel
  EXPECT_EQ(figures.voluntary_switches, 7u);
  EXPECT_EQ(figures.involuntary_switches, 3u);
  EXPECT_EQ(figures.rss_bytes, 60'000u);
  EXPECT_EQ(figures.vm_bytes, 99'000u);
}

TEST(MergeFiguresTest, ResidentMemoryPerMember) {
  struct Case {
    const char* name;
    std::uint32_t rss_known;
    std::uint64_t expected_rss;
    std::uint64_t expected_vm;
  };
  const Case cases[] = {
      {"nothing known", 0, 100 + 200 + 300, 1000},
      {"file known", 1u << INFRARED_RSS_FILE, 10'000 + 200 + 300, 99'000},
      {"anon known", 1u << INFRARED_RSS_ANON, 100 + 20'000 + 300, 99'000},
      {"shmem known", 1u << INFRARED_RSS_SHMEM, 100 + 200 + 30'000, 99'000},
      {"file and anon known", (1u << INFRARED_RSS_FILE) | (1u << INFRARED_RSS_ANON),
       10'000 + 20'000 + 300, 99'000},
      {"only swap known", 1u << INFRARED_RSS_SWAP, 100 + 200 + 300, 99'000},
      {"all known", kAllRss, 10'000 + 20'000 + 30'000, 99'000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ProcessEntry entry = EntryWithBaseline();
    ProcessFigures figures = MergeFigures(entry, KernelFigures(c.rss_known));
    EXPECT_EQ(figures.rss_bytes, c.expected_rss);
    EXPECT_EQ(figures.vm_bytes, c.expected_vm);
    // The counters come from the kernel whatever is known of memory.
    EXPECT_DOUBLE_EQ(figures.cpu_seconds, 2.5);
    EXPECT_EQ(figures.voluntary_switches, 7u);
  }
}

TEST(MergeFiguresTest, CpuNeverGoesBackwards) {
  ProcessEntry entry = EntryWithBaseline();
  entry.baseline.cpu_ns = 3'490'000'000;
  EXPECT_DOUBLE_EQ(MergeFigures(entry, std::nullopt).cpu_seconds, 3.49);
  EXPECT_DOUBLE_EQ(entry.reported_cpu_seconds, 3.49);

  infrared_proc_stats kernel = KernelFigures(0);
  kernel.cpu_ns = 3'400'000'000;  // the kernel counted from a later start
  EXPECT_DOUBLE_EQ(MergeFigures(entry, kernel).cpu_seconds, 3.49);

  kernel.cpu_ns = 3'600'000'000;
  EXPECT_DOUBLE_EQ(MergeFigures(entry, kernel).cpu_seconds, 3.6);
  EXPECT_DOUBLE_EQ(entry.reported_cpu_seconds, 3.6);

  // The kernel entry vanishing (and /proc's older baseline returning) does not
  // take the counter back either.
  EXPECT_DOUBLE_EQ(MergeFigures(entry, std::nullopt).cpu_seconds, 3.6);
}

TEST(MergeFiguresTest, FaultsNeverGoBackwards) {
  ProcessEntry entry = EntryWithBaseline();
  infrared_proc_stats kernel = KernelFigures(0);
  kernel.page_faults = 60;
  EXPECT_EQ(MergeFigures(entry, kernel).page_faults, 100u);
  EXPECT_EQ(entry.reported_faults, 100u);
  EXPECT_EQ(MergeFigures(entry, std::nullopt).page_faults, 100u);
  kernel.page_faults = 70;
  EXPECT_EQ(MergeFigures(entry, kernel).page_faults, 110u);
}

// ---- ProcessCollector ----

class FakeKernelStats : public KernelStats {
 public:
  std::optional<infrared_proc_stats> Lookup(std::uint32_t pid) override {
    lookups.push_back(pid);
    auto it = stats.find(pid);
    if (it == stats.end()) return std::nullopt;
    return it->second;
  }

  std::map<std::uint32_t, infrared_proc_stats> stats;
  std::vector<std::uint32_t> lookups;
};

// An empty procfs root: events alone populate the table.
class EmptyProcfs {
 public:
  EmptyProcfs() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "infrared-procfs-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    root_ = pattern;
  }
  ~EmptyProcfs() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  EmptyProcfs(const EmptyProcfs&) = delete;
  EmptyProcfs& operator=(const EmptyProcfs&) = delete;
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

EventHeader Header(std::uint32_t pid, std::uint32_t ppid, std::string comm) {
  EventHeader header;
  header.pid = pid;
  header.ppid = ppid;
  header.tid = pid;
  header.comm = std::move(comm);
  return header;
}

const MetricFamily* FindFamily(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const MetricFamily& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

std::string LabelValue(const Labels& labels, const std::string& name) {
  for (const Label& label : labels) {
    if (label.name == name) return label.value;
  }
  return "<absent>";
}

// The samples of `family` whose process_pid is `pid`.
std::vector<Sample> SamplesOf(const MetricFamily& family, std::uint32_t pid) {
  std::vector<Sample> out;
  for (const Sample& sample : family.samples) {
    if (LabelValue(sample.labels, "process_pid") == std::to_string(pid)) out.push_back(sample);
  }
  return out;
}

std::vector<std::string> LabelNames(const Labels& labels) {
  std::vector<std::string> names;
  for (const Label& label : labels) names.push_back(label.name);
  return names;
}

class ProcessCollectorTest : public ::testing::Test {
 protected:
  ProcessCollectorTest() {
    // 100: a live process the kernel knows; 200: its child, exited with final
    // figures; 300: live, unknown to the kernel.
    table_.OnFork(ForkEvent{Header(100, 1, "sh")}, reader_);
    ExecEvent exec;
    exec.header = Header(100, 1, "sh");
    exec.filename = "/usr/bin/app";
    table_.OnExec(exec, reader_);
    table_.OnFork(ForkEvent{Header(200, 100, "app")}, reader_);
    table_.OnFork(ForkEvent{Header(300, 1, "idle")}, reader_);

    infrared_proc_stats live = KernelFigures(kAllRss);
    kernel_.stats[100] = live;

    infrared_proc_stats final_stats{};
    final_stats.cpu_ns = 4'000'000'000;
    final_stats.voluntary_switches = 70;
    final_stats.involuntary_switches = 30;
    final_stats.page_faults = 9;
    final_stats.rss_bytes[INFRARED_RSS_ANON] = 8192;
    final_stats.rss_known = 1u << INFRARED_RSS_ANON;
    final_stats.vm_bytes = 65536;
    // What the kernel map would still say must not be used for an exited process.
    kernel_.stats[200] = KernelFigures(kAllRss);
    ExitEvent exit;
    exit.header = Header(200, 100, "app");
    exit.has_stats = true;
    exit.stats = final_stats;
    table_.OnExit(exit);
  }

  std::vector<MetricFamily> Collect() {
    std::vector<MetricFamily> out;
    collector_.Collect(out);
    return out;
  }

  EmptyProcfs procfs_;
  ProcReader reader_{procfs_.root()};
  ProcessTable table_{64, [](const char*) {}};
  FakeKernelStats kernel_;
  ProcessCollector collector_{table_, kernel_};
};

TEST_F(ProcessCollectorTest, EmitsTheFamilies) {
  std::vector<MetricFamily> families = Collect();
  std::vector<std::string> names;
  for (const MetricFamily& family : families) names.push_back(family.name);
  EXPECT_THAT(names, ElementsAre("process_cpu_time_seconds", "process_memory_usage_bytes",
                                 "process_memory_virtual_bytes", "process_context_switches",
                                 "process_paging_faults", "infrared_tracked_processes",
                                 "infrared_reported_processes"));

  struct Expected {
    const char* name;
    MetricType type;
    const char* unit;
    std::size_t samples;
  };
  const Expected expected[] = {
      {"process_cpu_time_seconds", MetricType::kCounter, "seconds", 3},
      {"process_memory_usage_bytes", MetricType::kGauge, "bytes", 3},
      {"process_memory_virtual_bytes", MetricType::kGauge, "bytes", 3},
      {"process_context_switches", MetricType::kCounter, "", 6},
      {"process_paging_faults", MetricType::kCounter, "", 3},
      {"infrared_tracked_processes", MetricType::kGauge, "", 1},
      {"infrared_reported_processes", MetricType::kGauge, "", 1},
  };
  for (const Expected& e : expected) {
    SCOPED_TRACE(e.name);
    const MetricFamily* family = FindFamily(families, e.name);
    ASSERT_NE(family, nullptr);
    EXPECT_EQ(family->type, e.type);
    EXPECT_EQ(family->unit, e.unit);
    EXPECT_FALSE(family->help.empty());
    EXPECT_EQ(family->samples.size(), e.samples);
    EXPECT_TRUE(family->histograms.empty());
  }
  const MetricFamily* tracked = FindFamily(families, "infrared_tracked_processes");
  ASSERT_NE(tracked, nullptr);
  EXPECT_TRUE(tracked->samples[0].labels.empty());
  EXPECT_EQ(tracked->samples[0].value, 3);
}

TEST_F(ProcessCollectorTest, LabelsEveryProcess) {
  std::vector<MetricFamily> families = Collect();
  const MetricFamily* cpu = FindFamily(families, "process_cpu_time_seconds");
  ASSERT_NE(cpu, nullptr);
  for (const Sample& sample : cpu->samples) {
    EXPECT_THAT(LabelNames(sample.labels), ElementsAre("process_pid", "process_executable_name",
                                                       "process_parent_pid", "service_name"));
  }
  struct Expected {
    std::uint32_t pid;
    const char* executable;
    const char* parent;
  };
  for (const Expected& e :
       {Expected{100, "app", "1"}, Expected{200, "app", "100"}, Expected{300, "idle", "1"}}) {
    SCOPED_TRACE(e.pid);
    std::vector<Sample> samples = SamplesOf(*cpu, e.pid);
    ASSERT_EQ(samples.size(), 1u);
    EXPECT_EQ(LabelValue(samples[0].labels, "process_executable_name"), e.executable);
    EXPECT_EQ(LabelValue(samples[0].labels, "process_parent_pid"), e.parent);
    EXPECT_EQ(LabelValue(samples[0].labels, "service_name"), e.executable);
  }
}

TEST_F(ProcessCollectorTest, LiveProcessUsesKernelStats) {
  std::vector<MetricFamily> families = Collect();
  auto value = [&](const char* family, std::uint32_t pid) {
    std::vector<Sample> samples = SamplesOf(*FindFamily(families, family), pid);
    EXPECT_EQ(samples.size(), 1u) << family;
    return samples.empty() ? -1.0 : samples[0].value;
  };
  EXPECT_DOUBLE_EQ(value("process_cpu_time_seconds", 100), 2.5);
  EXPECT_DOUBLE_EQ(value("process_memory_usage_bytes", 100), 60'000);
  EXPECT_DOUBLE_EQ(value("process_memory_virtual_bytes", 100), 99'000);
  EXPECT_DOUBLE_EQ(value("process_paging_faults", 100), 5);
  // Unknown to the kernel and to /proc: all zero.
  EXPECT_DOUBLE_EQ(value("process_cpu_time_seconds", 300), 0);
  EXPECT_DOUBLE_EQ(value("process_memory_usage_bytes", 300), 0);
}

TEST_F(ProcessCollectorTest, ContextSwitchesByType) {
  std::vector<MetricFamily> families = Collect();
  const MetricFamily* switches = FindFamily(families, "process_context_switches");
  ASSERT_NE(switches, nullptr);
  std::map<std::string, double> by_type;
  for (const Sample& sample : SamplesOf(*switches, 100)) {
    EXPECT_EQ(sample.labels.size(), 5u);
    by_type[LabelValue(sample.labels, "process_context_switch_type")] = sample.value;
  }
  EXPECT_THAT(by_type, ElementsAre(std::pair<const std::string, double>("involuntary", 3),
                                   std::pair<const std::string, double>("voluntary", 7)));
}

TEST_F(ProcessCollectorTest, ExitedProcessUsesFinalStatsOnceThenGoes) {
  std::vector<MetricFamily> families = Collect();
  EXPECT_THAT(kernel_.lookups, UnorderedElementsAre(100u, 300u));

  auto value = [&](const char* family) {
    std::vector<Sample> samples = SamplesOf(*FindFamily(families, family), 200);
    EXPECT_EQ(samples.size(), 1u) << family;
    return samples.empty() ? -1.0 : samples[0].value;
  };
  EXPECT_DOUBLE_EQ(value("process_cpu_time_seconds"), 4.0);
  EXPECT_DOUBLE_EQ(value("process_memory_usage_bytes"), 8192);
  EXPECT_DOUBLE_EQ(value("process_memory_virtual_bytes"), 65536);
  EXPECT_DOUBLE_EQ(value("process_paging_faults"), 9);
  std::map<std::string, double> by_type;
  for (const Sample& sample : SamplesOf(*FindFamily(families, "process_context_switches"), 200)) {
    by_type[LabelValue(sample.labels, "process_context_switch_type")] = sample.value;
  }
  EXPECT_EQ(by_type["voluntary"], 70);
  EXPECT_EQ(by_type["involuntary"], 30);

  // The next scrape no longer shows it.
  kernel_.lookups.clear();
  families = Collect();
  EXPECT_TRUE(SamplesOf(*FindFamily(families, "process_cpu_time_seconds"), 200).empty());
  EXPECT_EQ(FindFamily(families, "process_cpu_time_seconds")->samples.size(), 2u);
  EXPECT_EQ(FindFamily(families, "infrared_tracked_processes")->samples[0].value, 2);
  EXPECT_THAT(kernel_.lookups, UnorderedElementsAre(100u, 300u));
}

TEST_F(ProcessCollectorTest, ExitedWithoutStatsUsesBaselineNotKernel) {
  ExitEvent exit;
  exit.header = Header(300, 1, "idle");
  exit.has_stats = false;
  kernel_.stats[300] = KernelFigures(kAllRss);
  table_.OnExit(exit);

  std::vector<MetricFamily> families = Collect();
  EXPECT_THAT(kernel_.lookups, ElementsAre(100u));
  std::vector<Sample> cpu = SamplesOf(*FindFamily(families, "process_cpu_time_seconds"), 300);
  ASSERT_EQ(cpu.size(), 1u);
  EXPECT_EQ(cpu[0].value, 0);
}

TEST_F(ProcessCollectorTest, CpuCounterHeldAcrossScrapes) {
  EXPECT_DOUBLE_EQ(SamplesOf(*FindFamily(Collect(), "process_cpu_time_seconds"), 100).at(0).value,
                   2.5);
  kernel_.stats[100].cpu_ns = 1'000'000'000;  // e.g. a reset kernel entry
  std::vector<MetricFamily> families = Collect();
  EXPECT_DOUBLE_EQ(SamplesOf(*FindFamily(families, "process_cpu_time_seconds"), 100).at(0).value,
                   2.5);
}

TEST(ProcessCollectorEmptyTest, EmptyTableStillReportsTrackedCount) {
  ProcessTable table(8, [](const char*) {});
  FakeKernelStats kernel;
  ProcessCollector collector(table, kernel);
  std::vector<MetricFamily> families;
  collector.Collect(families);
  ASSERT_EQ(families.size(), 7u);
  for (std::size_t i = 0; i + 2 < families.size(); ++i) EXPECT_TRUE(families[i].samples.empty());
  for (std::size_t i = families.size() - 2; i < families.size(); ++i) {
    ASSERT_EQ(families[i].samples.size(), 1u);
    EXPECT_EQ(families[i].samples[0].value, 0);
  }
}

}  // namespace
}  // namespace infrared::process
