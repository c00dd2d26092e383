#include "agent/process/pod_catalog.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/process/fake_procfs.h"

namespace infrared::process {
namespace {

const std::string kUid = "8d4b2c1e-5f6a-4b7c-8d9e-0f1a2b3c4d5e";
const std::string kOtherUid = "11111111-2222-3333-4444-555555555555";
const std::string kApp(64, 'a');
const std::string kSidecar(64, 'b');

TEST(PodLogNamesTest, DirectoryNames) {
  std::optional<PodInfo> pod = PodFromLogDirectoryName("agents_worker-7d9f8b6c5d-x2x4q_" + kUid);
  ASSERT_TRUE(pod);
  EXPECT_EQ(pod->namespace_name, "agents");
  EXPECT_EQ(pod->name, "worker-7d9f8b6c5d-x2x4q");
  EXPECT_EQ(pod->uid, kUid);
  for (const char* bad : {"", "agents", "agents_worker", "_worker_uid", "agents__uid",
                          "agents_worker_", "a_b_c_d"}) {
    EXPECT_FALSE(PodFromLogDirectoryName(bad)) << bad;
  }
}

TEST(PodLogNamesTest, ContainerLinkNames) {
  std::optional<ContainerLogName> link =
      ParseContainerLogName("worker-7d9f8b6c5d-x2x4q_agents_istio-proxy-" + kSidecar + ".log");
  ASSERT_TRUE(link);
  EXPECT_EQ(link->pod_name, "worker-7d9f8b6c5d-x2x4q");
  EXPECT_EQ(link->namespace_name, "agents");
  EXPECT_EQ(link->container_name, "istio-proxy");
  EXPECT_EQ(link->container_id, kSidecar);
  for (std::string bad : {std::string("pod_ns_name-abc.log"), "pod_ns_" + kApp + ".log",
                          "pod_ns_name-" + kApp, "pod_ns_name-" + kApp + "0.log",
                          "pod_ns_name-" + std::string(64, 'G') + ".log"}) {
    EXPECT_FALSE(ParseContainerLogName(bad)) << bad;
  }
}

class PodCatalogTest : public ::testing::Test {
 protected:
  PodCatalog& Catalog() {
    if (!catalog_) {
      catalog_ = std::make_unique<PodCatalog>(PodCatalog::Options{
          .pod_logs_dir = root_.root() + "/pods",
          .container_logs_dir = root_.root() + "/containers",
          .node_name = "node-1",
          .now_ns = [this] { return now_ns_; },
          .max_pods = 8,
          .on_drop = [this](const char* reason) { drops_.push_back(reason); }});
    }
    return *catalog_;
  }
  void AddPodLogs(const std::string& ns, const std::string& pod, const std::string& uid,
                  std::initializer_list<std::string> containers) {
    for (const std::string& container : containers) {
      root_.Write("pods/" + ns + "_" + pod + "_" + uid + "/" + container + "/0.log", "");
    }
  }

