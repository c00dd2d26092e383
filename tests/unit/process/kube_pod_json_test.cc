#include "agent/process/kube_pod_json.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace infrared::process {
namespace {

const std::string kAppId = "4c1f0a9e8d7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a";
const std::string kEnvoyId = "0e5d3b1f9c7a5e3d1b9f7c5a3e1d9b7f5c3a1e9d7b5f3c1a9e7d5b3f1c9a7e5d";
const std::string kMigrateId = "9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a";

// A Deployment's pod as the API server returns it (GET /api/v1/namespaces/shop/pods/<name>),
// with its init container done and both containers running.
const std::string kDeploymentPodTemplate = R"json({
  "apiVersion": "v1",
  "kind": "Pod",
  "metadata": {
    "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-02T10:11:12Z"},
    "creationTimestamp": "2024-05-02T10:11:20Z",
    "generateName": "checkout-7d9f8b6c5d-",
    "labels": {
      "app.kubernetes.io/name": "checkout",
      "app.kubernetes.io/part-of": "shop",
      "pod-template-hash": "7d9f8b6c5d"
    },
    "name": "checkout-7d9f8b6c5d-x2k4q",
    "namespace": "shop",
    "ownerReferences": [{
      "apiVersion": "apps/v1", "blockOwnerDeletion": true, "controller": true,
      "kind": "ReplicaSet", "name": "checkout-7d9f8b6c5d",
      "uid": "a7e3c1d2-9b8f-4e6a-8c5d-3f2e1d0c9b8a"
    }],
    "resourceVersion": "48213377",
    "uid": "5f0c7b1a-3e2d-4c8b-9a6f-1d2e3f4a5b6c"
  },
  "spec": {
    "containers": [{
      "name": "checkout",
      "image": "registry.example.com/shop/checkout:1.14.2",
      "env": [{"name": "OTEL_SERVICE_NAME", "value": "checkout"}],
      "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
      "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "256Mi"}},
      "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
      "imagePullPolicy": "IfNotPresent"
    }, {
      "name": "envoy",
      "image": "envoyproxy/envoy:v1.30.1",
      "args": ["-c", "/etc/envoy/envoy.yaml"],
      "volumeMounts": [{"mountPath": "/etc/envoy", "name": "envoy-config", "readOnly": true}]
    }],
    "initContainers": [{
      "name": "migrate", "image": "registry.example.com/shop/checkout:1.14.2",
      "command": ["/app/migrate", "--up"]
    }],
    "dnsPolicy": "ClusterFirst",
    "enableServiceLinks": true,
    "nodeName": "worker-3",
    "preemptionPolicy": "PreemptLowerPriority",
    "priority": 0,
    "restartPolicy": "Always",
    "schedulerName": "default-scheduler",
    "serviceAccountName": "checkout",
    "terminationGracePeriodSeconds": 30,
    "tolerations": [{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready",
                     "operator": "Exists", "tolerationSeconds": 300}],
    "volumes": [{"configMap": {"defaultMode": 420, "name": "envoy-config"}, "name": "envoy-config"}]
  },
  "status": {
    "conditions": [{"lastProbeTime": null, "lastTransitionTime": "2024-05-02T10:11:31Z",
                    "status": "True", "type": "Ready"}],
    "containerStatuses": [{
      "containerID": "containerd://APP_ID",
      "image": "registry.example.com/shop/checkout:1.14.2",
      "imageID": "registry.example.com/shop/checkout@sha256:2b7c0e4f",
      "lastState": {}, "name": "checkout", "ready": true, "restartCount": 0, "started": true,
      "state": {"running": {"startedAt": "2024-05-02T10:11:29Z"}}
    }, {
      "containerID": "containerd://ENVOY_ID",
      "image": "docker.io/envoyproxy/envoy:v1.30.1",
      "imageID": "docker.io/envoyproxy/envoy@sha256:9d1e0c3a",
      "lastState": {}, "name": "envoy", "ready": true, "restartCount": 1, "started": true,
      "state": {"running": {"startedAt": "2024-05-02T10:11:30Z"}}
    }],
    "hostIP": "10.0.3.17",
    "initContainerStatuses": [{
      "containerID": "containerd://MIGRATE_ID",
      "image": "registry.example.com/shop/checkout:1.14.2",
      "imageID": "registry.example.com/shop/checkout@sha256:2b7c0e4f",
      "lastState": {}, "name": "migrate", "ready": true, "restartCount": 0,
      "state": {"terminated": {"containerID": "containerd://MIGRATE_ID",
                               "exitCode": 0, "reason": "Completed",
                               "startedAt": "2024-05-02T10:11:22Z",
                               "finishedAt": "2024-05-02T10:11:27Z"}}
    }],
    "phase": "Running",
    "podIP": "10.244.3.41",
    "podIPs": [{"ip": "10.244.3.41"}],
    "qosClass": "Burstable",
    "startTime": "2024-05-02T10:11:20Z"
  }
})json";

