#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "agent/telemetry/metric_registry.h"

namespace httplib {
class Server;
}

namespace infrared::prometheus {

// The agent's HTTP endpoint: /metrics (text 0.0.4 or OpenMetrics by Accept),
// /healthz (alive), /readyz (probes attached) and an index page at /.
class HttpEndpoint {
 public:
  HttpEndpoint(telemetry::MetricRegistry& registry, telemetry::HistogramFamily* scrape_duration);
  ~HttpEndpoint();

  // Binds and starts serving on a thread of its own. Returns false with a
  // sentence in `error` when the address cannot be bound.
  bool Start(const std::string& listen_address, std::string& error);
  // The port actually bound (useful with port 0).
  int Port() const { return port_; }
  void SetReady(bool ready) { ready_ = ready; }
  // Stops accepting, finishes in-flight requests, joins the thread.
  void Stop();

 private:
  void Route();

  telemetry::MetricRegistry& registry_;
  telemetry::HistogramFamily* scrape_duration_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> ready_{false};
  int port_ = 0;
  int listen_fd_ = -1;  // the listening socket, owned by server_
};

}  // namespace infrared::prometheus
