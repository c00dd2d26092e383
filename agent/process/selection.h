#pragma once

#include <regex>
#include <string>
#include <vector>

#include "agent/process/pod_info.h"

namespace infrared::process {

// One side of the process selection (select.* or exclude.*).
struct SelectionRules {
  std::vector<std::string> executables;     // fnmatch globs on the executable name
  std::vector<std::string> command_lines;   // ECMAScript regexes, searched
  std::vector<std::string> containers;      // container names or container id prefixes
  std::vector<std::string> k8s_namespaces;  // namespace names
  std::vector<std::string> k8s_pod_labels;  // "key=value"

  bool Empty() const {
    return executables.empty() && command_lines.empty() && containers.empty() &&
           k8s_namespaces.empty() && k8s_pod_labels.empty();
  }
};

// Decides which processes are reported. A process is admitted when, for
// every non-empty select.* list, one of its elements matches, and no element
// of any exclude.* list matches. A process outside a container matches no
// container, namespace or label rule. The rules are validated by the config
// loader; an invalid regex here matches nothing.
class ProcessSelector {
 public:
  ProcessSelector(SelectionRules include, SelectionRules exclude, bool llm_only);

  bool Admits(const std::string& executable_name, const std::string& command_line,
              const Workload& workload) const;
  // Only processes seen calling an LLM API are reported (select.llm_only).
  bool LlmOnly() const { return llm_only_; }
  // No rule at all: every process is admitted.
  bool Empty() const { return include_.rules.Empty() && exclude_.rules.Empty(); }

 private:
  struct Compiled {
    SelectionRules rules;
    std::vector<std::regex> command_lines;
  };
  static Compiled Compile(SelectionRules rules);
  // Whether each non-empty list of `side` has a matching element (`all`), or
  // whether any list has one (!`all`).
  static bool Matches(const Compiled& side, bool all, const std::string& executable_name,
                      const std::string& command_line, const Workload& workload);

  Compiled include_;
  Compiled exclude_;
  bool llm_only_;
};

}  // namespace infrared::process