std::string ReplaceAll(std::string text, std::string_view from, std::string_view to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
    text.replace(at, from.size(), to);
    at += to.size();
  }
  return text;
}

std::string Upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// Placeholders keep the test JSON readable as JSON.
std::string WithIds(std::string text) {
  const std::pair<std::string_view, std::string> ids[] = {{"APP_ID", kAppId},
                                                          {"ENVOY_ID", kEnvoyId},
                                                          {"MIGRATE_ID", kMigrateId},
                                                          {"UPPER_ID", Upper(kMigrateId)}};
  for (const auto& [placeholder, id] : ids) text = ReplaceAll(std::move(text), placeholder, id);
  return text;
}

const std::string kDeploymentPod = WithIds(kDeploymentPodTemplate);

// A pod of just the given metadata, spec and status members.
std::string Pod(std::string_view metadata, std::string_view spec = "{}",
                std::string_view status = "{}") {
  return R"({"kind":"Pod","metadata":)" + std::string(metadata) + R"(,"spec":)" +
         std::string(spec) + R"(,"status":)" + std::string(status) + "}";
}

std::string Owned(std::string_view owners, std::string_view labels = "{}") {
  return Pod(R"({"uid":"u-1","name":"p","namespace":"n","labels":)" + std::string(labels) +
             R"(,"ownerReferences":)" + std::string(owners) + "}");
}

std::pair<std::string, std::string> OwnerOf(const std::string& json) {
  const std::optional<PodInfo> pod = PodFromJson(json);
  if (!pod) return {"<no pod>", ""};
  return {pod->owner_kind, pod->owner_name};
}

TEST(PodFromJsonTest, DeploymentPod) {
  const std::optional<PodInfo> pod = PodFromJson(kDeploymentPod);
  ASSERT_TRUE(pod.has_value());
  EXPECT_EQ(pod->uid, "5f0c7b1a-3e2d-4c8b-9a6f-1d2e3f4a5b6c");
  EXPECT_EQ(pod->namespace_name, "shop");
  EXPECT_EQ(pod->name, "checkout-7d9f8b6c5d-x2k4q");
  EXPECT_EQ(pod->node_name, "worker-3");
  EXPECT_EQ(pod->owner_kind, "Deployment");
  EXPECT_EQ(pod->owner_name, "checkout");
  EXPECT_EQ(pod->labels, (StringPairs{{"app.kubernetes.io/name", "checkout"},
                                      {"app.kubernetes.io/part-of", "shop"},
                                      {"pod-template-hash", "7d9f8b6c5d"}}));
  EXPECT_EQ(pod->containers,
            (StringPairs{{kEnvoyId, "envoy"}, {kAppId, "checkout"}, {kMigrateId, "migrate"}}));
  EXPECT_EQ(pod->container_names, (std::vector<std::string>{"checkout", "envoy", "migrate"}));
}

