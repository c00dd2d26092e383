#include "agent/process/process_collector.h"

#include <algorithm>
#include <string>

namespace infrared::process {
namespace {

using telemetry::Labels;
using telemetry::MetricFamily;
using telemetry::MetricType;

MetricFamily MakeFamily(const char* name, const char* help, const char* unit, MetricType type) {
  MetricFamily family;
  family.name = name;
  family.help = help;
  family.unit = unit;
  family.type = type;
  return family;
}

Labels ProcessLabels(const ProcessEntry& entry) {
  Labels labels = {{"process_pid", std::to_string(entry.pid)},
                   {"process_executable_name", entry.executable_name},
                   {"process_parent_pid", std::to_string(entry.ppid)},
                   {"service_name", entry.service_name}};
  for (const auto& [name, value] : WorkloadLabels(entry.workload)) {
    if (!value.empty()) labels.push_back({name, value});
  }
  return labels;
}

std::uint64_t ResidentMember(const std::optional<infrared_proc_stats>& kernel, int member,
                             std::uint64_t baseline) {
  if (kernel && (kernel->rss_known & (1u << member))) return kernel->rss_bytes[member];
  return baseline;
}

}  // namespace

ProcessFigures MergeFigures(ProcessEntry& entry, const std::optional<infrared_proc_stats>& kernel) {
  ProcessFigures figures;
  const Baseline& base = entry.baseline;
  const std::uint64_t cpu_ns = kernel ? kernel->cpu_ns : base.cpu_ns;
  figures.cpu_seconds = std::max(entry.reported_cpu_seconds, static_cast<double>(cpu_ns) / 1e9);
  entry.reported_cpu_seconds = figures.cpu_seconds;
  figures.page_faults = std::max<std::uint64_t>(entry.reported_faults,
                                                base.faults + (kernel ? kernel->page_faults : 0));
  entry.reported_faults = figures.page_faults;
  figures.voluntary_switches = std::max<std::uint64_t>(entry.reported_voluntary_switches,
                                                       kernel ? kernel->voluntary_switches : 0);
  figures.involuntary_switches = std::max<std::uint64_t>(entry.reported_involuntary_switches,
                                                         kernel ? kernel->involuntary_switches : 0);
  entry.reported_voluntary_switches = figures.voluntary_switches;
  entry.reported_involuntary_switches = figures.involuntary_switches;
  figures.rss_bytes = ResidentMember(kernel, INFRARED_RSS_FILE, base.memory.rss_file_bytes) +
                      ResidentMember(kernel, INFRARED_RSS_ANON, base.memory.rss_anon_bytes) +
                      ResidentMember(kernel, INFRARED_RSS_SHMEM, base.memory.rss_shmem_bytes);
  figures.vm_bytes = (kernel && kernel->rss_known != 0) ? kernel->vm_bytes : base.memory.vm_bytes;
  return figures;
}

ProcessCollector::ProcessCollector(ProcessTable& table, KernelStats& kernel)
    : table_(table), kernel_(kernel) {}

void ProcessCollector::Collect(std::vector<MetricFamily>& out) {
  MetricFamily cpu = MakeFamily("process_cpu_time_seconds",
                                "Total CPU time the process has spent on a CPU, all threads.",
                                "seconds", MetricType::kCounter);
  MetricFamily rss = MakeFamily("process_memory_usage_bytes",
                                "Resident memory of the process (anonymous, file and shmem pages).",
                                "bytes", MetricType::kGauge);
  MetricFamily vm =
      MakeFamily("process_memory_virtual_bytes", "Virtual memory the process has mapped.", "bytes",
                 MetricType::kGauge);
  MetricFamily switches =
      MakeFamily("process_context_switches",
                 "Context switches of the process's threads since the agent first saw it, by type.",
                 "", MetricType::kCounter);
  MetricFamily faults =
      MakeFamily("process_paging_faults", "Page faults taken by the process in user mode.", "",
                 MetricType::kCounter);
  std::size_t processes = 0;
  std::size_t reported = 0;
  table_.VisitAndReap([&](ProcessEntry& entry) {
    std::optional<infrared_proc_stats> kernel =
        entry.exited ? entry.final_stats : kernel_.Lookup(entry.pid);
    ProcessFigures figures = MergeFigures(entry, kernel);
    ++processes;
    if (!entry.reported) return;
    ++reported;
    Labels labels = ProcessLabels(entry);
    cpu.samples.push_back({labels, figures.cpu_seconds});
    rss.samples.push_back({labels, static_cast<double>(figures.rss_bytes)});
    vm.samples.push_back({labels, static_cast<double>(figures.vm_bytes)});
    faults.samples.push_back({labels, static_cast<double>(figures.page_faults)});
    Labels voluntary = labels;
    voluntary.push_back({"process_context_switch_type", "voluntary"});
    switches.samples.push_back(
        {std::move(voluntary), static_cast<double>(figures.voluntary_switches)});
    labels.push_back({"process_context_switch_type", "involuntary"});
    switches.samples.push_back(
        {std::move(labels), static_cast<double>(figures.involuntary_switches)});
  });
  MetricFamily tracked =
      MakeFamily("infrared_tracked_processes",
                 "Processes in the agent's process table at this scrape.", "", MetricType::kGauge);
  tracked.samples.push_back({{}, static_cast<double>(processes)});
  MetricFamily selected = MakeFamily(
      "infrared_reported_processes",
      "Processes whose series are reported at this scrape: those the select.* and exclude.* "
      "settings admit.",
      "", MetricType::kGauge);
  selected.samples.push_back({{}, static_cast<double>(reported)});
  for (MetricFamily* family : {&cpu, &rss, &vm, &switches, &faults, &tracked, &selected}) {
    out.push_back(std::move(*family));
  }
}

}  // namespace infrared::process
