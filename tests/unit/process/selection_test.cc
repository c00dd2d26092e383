#include "agent/process/selection.h"

#include <gtest/gtest.h>

namespace infrared::process {
namespace {

Workload Pod(const std::string& ns, const std::string& container, StringPairs labels = {}) {
  Workload workload;
  workload.container_id = std::string(64, 'a');
  workload.namespace_name = ns;
  workload.container_name = container;
  workload.pod_labels = std::move(labels);
  return workload;
}

TEST(ProcessSelectorTest, NoRulesAdmitEverything) {
  ProcessSelector selector({}, {}, false);
  EXPECT_TRUE(selector.Empty());
  EXPECT_TRUE(selector.Admits("anything", "", {}));
}

TEST(ProcessSelectorTest, EveryGivenSelectListMustMatch) {
  SelectionRules include;
  include.executables = {"python*", "node"};
  include.k8s_namespaces = {"agents"};
  ProcessSelector selector(include, {}, false);
  EXPECT_TRUE(selector.Admits("python3.11", "", Pod("agents", "worker")));
  EXPECT_TRUE(selector.Admits("node", "", Pod("agents", "worker")));
  EXPECT_FALSE(selector.Admits("python3", "", Pod("default", "worker")));
  EXPECT_FALSE(selector.Admits("python3", "", {}));  // not in a pod
  EXPECT_FALSE(selector.Admits("nodejs", "", Pod("agents", "worker")));
}

TEST(ProcessSelectorTest, CommandLinesAreSearched) {
  SelectionRules include;
  include.command_lines = {"agent\\.py", "^/usr/bin/bun "};
  ProcessSelector selector(include, {}, false);
  EXPECT_TRUE(selector.Admits("python3", "python3 /srv/agent.py --fast", {}));
  EXPECT_TRUE(selector.Admits("bun", "/usr/bin/bun run x.ts", {}));
  EXPECT_FALSE(selector.Admits("python3", "python3 /srv/agentXpy", {}));
}

TEST(ProcessSelectorTest, ContainersByNameOrIdPrefixAndLabels) {
  SelectionRules include;
  include.containers = {"worker", "bbbb"};
  ProcessSelector by_container(include, {}, false);
  EXPECT_TRUE(by_container.Admits("x", "", Pod("agents", "worker")));
  Workload other = Pod("agents", "sidecar");
  EXPECT_FALSE(by_container.Admits("x", "", other));
  other.container_id = "bbbb" + std::string(60, '0');
  EXPECT_TRUE(by_container.Admits("x", "", other));

  SelectionRules labels;
  labels.k8s_pod_labels = {"app=chatbot"};
  ProcessSelector by_label(labels, {}, false);
  EXPECT_TRUE(by_label.Admits("x", "", Pod("a", "c", {{"app", "chatbot"}, {"tier", "1"}})));
  EXPECT_FALSE(by_label.Admits("x", "", Pod("a", "c", {{"app", "chatbot-2"}})));
  EXPECT_FALSE(by_label.Admits("x", "", Pod("a", "c")));
}

TEST(ProcessSelectorTest, AnyExcludeRuleLeavesTheProcessOut) {
  SelectionRules exclude;
  exclude.executables = {"sshd"};
  exclude.k8s_namespaces = {"kube-system"};
  exclude.k8s_pod_labels = {"infrared.io/ignore=true"};
  ProcessSelector selector({}, exclude, false);
  EXPECT_FALSE(selector.Empty());
  EXPECT_FALSE(selector.Admits("sshd", "", {}));
  EXPECT_FALSE(selector.Admits("python3", "", Pod("kube-system", "dns")));
  EXPECT_FALSE(selector.Admits("python3", "", Pod("agents", "w", {{"infrared.io/ignore", "true"}})));
  EXPECT_TRUE(selector.Admits("python3", "", Pod("agents", "w")));
  EXPECT_TRUE(selector.Admits("python3", "", {}));
}

TEST(ProcessSelectorTest, AnInvalidRegexMatchesNothing) {
  SelectionRules include;
  include.command_lines = {"(unclosed"};
  ProcessSelector selector(include, {}, true);
  EXPECT_TRUE(selector.LlmOnly());
  EXPECT_FALSE(selector.Admits("python3", "(unclosed", {}));
}

}  // namespace
}  // namespace infrared::process