TEST(PodFromJsonTest, Owners) {
  const struct {
    const char* name;
    std::string json;
    std::pair<std::string, std::string> expected;
  } cases[] = {
      {"StatefulSet",
       Owned(
           R"([{"apiVersion":"apps/v1","controller":true,"kind":"StatefulSet","name":"postgres"}])",
           R"({"app":"postgres","controller-revision-hash":"postgres-6b8d9f7c4","statefulset.kubernetes.io/pod-name":"postgres-0"})"),
       {"StatefulSet", "postgres"}},
      {"DaemonSet",
       Owned(
           R"([{"apiVersion":"apps/v1","controller":true,"kind":"DaemonSet","name":"node-exporter"}])",
           R"({"controller-revision-hash":"5c7b9d8f6","pod-template-generation":"3"})"),
       {"DaemonSet", "node-exporter"}},
      {"Job of a CronJob stays a Job",
       Owned(R"([{"controller":true,"kind":"Job","name":"report-28581120"}])"),
       {"Job", "report-28581120"}},
      {"ReplicaSet not named after the hash",
       Owned(R"([{"controller":true,"kind":"ReplicaSet","name":"standalone"}])",
             R"({"pod-template-hash":"7d9f8b6c5d"})"),
       {"ReplicaSet", "standalone"}},
      {"ReplicaSet without a hash label",
       Owned(R"([{"controller":true,"kind":"ReplicaSet","name":"web-7d9f8b6c5d"}])"),
       {"ReplicaSet", "web-7d9f8b6c5d"}},
      {"ReplicaSet named only the hash",
       Owned(R"([{"controller":true,"kind":"ReplicaSet","name":"-7d9f8b6c5d"}])",
             R"({"pod-template-hash":"7d9f8b6c5d"})"),
       {"ReplicaSet", "-7d9f8b6c5d"}},
      {"hash without its dash",
       Owned(R"([{"controller":true,"kind":"ReplicaSet","name":"web7d9f8b6c5d"}])",
             R"({"pod-template-hash":"7d9f8b6c5d"})"),
       {"ReplicaSet", "web7d9f8b6c5d"}},
      {"the controller, not the first",
       Owned(
           R"([{"kind":"ConfigMap","name":"cm"},{"controller":true,"kind":"StatefulSet","name":"db"}])"),
       {"StatefulSet", "db"}},
      {"the first without a controller",
       Owned(
           R"([7,{"controller":false,"kind":"Node","name":"worker-1"},{"kind":"Other","name":"o"}])"),
       {"Node", "worker-1"}},
      {"controller given as a string",
       Owned(R"([{"kind":"A","name":"a"},{"controller":"true","kind":"B","name":"b"}])"),
       {"A", "a"}},
      {"owner without a name", Owned(R"([{"controller":true,"kind":"DaemonSet"}])"), {"", ""}},
      {"no owners", Owned("[]"), {"", ""}},
      {"owners not an array", Owned(R"({"kind":"DaemonSet","name":"x"})"), {"", ""}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(OwnerOf(c.json), c.expected);
  }
}

TEST(PodFromJsonTest, ContainerIds) {
  const std::string status = WithIds(R"({"containerStatuses":[
        {"name":"a","containerID":"cri-o://APP_ID"},
        {"name":"waiting","containerID":""},
        {"name":"unstarted"},
        {"name":"short","containerID":"containerd://abc123"},
        {"name":"not-hex","containerID":"docker://4c1f0a9e8d7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1g"},
        {"name":"dup","containerID":"containerd://APP_ID"},
        {"containerID":"containerd://ENVOY_ID"},
        {"name":7,"containerID":"containerd://ENVOY_ID"},
        "not an object"],
      "ephemeralContainerStatuses":[{"name":"debugger","containerID":"docker://UPPER_ID"}],
      "initContainerStatuses":{"name":"x","containerID":"containerd://ENVOY_ID"}})");
  const std::optional<PodInfo> pod = PodFromJson(Pod(R"({"uid":"u-1"})", "{}", status));
  ASSERT_TRUE(pod.has_value());
  EXPECT_EQ(pod->containers, (StringPairs{{kAppId, "a"}, {kMigrateId, "debugger"}}));
}

