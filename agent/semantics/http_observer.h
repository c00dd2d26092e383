#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/net/conn_tracker.h"
#include "agent/process/pod_info.h"
#include "agent/process/process_identity.h"
#include "agent/semantics/http_route.h"
#include "agent/telemetry/metric_registry.h"
#include "agent/telemetry/span.h"
#include "agent/telemetry/span_queue.h"
#include "agent/telemetry/trace_context.h"

namespace infrared::semantics {

using process::ProcessIdentity;

// The OTel resource of a process's spans: service.name, service.instance.id,
// process.pid, process.executable.name, process.command_line, host.name,
// telemetry.sdk.*, container.id and k8s.* (where known: k8s.pod.uid,
// k8s.pod.name, k8s.namespace.name, k8s.container.name, k8s.node.name,
// k8s.<owner kind>.name, k8s.pod.label.<key>), then the process's own
// OTEL_RESOURCE_ATTRIBUTES (where they do not name one of those).
std::shared_ptr<const telemetry::Resource> BuildResource(std::uint32_t pid,
                                                         const ProcessIdentity& process,
                                                         const std::string& host_name);

// What the HTTP layer knows of a client exchange, for observers of the calls
// some exchanges are (LLM API calls).
struct CallContext {
  std::string server_address;
  std::string service_name;
  std::string executable_name;
  double duration_seconds = 0;
  process::Workload workload;
  std::uint64_t end_ns = 0;  // the exchange's end, kernel monotonic time
};

// Sees every client exchange before its span is pushed; takes the ones it
// recognises, recording metrics of its own and rewriting their span.
class ClientCallObserver {
 public:
  virtual ~ClientCallObserver() = default;
  // True when the exchange is one of its calls; `span` (the HTTP span, or
  // nullptr when spans are not built) is then made the call's span.
  virtual bool Observe(const protocols::http1::Exchange& exchange, const CallContext& context,
                       telemetry::Span* span) = 0;
};


// Turns HTTP exchanges into OTel HTTP metrics and spans.
class HttpObserver : public net::ExchangeSink {
 public:
  struct Dependencies {
    telemetry::MetricRegistry& registry;
    // Client exchanges go to it first (LLM calls); nullptr: none.
    ClientCallObserver* calls = nullptr;
    telemetry::SpanQueue* spans;  // nullptr: spans are not built
    telemetry::IdGenerator& ids;
    // Who a process is; nullptr: not known (its labels are left empty).
    std::function<std::shared_ptr<const ProcessIdentity>(std::uint32_t pid)> process;
    std::function<std::uint64_t(std::uint64_t monotonic_ns)> to_unix_ns;
    std::function<void()> on_span_dropped;  // the span queue was full
    // A process waiting for its first LLM call (awaiting_llm) made one.
    std::function<void(std::uint32_t pid)> on_llm_call;
    std::string host_name;
    std::optional<RouteMatcher> routes;
    // Distinct routes a service reports in metrics, and how long an unused one
    // keeps its place; beyond, "_other" (spans keep the route).
    std::size_t max_routes_per_service = 256;
    std::uint64_t route_idle_ns = 3600'000'000'000;
    std::function<void()> on_route_folded;
  };

  explicit HttpObserver(Dependencies dependencies);

  void OnExchange(const net::ConnectionInfo& connection,
                  protocols::http1::Exchange exchange) override;

 private:
  struct Facts;
  Facts Describe(const net::ConnectionInfo& connection,
                 const protocols::http1::Exchange& exchange) const;
  void Record(const Facts& facts, const protocols::http1::Exchange& exchange);
  telemetry::Span BuildSpan(const Facts& facts, const protocols::http1::Exchange& exchange);
  // The resource of a process's spans, built again only when what it says changed.
  std::shared_ptr<const telemetry::Resource> ResourceOf(
      std::uint32_t pid, const std::shared_ptr<const ProcessIdentity>& process);

  struct BuiltResource {
    std::shared_ptr<const ProcessIdentity> process;  // what it was built from
    std::shared_ptr<const telemetry::Resource> resource;
  };
  // Processes come and go: past this many the cache starts afresh.
  static constexpr std::size_t kMaxResources = 4096;

  Dependencies deps_;
  const std::shared_ptr<const ProcessIdentity> unknown_process_;
  std::unordered_map<std::uint32_t, BuiltResource> resources_;
  RouteBudget route_budget_;
  // Each exchange's duration, request body size and response body size, in
  // that order: one series lookup for the three.
  telemetry::HistogramGroup& server_;
  telemetry::HistogramGroup& client_;
};

// "GET" for the methods RFC 9110 and RFC 5789 define, "_OTHER" for the rest,
// as the HTTP semantic conventions ask, so that method labels stay bounded.
std::string NormalizeMethod(std::string_view method);

// Host and port of a Host header ("example.com:8080", "[::1]:80"); port 0 when absent.
std::pair<std::string, std::uint16_t> SplitHost(std::string_view host_header);
// A host name or address as SplitHost gives it: at most 253 bytes of letters,
// digits, '.', '-', '_' and ':' (IPv6).
bool IsHostName(std::string_view host);

}  // namespace infrared::semantics
