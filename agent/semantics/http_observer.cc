#include "agent/semantics/http_observer.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace infrared::semantics {
namespace {

using protocols::http1::Exchange;
using protocols::http1::FindHeader;
using telemetry::Attribute;

// The HTTP semantic conventions' recommended duration buckets, in seconds.
const std::vector<double> kDurationBuckets = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25,
                                              0.5,   0.75, 1,     2.5,  5,     7.5, 10};
const std::vector<double> kBodyBuckets = {0, 100, 1000, 10000, 100000, 1e6, 1e7, 1e8};

const std::vector<std::string> kServerLabels = {
    "http_request_method", "http_response_status_code", "http_route",        "error_type",
    "service_name",        "process_executable_name",   "k8s_namespace_name", "k8s_pod_name",
    "k8s_container_name",  "container_id"};
const std::vector<std::string> kClientLabels = {
    "http_request_method", "http_response_status_code", "server_address",
    "server_port",         "error_type",                "service_name",
    "process_executable_name", "k8s_namespace_name",    "k8s_pod_name",
    "k8s_container_name",  "container_id"};

// `number` in decimal, in `text`.
std::string_view NumberText(int number, char (&text)[12]) {
  const auto [end, ec] = std::to_chars(text, text + sizeof(text), number);
  return ec == std::errc() ? std::string_view(text, end - text) : std::string_view();
}

// k8s.<kind>.name for the owner kinds the semantic conventions name.
std::string OwnerAttribute(const std::string& kind) {
  for (const char* known : {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"}) {
    if (kind == known) {
      std::string lower = kind;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      return "k8s." + lower + ".name";
    }
  }
  return "";
}

void AddWorkloadAttributes(const process::Workload& workload, std::vector<Attribute>& a) {
  auto add = [&a](const char* key, const std::string& value) {
    if (!value.empty()) a.push_back({key, value});
  };
  add("container.id", workload.container_id);
  add("k8s.pod.uid", workload.pod_uid);
  add("k8s.pod.name", workload.pod_name);
  add("k8s.namespace.name", workload.namespace_name);
  add("k8s.container.name", workload.container_name);
  add("k8s.node.name", workload.node_name);
  if (std::string key = OwnerAttribute(workload.owner_kind); !key.empty()) {
    add(key.c_str(), workload.owner_name);
  }
  for (const auto& [key, value] : workload.pod_labels) {
    a.push_back({"k8s.pod.label." + key, value});
  }
}

std::string FormatAddress(const net::Endpoint& endpoint, bool ipv6) {
  char text[INET6_ADDRSTRLEN] = {};
  const bool mapped_v4 = ipv6 && endpoint.address[10] == 0xff && endpoint.address[11] == 0xff &&
                         std::all_of(endpoint.address.begin(), endpoint.address.begin() + 10,
                                     [](std::uint8_t b) { return b == 0; });
  if (!ipv6) {
    inet_ntop(AF_INET, endpoint.address.data(), text, sizeof(text));
  } else if (mapped_v4) {
    inet_ntop(AF_INET, endpoint.address.data() + 12, text, sizeof(text));
  } else {
    inet_ntop(AF_INET6, endpoint.address.data(), text, sizeof(text));
  }
  return text;
}

// The path of a request target, without query or fragment.
std::string_view PathOf(std::string_view target) {
  if (std::size_t scheme = target.find("://"); scheme != std::string_view::npos) {
    std::size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  return target.substr(0, target.find_first_of("?#"));
}

}  // namespace

std::shared_ptr<const telemetry::Resource> BuildResource(std::uint32_t pid,
                                                         const ProcessIdentity& process,
                                                         const std::string& host_name) {
  auto resource = std::make_shared<telemetry::Resource>();
  std::vector<Attribute>& a = resource->attributes;
  a.push_back({"service.name", process.service_name});
  a.push_back({"service.instance.id", host_name + "/" + std::to_string(pid) + "/" +
                                          std::to_string(process.start_id)});
  a.push_back({"process.pid", std::int64_t{pid}});
  a.push_back({"process.executable.name", process.executable_name});
  if (!process.command_line.empty()) a.push_back({"process.command_line", process.command_line});
  a.push_back({"host.name", host_name});
  a.push_back({"telemetry.sdk.name", std::string("infrared")});
  a.push_back({"telemetry.sdk.language", std::string("cpp")});
  AddWorkloadAttributes(process.workload, a);
  const std::size_t ours = a.size();
  for (const auto& [key, value] : process.resource_attributes) {
    bool taken = std::any_of(a.begin(), a.begin() + static_cast<std::ptrdiff_t>(ours),
                             [&key = key](const Attribute& attribute) { return attribute.key == key; });
    if (!taken) a.push_back({key, value});
  }
  return resource;
}

std::string NormalizeMethod(std::string_view method) {
  for (std::string_view known :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}) {
    if (method == known) return std::string(known);
  }
  return "_OTHER";
}

bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_' || c == ':';
  });
}

std::pair<std::string, std::uint16_t> SplitHost(std::string_view host) {
  std::string_view port_text;
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    if (close == std::string_view::npos) return {std::string(host), 0};
    if (close + 1 < host.size() && host[close + 1] == ':') port_text = host.substr(close + 2);
    host = host.substr(1, close - 1);
  } else if (std::size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port_text = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  std::uint16_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size()) port = 0;
  return {std::string(host), port};
}

// Everything the metrics and the span say about one exchange.
struct HttpObserver::Facts {
  bool server = false;
  bool tls = false;  // the exchange travelled inside TLS
  std::string method;
  std::string original_method;
  std::string path;
  std::string route;
  int status = 0;
  std::string error_type;  // empty: not an error
  std::string server_address;
  std::uint16_t server_port = 0;
  // Formatted only for a span: metrics do not name the peer.
  net::Endpoint peer;
  bool ipv6 = false;
  std::uint32_t pid = 0;
  std::shared_ptr<const ProcessIdentity> process;  // never nullptr
  std::uint64_t start_ns = 0;  // first request byte
  std::uint64_t end_ns = 0;    // last response byte (request's, when none came), >= start_ns
  double duration_seconds = 0;
};

// Routes, peers and pods come and go: the groups' series leave when idle.
HttpObserver::HttpObserver(Dependencies dependencies)
    : deps_(std::move(dependencies)),
      unknown_process_(std::make_shared<const ProcessIdentity>()),
      route_budget_(deps_.max_routes_per_service, deps_.route_idle_ns),
      server_(deps_.registry.AddHistogramGroup(kServerLabels)),
      client_(deps_.registry.AddHistogramGroup(kClientLabels)) {
  // Registered in the order they were before they were grouped: /metrics lists them so.
  telemetry::MetricRegistry& registry = deps_.registry;
  registry.AddToGroup(server_, "http_server_request_duration_seconds",
                      "Duration of HTTP requests this host's processes served, first request "
                      "byte to last response byte.",
                      kDurationBuckets, "seconds");
  registry.AddToGroup(client_, "http_client_request_duration_seconds",
                      "Duration of HTTP requests this host's processes made, first request byte "
                      "to last response byte.",
                      kDurationBuckets, "seconds");
  registry.AddToGroup(server_, "http_server_request_body_size_bytes",
                      "Body size of HTTP requests served.", kBodyBuckets, "bytes");
  registry.AddToGroup(server_, "http_server_response_body_size_bytes",
                      "Body size of HTTP responses served.", kBodyBuckets, "bytes");
  registry.AddToGroup(client_, "http_client_request_body_size_bytes",
                      "Body size of HTTP requests made.", kBodyBuckets, "bytes");
  registry.AddToGroup(client_, "http_client_response_body_size_bytes",
                      "Body size of HTTP responses received.", kBodyBuckets, "bytes");
}