TEST(PodFromJsonTest, ContainerNames) {
  const std::optional<PodInfo> pod = PodFromJson(Pod(
      R"({"uid":"u-1"})",
      R"({"containers":[{"name":"web"},{"name":"sidecar"},{"name":""},{"image":"x"},{"name":["web"]},3],
          "initContainers":[{"name":"init"},{"name":"web"}],
          "ephemeralContainers":[{"name":"debugger"}]})"));
  ASSERT_TRUE(pod.has_value());
  EXPECT_EQ(pod->container_names, (std::vector<std::string>{"init", "sidecar", "web"}));
  EXPECT_TRUE(pod->containers.empty());
}

TEST(PodFromJsonTest, LabelsAreBounded) {
  std::string labels = "{";
  for (int i = 0; i < 70; ++i) labels += "\"k" + std::to_string(100 + i) + "\":\"v\",";
  labels += "\"a-long-value\":\"" + std::string(257, 'v') + "\",";
  labels += "\"" + std::string(257, 'a') + "\":\"long key\",";
  labels += "\"a-max-value\":\"" + std::string(256, 'v') + "\",";
  labels += R"("a-number":7,"a-null":null,"a-empty":""})";
  const std::optional<PodInfo> pod = PodFromJson(Pod(R"({"uid":"u-1","labels":)" + labels + "}"));
  ASSERT_TRUE(pod.has_value());
  ASSERT_EQ(pod->labels.size(), 64u);
  EXPECT_EQ(pod->labels[0], (std::pair<std::string, std::string>{"a-empty", ""}));
  EXPECT_EQ(pod->labels[1],
            (std::pair<std::string, std::string>{"a-max-value", std::string(256, 'v')}));
  EXPECT_EQ(pod->labels[2].first, "k100");
  EXPECT_EQ(pod->labels[63].first, "k161");  // the first 64 by key
}

TEST(PodFromJsonTest, WrongTypesInOptionalFieldsLeaveThemEmpty) {
  const std::string json = R"({"metadata":{"uid":"u-1","name":5,"namespace":["n"],"labels":[1],
      "ownerReferences":{"kind":"x"}},"spec":{"nodeName":{},"containers":"web",
      "initContainers":null},"status":{"containerStatuses":{"0":{}},"initContainerStatuses":7}})";
  std::optional<PodInfo> pod;
  EXPECT_NO_THROW(pod = PodFromJson(json));
  ASSERT_TRUE(pod.has_value());
  PodInfo expected;
  expected.uid = "u-1";
  EXPECT_EQ(*pod, expected);
}

