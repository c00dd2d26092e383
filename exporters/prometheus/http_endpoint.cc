#include "exporters/prometheus/http_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>

#include "agent/core/listen_address.h"
#include "exporters/prometheus/bounded_task_queue.h"
#include "exporters/prometheus/exposition.h"

namespace infrared::prometheus {
namespace {

// Scrapes are rare and cheap: a few workers keep the footprint small, and
// short timeouts stop idle or slow clients from holding them.
constexpr std::size_t kWorkers = 4;
constexpr int kIoTimeoutSeconds = 5;
// Connections accepted and waiting for a worker (a socket each). Past that the
// accept loop waits and they queue in the kernel's listen backlog, which httplib
// sets to 5: 50 scrapers at once lost SYNs and waited a second or more for their
// retransmission.
constexpr std::size_t kMaxQueued = 16;
constexpr int kListenBacklog = 128;

constexpr const char* kIndexPage =
    "<!doctype html><html><head><title>infrared</title></head><body>"
    "<h1>infrared</h1><p>eBPF host agent.</p><ul>"
    "<li><a href=\"/metrics\">/metrics</a>: Prometheus metrics</li>"
    "<li><a href=\"/healthz\">/healthz</a>: liveness</li>"
    "<li><a href=\"/readyz\">/readyz</a>: readiness (probes attached)</li>"
    "</ul></body></html>\n";

}  // namespace

HttpEndpoint::HttpEndpoint(telemetry::MetricRegistry& registry,
                           telemetry::HistogramFamily* scrape_duration)
    : registry_(registry), scrape_duration_(scrape_duration) {}

HttpEndpoint::~HttpEndpoint() { Stop(); }

void HttpEndpoint::Route() {
  server_->Get("/metrics", [this](const httplib::Request& request, httplib::Response& response) {
    const auto start = std::chrono::steady_clock::now();
    ExpositionFormat format = NegotiateFormat(request.get_header_value("Accept"));
    response.set_content(Render(registry_.Collect(), format), ContentType(format).c_str());
    if (scrape_duration_) {
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      scrape_duration_
          ->WithLabels({format == ExpositionFormat::kOpenMetrics100 ? "openmetrics" : "text"})
          .Observe(took.count());
    }
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain; charset=utf-8");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& response) {
    if (ready_) {
      response.set_content("ready\n", "text/plain; charset=utf-8");
    } else {
      response.status = 503;
      response.set_content("probes are not attached yet\n", "text/plain; charset=utf-8");
    }
  });
  server_->Get("/", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(kIndexPage, "text/html; charset=utf-8");
  });
}

bool HttpEndpoint::Start(const std::string& listen_address, std::string& error) {
  std::optional<core::ListenAddress> address = core::ParseListenAddress(listen_address);
  if (!address) {
    error = "web.listen_address '" + listen_address + "' is not of the form [host]:port";
    return false;
  }
  const std::string host = address->host.empty() ? "0.0.0.0" : address->host;
  const int port = address->port;
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new BoundedTaskQueue(kWorkers, kMaxQueued); };
  server_->set_read_timeout(kIoTimeoutSeconds, 0);
  server_->set_write_timeout(kIoTimeoutSeconds, 0);
  server_->set_keep_alive_timeout(kIoTimeoutSeconds);
  // One request per connection: a kept-alive connection holds one of the few
  // workers until it idles out (5 s), so 4 Prometheus-like scrapers that keep
  // theirs stalled every other scrape. Scrapers come back after more than 5 s
  // anyway, when httplib would have closed the connection.
  server_->set_keep_alive_max_count(1);
  // httplib's default sets SO_REUSEPORT, so a second agent on the same port
  // started too and the kernel split scrapes between the two. SO_REUSEADDR alone
  // still lets a restarted agent bind over its predecessor's TIME_WAIT sockets.
  listen_fd_ = -1;
  server_->set_socket_options([this](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listen_fd_ = sock;  // the last socket tried is the one bound, when one is
  });
  Route();
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
  } else if (server_->bind_to_port(host, port)) {
    port_ = port;
  } else {
    port_ = -1;
  }
  // Listening again on a listening socket only changes its backlog.
  if (port_ > 0 && listen(listen_fd_, kListenBacklog) != 0) port_ = -1;
  if (port_ <= 0) {
    error = "cannot listen on " + listen_address +
            " (address in use, or not an address of this host); choose another with "
            "--web.listen-address";
    server_.reset();
    return false;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return true;
}

void HttpEndpoint::Stop() {
  if (server_ && thread_.joinable()) {
    // httplib ignores stop() until its accept loop runs; right after Start()
    // (an error path) the loop may not have begun yet.
    for (int waited = 0; waited < 200 && !server_->is_running(); ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    server_->stop();
  }
  if (thread_.joinable()) thread_.join();
}

}  // namespace infrared::prometheus
