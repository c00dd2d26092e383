#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/logging.h"
#include "agent/process/pod_info.h"
#include "agent/telemetry/self_metrics.h"

namespace infrared::core {

// Where the Kubernetes API server is and how to speak to it.
struct KubeApiSettings {
  std::string url;         // "https://10.96.0.1:443"
  std::string token_file;  // bearer token, re-read at every (re)connection (tokens rotate)
  std::string ca_file;     // CA bundle for the server's certificate; empty: the system's
  std::string node_name;   // only pods with spec.nodeName equal to this are watched
};

// Resolves the k8s.api setting: "off" gives nullopt; "auto" gives the
// in-cluster server (https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)
// when those variables are set and `token_file` is readable, else nullopt;
// anything else is taken as the server's URL.
std::optional<KubeApiSettings> ResolveKubeApi(const std::string& api, const std::string& token_file,
                                              const std::string& ca_file,
                                              const std::string& node_name);

// Keeps a copy of the pods on one node current: lists them, then watches
// from the list's resourceVersion, on a thread of its own; reconnects with
// backoff (1 s doubling to 30 s) after errors, relisting after a 410 Gone.
// Failures are logged (once per kind of failure until a success) and counted
// in infrared_dropped_total{stage="k8s_api",reason}; they never stop the agent.
class KubeWatch {
 public:
  struct Sink {
    std::function<void(std::vector<process::PodInfo>)> replace;  // after each successful list
    std::function<void(process::PodInfo)> upsert;                 // ADDED, MODIFIED
    std::function<void(const std::string& uid)> remove;           // DELETED
  };

  static std::unique_ptr<KubeWatch> Start(KubeApiSettings settings, Logger& logger,
                                          telemetry::SelfMetrics& self, Sink sink);
  ~KubeWatch();  // stops the thread within about a second

  // True once a list has succeeded.
  bool Synced() const { return synced_.load(); }

 private:
  KubeWatch(KubeApiSettings settings, Logger& logger, telemetry::SelfMetrics& self, Sink sink);
  void Run();

  KubeApiSettings settings_;
  Logger& logger_;
  telemetry::SelfMetrics& self_;
  Sink sink_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> synced_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace infrared::core