TEST(PodFromJsonTest, InvalidPodsGiveNothing) {
  const std::string deep_array(100'000, '[');
  const std::string deep_valid = deep_array + std::string(100'000, ']');
  const std::string inputs[] = {
      "",
      "null",
      "[]",
      "\"pod\"",
      "{}",
      R"({"metadata":null})",
      R"({"metadata":[]})",
      R"({"metadata":{}})",
      R"({"metadata":{"uid":""}})",
      R"({"metadata":{"uid":7}})",
      R"({"metadata":{"uid":["u-1"]}})",
      R"({"metadata":{"uid":{"uid":"u-1"}}})",
      R"({"object":{"metadata":{"uid":"u-1"}}})",
      std::string(R"({"metadata":{"uid":"u-1"}})") + "garbage",
      R"({"metadata":{"uid":"u-1")",
      "{\"metadata\":{\"uid\":\"u\xff\"}}",  // not UTF-8
      R"({"metadata":{"uid":"u-1"},"spec":1e999})",
      std::string(R"({"metadata":{"uid":"u-1"}})") + '\0' + "junk",
      std::string(R"({"metadata":{"uid":"u-1)") + '\0' + R"("}})",
      deep_array,
      deep_valid,
      std::string(100'000, '{'),
  };
  for (const std::string& input : inputs) {
    SCOPED_TRACE(input.substr(0, 60));
    std::optional<PodInfo> pod;
    EXPECT_NO_THROW(pod = PodFromJson(input));
    EXPECT_FALSE(pod.has_value());
  }
}

TEST(PodFromJsonTest, DeepNestingElsewhereIsHarmless) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  const std::optional<PodInfo> pod =
      PodFromJson(R"({"metadata":{"uid":"u-1","annotations":{"x":)" + deep + "}}}");
  ASSERT_TRUE(pod.has_value());
  EXPECT_EQ(pod->uid, "u-1");
}

TEST(PodFromJsonTest, EveryTruncationGivesNothing) {
  for (std::size_t size = 0; size < kDeploymentPod.size(); ++size) {
    EXPECT_FALSE(PodFromJson(std::string_view(kDeploymentPod).substr(0, size))) << size;
  }
}

TEST(PodListFromJsonTest, List) {
  const std::string json =
      R"({"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"123"},
      "items":[)" +
      kDeploymentPod + R"(,{"metadata":{"name":"no-uid"}},42,null,)" +
      Pod(R"({"uid":"u-2","name":"other","namespace":"kube-system"})") + "]}";
  const std::optional<PodList> list = PodListFromJson(json);
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->resource_version, "123");
  ASSERT_EQ(list->pods.size(), 2u);
  EXPECT_EQ(list->pods[0], *PodFromJson(kDeploymentPod));
  EXPECT_EQ(list->pods[1].uid, "u-2");
  EXPECT_EQ(list->pods[1].name, "other");
}

TEST(PodListFromJsonTest, EmptyAndInvalidLists) {
  const std::optional<PodList> empty =
      PodListFromJson(R"({"kind":"PodList","metadata":{"resourceVersion":"9"},"items":[]})");
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->resource_version, "9");
  EXPECT_TRUE(empty->pods.empty());
  const std::optional<PodList> null_items = PodListFromJson(R"({"kind":"PodList","items":null})");
  ASSERT_TRUE(null_items.has_value());
  EXPECT_EQ(null_items->resource_version, "");
  EXPECT_TRUE(null_items->pods.empty());

  const std::string invalid[] = {
      "",
      "[]",
      R"({"kind":"PodList","metadata":{"resourceVersion":"9"}})",
      R"({"kind":"PodList","items":{}})",
      R"({"kind":"PodList","items":"[]"})",
      R"({"kind":"Status","status":"Failure","reason":"Forbidden","code":403})",
      R"({"kind":"PodList","items":[)",
  };
  for (const std::string& input : invalid) {
    SCOPED_TRACE(input);
    std::optional<PodList> list;
    EXPECT_NO_THROW(list = PodListFromJson(input));
    EXPECT_FALSE(list.has_value());
  }
  const std::optional<PodList> odd_version =
      PodListFromJson(R"({"metadata":{"resourceVersion":123},"items":[]})");
  ASSERT_TRUE(odd_version.has_value());
  EXPECT_EQ(odd_version->resource_version, "");
}

TEST(PodWatchEventFromJsonTest, PodEvents) {
  using Type = PodWatchEvent::Type;
  const std::pair<const char*, Type> types[] = {
      {"ADDED", Type::kAdded}, {"MODIFIED", Type::kModified}, {"DELETED", Type::kDeleted}};
  for (const auto& [name, type] : types) {
    SCOPED_TRACE(name);
    const std::optional<PodWatchEvent> event = PodWatchEventFromJson(
        std::string(R"({"type":")") + name + R"(","object":)" + kDeploymentPod + "}\n");
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->type, type);
    EXPECT_EQ(event->resource_version, "48213377");
    EXPECT_EQ(event->error_code, 0);
    ASSERT_TRUE(event->pod.has_value());
    EXPECT_EQ(event->pod->owner_name, "checkout");
  }
}

TEST(PodWatchEventFromJsonTest, Bookmark) {
  const std::optional<PodWatchEvent> event = PodWatchEventFromJson(
      R"({"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"48213990","creationTimestamp":null,"annotations":{"k8s.io/initial-events-end":"true"}},"spec":{"containers":null},"status":{}}})"
      "\r\n");
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->type, PodWatchEvent::Type::kBookmark);
  EXPECT_EQ(event->resource_version, "48213990");
  EXPECT_FALSE(event->pod.has_value());
}