HttpObserver::Facts HttpObserver::Describe(const net::ConnectionInfo& connection,
                                           const Exchange& exchange) const {
  Facts facts;
  facts.server = connection.role == net::Role::kServer;
  facts.tls = connection.id.tls();
  facts.original_method = exchange.request.method;
  facts.method = NormalizeMethod(exchange.request.method);
  facts.path = std::string(PathOf(exchange.request.target));
  std::optional<std::string> matched = deps_.routes ? deps_.routes->Match(facts.path) : std::nullopt;
  facts.route = matched ? *matched : RouteFromTarget(exchange.request.target);
  facts.status = exchange.response.status_code;
  if (facts.status == 0) {
    facts.error_type = "no_response";
  } else if (facts.status >= (facts.server ? 500 : 400)) {
    facts.error_type = std::to_string(facts.status);
  }
  const net::Endpoint& server_side = facts.server ? connection.local : connection.remote;
  auto [host, port] = SplitHost(FindHeader(exchange.request.headers, "host"));
  // A Host that names no host (too long, odd bytes) is not made a label.
  if (!IsHostName(host)) host.clear();
  facts.server_address = host.empty() ? FormatAddress(server_side, connection.ipv6) : host;
  facts.server_port = port != 0 ? port : server_side.port;
  // A TLS stream whose socket was not found: the scheme's default port.
  if (facts.server_port == 0) facts.server_port = facts.tls ? 443 : 80;
  facts.peer = connection.remote;
  facts.ipv6 = connection.ipv6;
  facts.pid = connection.id.pid;
  facts.process = deps_.process(connection.id.pid);
  if (!facts.process) facts.process = unknown_process_;
  const std::uint64_t end =
      exchange.response.status_code ? exchange.response.end_ns : exchange.request.end_ns;
  facts.start_ns = exchange.request.start_ns;
  facts.end_ns = std::max(end, facts.start_ns);
  facts.duration_seconds = static_cast<double>(facts.end_ns - facts.start_ns) / 1e9;
  return facts;
}

void HttpObserver::Record(const Facts& facts, const Exchange& exchange) {
  const ProcessIdentity& process = *facts.process;
  // Views of the label values, in kServerLabels' or kClientLabels' order.
  std::array<std::string_view, 11> labels;
  std::size_t count = 0;
  char status[12];
  char port[12];
  labels[count++] = facts.method;
  labels[count++] = facts.status ? NumberText(facts.status, status) : std::string_view();
  if (facts.server) {
    bool folded = false;
    labels[count++] = route_budget_.Admit(process.service_name, process.executable_name,
                                          facts.route, facts.end_ns, folded);
    if (folded && deps_.on_route_folded) deps_.on_route_folded();
  } else {
    labels[count++] = facts.server_address;
    labels[count++] = NumberText(facts.server_port, port);
  }
  labels[count++] = facts.error_type;
  labels[count++] = process.service_name;
  labels[count++] = process.executable_name;
  for (std::string_view value : process::WorkloadLabelValues(process.workload)) {
    labels[count++] = value;
  }
  (facts.server ? server_ : client_)
      .ObserveAt(std::span(labels.data(), count), facts.end_ns,
                 {facts.duration_seconds, double(exchange.request.body_size),
                  double(exchange.response.body_size)});
}

