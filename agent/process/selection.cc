#include "agent/process/selection.h"

#include <fnmatch.h>

#include <algorithm>

namespace infrared::process {
namespace {

bool AnyGlob(const std::vector<std::string>& globs, const std::string& name) {
  return std::any_of(globs.begin(), globs.end(), [&name](const std::string& glob) {
    return fnmatch(glob.c_str(), name.c_str(), 0) == 0;
  });
}

bool AnyContainer(const std::vector<std::string>& wanted, const Workload& workload) {
  if (workload.container_id.empty()) return false;
  return std::any_of(wanted.begin(), wanted.end(), [&workload](const std::string& text) {
    return text == workload.container_name || workload.container_id.starts_with(text);
  });
}

bool AnyLabel(const std::vector<std::string>& pairs, const Workload& workload) {
  return std::any_of(pairs.begin(), pairs.end(), [&workload](const std::string& pair) {
    const std::size_t equals = pair.find('=');
    const std::string key = pair.substr(0, equals);
    const std::string value = equals == std::string::npos ? "" : pair.substr(equals + 1);
    return std::any_of(workload.pod_labels.begin(), workload.pod_labels.end(),
                       [&](const auto& label) { return label.first == key && label.second == value; });
  });
}

}  // namespace

ProcessSelector::ProcessSelector(SelectionRules include, SelectionRules exclude, bool llm_only)
    : include_(Compile(std::move(include))),
      exclude_(Compile(std::move(exclude))),
      llm_only_(llm_only) {}

ProcessSelector::Compiled ProcessSelector::Compile(SelectionRules rules) {
  Compiled compiled;
  for (const std::string& pattern : rules.command_lines) {
    try {
      compiled.command_lines.emplace_back(pattern, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error&) {
      // Refused by the config loader already; matching nothing is the safe reading.
    }
  }
  compiled.rules = std::move(rules);
  return compiled;
}

bool ProcessSelector::Matches(const Compiled& side, bool all, const std::string& executable_name,
                              const std::string& command_line, const Workload& workload) {
  const SelectionRules& rules = side.rules;
  std::vector<bool> answers;
  if (!rules.executables.empty()) answers.push_back(AnyGlob(rules.executables, executable_name));
  if (!rules.command_lines.empty()) {
    answers.push_back(std::any_of(
        side.command_lines.begin(), side.command_lines.end(),
        [&command_line](const std::regex& regex) { return std::regex_search(command_line, regex); }));
  }
  if (!rules.containers.empty()) answers.push_back(AnyContainer(rules.containers, workload));
  if (!rules.k8s_namespaces.empty()) {
    answers.push_back(!workload.namespace_name.empty() &&
                      std::find(rules.k8s_namespaces.begin(), rules.k8s_namespaces.end(),
                                workload.namespace_name) != rules.k8s_namespaces.end());
  }
  if (!rules.k8s_pod_labels.empty()) answers.push_back(AnyLabel(rules.k8s_pod_labels, workload));
  if (all) {
    return std::all_of(answers.begin(), answers.end(), [](bool answer) { return answer; });
  }
  return std::any_of(answers.begin(), answers.end(), [](bool answer) { return answer; });
}

bool ProcessSelector::Admits(const std::string& executable_name, const std::string& command_line,
                             const Workload& workload) const {
  if (!Matches(include_, true, executable_name, command_line, workload)) return false;
  return !Matches(exclude_, false, executable_name, command_line, workload);
}

}  // namespace infrared::process