  FakeProcfs root_;
  std::uint64_t now_ns_ = 1'000'000'000;
  std::vector<std::string> drops_;
  std::unique_ptr<PodCatalog> catalog_;
};

TEST_F(PodCatalogTest, OneContainerPodIsNamedFromItsLogDirectory) {
  AddPodLogs("agents", "worker-0", kUid, {"worker"});
  Workload workload = Catalog().Resolve({kApp, kUid, "containerd"});
  EXPECT_EQ(workload.container_id, kApp);
  EXPECT_EQ(workload.pod_uid, kUid);
  EXPECT_EQ(workload.namespace_name, "agents");
  EXPECT_EQ(workload.pod_name, "worker-0");
  EXPECT_EQ(workload.container_name, "worker");
  EXPECT_EQ(workload.node_name, "node-1");
  EXPECT_TRUE(workload.owner_kind.empty());
}

TEST_F(PodCatalogTest, AOneContainerPodsLinkTellsItsSandboxApart) {
  AddPodLogs("agents", "worker-0", kUid, {"worker"});
  root_.Write("containers/worker-0_agents_worker-" + kApp + ".log", "");
  Workload sandbox = Catalog().Resolve({kSidecar, kUid, ""});
  EXPECT_EQ(sandbox.container_name, "");
  EXPECT_EQ(sandbox.pod_name, "worker-0");
  EXPECT_EQ(Catalog().Resolve({kApp, kUid, ""}).container_name, "worker");
}

TEST_F(PodCatalogTest, WithoutLinksTheSandboxTakesTheOnlyContainersName) {
  // A known limit: nothing in the log directory tells the pause process apart.
  AddPodLogs("agents", "worker-0", kUid, {"worker"});
  EXPECT_EQ(Catalog().Resolve({kSidecar, kUid, ""}).container_name, "worker");
  EXPECT_EQ(Catalog().Resolve({kApp, kUid, ""}).container_name, "worker");
}

TEST_F(PodCatalogTest, SeveralContainersNeedTheContainerLinks) {
  AddPodLogs("agents", "worker-0", kUid, {"worker", "istio-proxy"});
  EXPECT_EQ(Catalog().Resolve({kApp, kUid, ""}).container_name, "");
  EXPECT_EQ(Catalog().Resolve({kApp, kUid, ""}).pod_name, "worker-0");
  root_.Write("containers/worker-0_agents_worker-" + kApp + ".log", "");
  root_.Write("containers/worker-0_agents_istio-proxy-" + kSidecar + ".log", "");
  // A cgroup a reading could not name is looked for again only after 30 s; another
  // one at once (at most one reading a second).
  now_ns_ += 1'000'000'000;
  EXPECT_EQ(Catalog().Resolve({kApp, kUid, ""}).container_name, "");
  EXPECT_EQ(Catalog().Resolve({kSidecar, kUid, ""}).container_name, "istio-proxy");
  EXPECT_EQ(Catalog().Resolve({kApp, kUid, ""}).container_name, "worker");
}

TEST_F(PodCatalogTest, APodStartedLaterIsFoundOnTheNextMiss) {
  AddPodLogs("agents", "worker-0", kUid, {"worker"});
  const std::uint64_t before = Catalog().Generation();
  EXPECT_EQ(Catalog().Resolve({kApp, kUid, ""}).pod_name, "worker-0");
  AddPodLogs("batch", "job-1", kOtherUid, {"job"});
  now_ns_ += 2'000'000'000;
  Workload later = Catalog().Resolve({kSidecar, kOtherUid, ""});
  EXPECT_EQ(later.namespace_name, "batch");
  EXPECT_EQ(later.container_name, "job");
  EXPECT_NE(Catalog().Generation(), before);
  EXPECT_EQ(Catalog().PodCount(), 2u);
}

TEST_F(PodCatalogTest, ApiKnowledgeWinsAndGoesAway) {
  AddPodLogs("agents", "worker-0", kUid, {"worker", "istio-proxy"});
  PodInfo pod;
  pod.uid = kUid;
  pod.namespace_name = "agents";
  pod.name = "worker-0";
  pod.node_name = "node-7";
  pod.owner_kind = "StatefulSet";
  pod.owner_name = "worker";
  pod.labels = {{"app", "worker"}};
  pod.containers = {{kApp, "worker"}, {kSidecar, "istio-proxy"}};
  const std::uint64_t before = Catalog().Generation();
  Catalog().ReplaceFromApi({pod});
  EXPECT_NE(Catalog().Generation(), before);
  Workload workload = Catalog().Resolve({kSidecar, kUid, ""});
  EXPECT_EQ(workload.container_name, "istio-proxy");
  EXPECT_EQ(workload.owner_kind, "StatefulSet");
  EXPECT_EQ(workload.node_name, "node-7");
  EXPECT_EQ(workload.pod_labels, (StringPairs{{"app", "worker"}}));
  // The same pod again changes nothing.
  const std::uint64_t settled = Catalog().Generation();
  Catalog().UpsertFromApi(pod);
  EXPECT_EQ(Catalog().Generation(), settled);
  // The pod's sandbox has an id the API does not list: no container name, though the
  // log directory alone would have given a one-container pod's.
  const std::string sandbox(64, 'f');
  EXPECT_EQ(Catalog().Resolve({sandbox, kUid, ""}).container_name, "");
  Catalog().RemoveFromApi(kUid);
  workload = Catalog().Resolve({kSidecar, kUid, ""});
  EXPECT_EQ(workload.pod_name, "worker-0");  // the log directory still names it
  EXPECT_TRUE(workload.owner_kind.empty());
}

TEST_F(PodCatalogTest, PodsBeyondTheCapAreCounted) {
  std::vector<PodInfo> pods(10);
  for (std::size_t i = 0; i < pods.size(); ++i) pods[i].uid = "uid-" + std::to_string(i);
  Catalog().ReplaceFromApi(pods);
  EXPECT_EQ(Catalog().PodCount(), 8u);
  EXPECT_EQ(drops_, (std::vector<std::string>{"too_many_pods", "too_many_pods"}));
}

TEST_F(PodCatalogTest, ProcessesOutsidePodsAndMissingDirectories) {
  EXPECT_EQ(Catalog().Resolve({}), Workload{});
  Workload docker = Catalog().Resolve({kApp, "", "docker"});
  EXPECT_EQ(docker.container_id, kApp);
  EXPECT_TRUE(docker.pod_name.empty());
  EXPECT_TRUE(docker.container_name.empty());
}

}  // namespace
}  // namespace infrared::process