telemetry::Span HttpObserver::BuildSpan(const Facts& facts, const Exchange& exchange) {
  telemetry::Span span;
  std::optional<telemetry::TraceParent> parent =
      telemetry::ParseTraceparent(FindHeader(exchange.request.headers, "traceparent"));
  span.trace_id = parent ? parent->trace_id : deps_.ids.NewTraceId();
  if (parent) {
    span.parent_span_id = parent->parent_id;
    span.trace_flags = parent->flags;
  }
  span.span_id = deps_.ids.NewSpanId();
  // The HTTP semantic conventions name spans of unknown methods "HTTP".
  span.name = (facts.method == "_OTHER" ? std::string("HTTP") : facts.method) + " " + facts.route;
  span.kind = facts.server ? telemetry::SpanKind::kServer : telemetry::SpanKind::kClient;
  span.start_unix_ns = deps_.to_unix_ns(facts.start_ns);
  span.end_unix_ns = deps_.to_unix_ns(facts.end_ns);
  std::vector<Attribute>& a = span.attributes;
  a.reserve(16);  // the most an HTTP span has; a GenAI span grows once
  a.push_back({"http.request.method", facts.method});
  if (facts.method == "_OTHER") a.push_back({"http.request.method_original", facts.original_method});
  a.push_back({"url.path", facts.path});
  a.push_back({"url.scheme", std::string(facts.tls ? "https" : "http")});
  a.push_back({"http.route", facts.route});
  if (facts.status) a.push_back({"http.response.status_code", std::int64_t{facts.status}});
  a.push_back({"network.protocol.version",
               std::string(exchange.request.version_minor == 0 ? "1.0" : "1.1")});
  a.push_back({"server.address", facts.server_address});
  a.push_back({"server.port", std::int64_t{facts.server_port}});
  const std::string peer_address = FormatAddress(facts.peer, facts.ipv6);
  a.push_back({"network.peer.address", peer_address});
  a.push_back({"network.peer.port", std::int64_t{facts.peer.port}});
  if (facts.server) a.push_back({"client.address", peer_address});
  a.push_back({"http.request.body.size", std::int64_t(exchange.request.body_size)});
  if (facts.status) {
    a.push_back({"http.response.body.size", std::int64_t(exchange.response.body_size)});
  }
  if (!facts.error_type.empty()) {
    a.push_back({"error.type", facts.error_type});
    span.status = telemetry::StatusCode::kError;
  }
  span.resource = ResourceOf(facts.pid, facts.process);
  return span;
}

std::shared_ptr<const telemetry::Resource> HttpObserver::ResourceOf(
    std::uint32_t pid, const std::shared_ptr<const ProcessIdentity>& process) {
  auto same = [&process](const ProcessIdentity& built) {
    return built.start_id == process->start_id && built.service_name == process->service_name &&
           built.executable_name == process->executable_name &&
           built.command_line == process->command_line && built.workload == process->workload &&
           built.resource_attributes == process->resource_attributes;
  };
  if (auto it = resources_.find(pid);
      it != resources_.end() && (it->second.process == process || same(*it->second.process))) {
    return it->second.resource;
  }
  if (resources_.size() >= kMaxResources) resources_.clear();
  BuiltResource& built = resources_[pid];
  built.process = process;
  built.resource = BuildResource(pid, *process, deps_.host_name);
  return built.resource;
}

void HttpObserver::OnExchange(const net::ConnectionInfo& connection, Exchange exchange) {
  Facts facts = Describe(connection, exchange);
  const ProcessIdentity& process = *facts.process;
  if (process.excluded) return;
  std::optional<telemetry::Span> span;
  if (deps_.spans) span = BuildSpan(facts, exchange);
  bool llm_call = false;
  if (deps_.calls && !facts.server) {
    const CallContext context{facts.server_address,    process.service_name,
                              process.executable_name, facts.duration_seconds,
                              process.workload,        facts.end_ns};
    llm_call = deps_.calls->Observe(exchange, context, span ? &*span : nullptr);
  }
  if (process.awaiting_llm) {
    if (!llm_call) return;
    if (deps_.on_llm_call) deps_.on_llm_call(facts.pid);
  }
  Record(facts, exchange);
  if (!span) return;
  if (!deps_.spans->Push(std::move(*span)) && deps_.on_span_dropped) deps_.on_span_dropped();
}

}  // namespace infrared::semantics