TEST(PodWatchEventFromJsonTest, Errors) {
  const std::optional<PodWatchEvent> gone = PodWatchEventFromJson(
      R"json({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 48213377 (48290111)","reason":"Expired","code":410}})json");
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->type, PodWatchEvent::Type::kError);
  EXPECT_EQ(gone->error_code, 410);
  EXPECT_FALSE(gone->pod.has_value());

  // However odd the Status, an ERROR is an error: the watch restarts.
  const std::pair<std::string, int> odd[] = {
      {R"({"type":"ERROR"})", 0},
      {R"({"type":"ERROR","object":null})", 0},
      {R"({"type":"ERROR","object":{"code":"410"}})", 0},
      {R"({"type":"ERROR","object":{"code":410.0}})", 0},
      {R"({"type":"ERROR","object":{"code":-1}})", -1},
      {R"({"type":"ERROR","object":{"code":99999999999}})", 0},
      {R"({"type":"ERROR","object":{"code":-99999999999}})", 0},
      {R"({"type":"ERROR","object":{"code":18446744073709551615}})", 0},
  };
  for (const auto& [json, code] : odd) {
    SCOPED_TRACE(json);
    const std::optional<PodWatchEvent> event = PodWatchEventFromJson(json);
    ASSERT_TRUE(event.has_value());
    EXPECT_EQ(event->type, PodWatchEvent::Type::kError);
    EXPECT_EQ(event->error_code, code);
  }
}

TEST(PodWatchEventFromJsonTest, InvalidEventsGiveNothing) {
  const std::string inputs[] = {
      "",
      "\n",
      "[]",
      R"({"object":{"metadata":{"uid":"u-1"}}})",
      R"({"type":"added","object":{"metadata":{"uid":"u-1"}}})",
      R"({"type":"SYNC","object":{"metadata":{"uid":"u-1"}}})",
      R"({"type":7,"object":{"metadata":{"uid":"u-1"}}})",
      R"({"type":"ADDED"})",
      R"({"type":"ADDED","object":"pod"})",
      R"({"type":"MODIFIED","object":{"metadata":{"name":"no-uid"}}})",
      R"({"type":"DELETED","object":[{"metadata":{"uid":"u-1"}}]})",
      R"({"type":"BOOKMARK","object":{"metadata":{}}})",
      R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":5}}})",
      R"({"type":"BOOKMARK"})",
      R"({"type":"ADDED","object":{"metadata":{"uid":"u-1"}})",
      R"({"type":"ADDED","object":{"metadata":{"uid":"u-1"}}}{"type":"ADDED"})",
      std::string(100'000, '['),
  };
  for (const std::string& input : inputs) {
    SCOPED_TRACE(input.substr(0, 60));
    std::optional<PodWatchEvent> event;
    EXPECT_NO_THROW(event = PodWatchEventFromJson(input));
    EXPECT_FALSE(event.has_value());
  }
}

}  // namespace
}  // namespace infrared::process
