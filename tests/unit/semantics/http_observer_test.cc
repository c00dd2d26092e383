#include "agent/semantics/http_observer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace infrared::semantics {
namespace {

using protocols::http1::Exchange;
using protocols::http1::Header;
using telemetry::AttributeValue;
using telemetry::HistogramSample;
using telemetry::MetricFamily;
using telemetry::Span;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::uint64_t kUnixOffset = 1'000'000'000'000'000'000;
constexpr std::uint32_t kPid = 42;
constexpr std::uint64_t kSeed = 7;

net::ConnectionInfo ServerConnection() {
  net::ConnectionInfo connection;
  connection.id = net::ConnId{kPid, 9, 1};
  connection.role = net::Role::kServer;
  connection.local = net::Endpoint{{10, 0, 0, 1}, 8080};
  connection.remote = net::Endpoint{{10, 0, 0, 2}, 54321};
  return connection;
}

net::ConnectionInfo ClientConnection() {
  net::ConnectionInfo connection;
  connection.id = net::ConnId{kPid, 10, 1};
  connection.role = net::Role::kClient;
  connection.local = net::Endpoint{{10, 0, 0, 1}, 40000};
  connection.remote = net::Endpoint{{93, 184, 216, 34}, 80};
  return connection;
}

// A request at 1000 ns answered 30 ms later.
Exchange MakeExchange(std::string method, std::string target, int status,
                      std::vector<Header> headers = {}) {
  Exchange exchange;
  exchange.request.method = std::move(method);
  exchange.request.target = std::move(target);
  exchange.request.headers = std::move(headers);
  exchange.request.start_ns = 1000;
  exchange.request.end_ns = 2000;
  exchange.response.status_code = status;
  if (status != 0) {
    exchange.response.start_ns = 20'000'000;
    exchange.response.end_ns = 30'001'000;
  }
  return exchange;
}

using LabelMap = std::map<std::string, std::string>;

const MetricFamily* FindFamily(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const MetricFamily& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

// Every series of a histogram family, keyed by its labels.
std::map<LabelMap, HistogramSample> Series(const telemetry::MetricRegistry& registry,
                                           const std::string& name) {
  std::map<LabelMap, HistogramSample> series;
  const std::vector<MetricFamily> families = registry.Collect();
  const MetricFamily* family = FindFamily(families, name);
  if (family == nullptr) {
    ADD_FAILURE() << "no family " << name;
    return series;
  }
  for (const HistogramSample& sample : family->histograms) {
    LabelMap labels;
    for (const telemetry::Label& label : sample.labels) labels[label.name] = label.value;
    series[labels] = sample;
  }
  return series;
}

std::map<std::string, AttributeValue> AttributeMap(const std::vector<telemetry::Attribute>& list) {
  std::map<std::string, AttributeValue> map;
  for (const telemetry::Attribute& attribute : list) {
    EXPECT_TRUE(map.emplace(attribute.key, attribute.value).second) << "twice: " << attribute.key;
  }
  return map;
}

AttributeValue Str(const std::string& text) { return AttributeValue(text); }
AttributeValue Int(std::int64_t value) { return AttributeValue(value); }

// Which bucket (0-based, non-cumulative) holds the single observation.
int BucketOf(const HistogramSample& sample) {
  for (std::size_t i = 0; i < sample.bucket_counts.size(); ++i) {
    if (sample.bucket_counts[i] != 0) return static_cast<int>(i);
  }
  return -1;
}

class HttpObserverTest : public ::testing::Test {
 protected:
  HttpObserver& Observer() {
    if (!observer_) {
      observer_ = std::make_unique<HttpObserver>(HttpObserver::Dependencies{
          .registry = registry_,
          .spans = spans_enabled_ ? &queue_ : nullptr,
          .ids = ids_,
          // As the process table hands it out: one shared copy until it changes.
          .process = [this](std::uint32_t pid) -> std::shared_ptr<const ProcessIdentity> {
            if (pid != kPid) return nullptr;
            if (!shared_identity_ || *shared_identity_ != identity_) {
              shared_identity_ = std::make_shared<const ProcessIdentity>(identity_);
            }
            return shared_identity_;
          },
          .to_unix_ns = [](std::uint64_t monotonic_ns) { return monotonic_ns + kUnixOffset; },
          .on_span_dropped = [this] { ++spans_dropped_; },
          .on_llm_call = [this](std::uint32_t pid) { llm_callers_.push_back(pid); },
          .host_name = "node-1",
          .routes = routes_,
          .max_routes_per_service = max_routes_,
          .route_idle_ns = 1000,
          .on_route_folded = [this] { ++routes_folded_; },
      });
    }
    return *observer_;
  }

  std::vector<Span> TakeSpans() {
    std::vector<Span> spans;
    queue_.PopBatch(spans, 100, std::chrono::milliseconds(0));
    return spans;
  }

  Span OnlySpan() {
    std::vector<Span> spans = TakeSpans();
    EXPECT_EQ(spans.size(), 1u);
    return spans.empty() ? Span{} : std::move(spans[0]);
  }

  telemetry::MetricRegistry registry_;
  telemetry::SpanQueue queue_{16};
  telemetry::RandomIdGenerator ids_{kSeed};
  std::optional<RouteMatcher> routes_;
  bool spans_enabled_ = true;
  int spans_dropped_ = 0;
  std::size_t max_routes_ = 256;
  int routes_folded_ = 0;
  ProcessIdentity identity_{.executable_name = "python3",
                            .service_name = "checkout",
                            .command_line = "python3 app.py",
                            .resource_attributes = {{"team", "payments"}},
                            .start_id = 42,
                            .workload = {}};
  std::shared_ptr<const ProcessIdentity> shared_identity_;
  std::vector<std::uint32_t> llm_callers_;
  std::unique_ptr<HttpObserver> observer_;
};

LabelMap ServerLabels(const char* method, const char* status, const char* route,
                      const char* error_type) {
  return {{"http_request_method", method}, {"http_response_status_code", status},
          {"http_route", route},           {"error_type", error_type},
          {"service_name", "checkout"},    {"process_executable_name", "python3"},
          {"k8s_namespace_name", ""},      {"k8s_pod_name", ""},
          {"k8s_container_name", ""},      {"container_id", ""}};
}

LabelMap ClientLabels(const char* method, const char* status, const char* address, const char* port,
                      const char* error_type) {
  return {{"http_request_method", method},
          {"http_response_status_code", status},
          {"server_address", address},
          {"server_port", port},
          {"error_type", error_type},
          {"service_name", "checkout"},
          {"process_executable_name", "python3"},
          {"k8s_namespace_name", ""},
          {"k8s_pod_name", ""},
          {"k8s_container_name", ""},
          {"container_id", ""}};
}

TEST_F(HttpObserverTest, ServerDurationHistogram) {
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/users/123?page=2", 200));
  const auto series = Series(registry_, "http_server_request_duration_seconds");
  ASSERT_EQ(series.size(), 1u);
  const LabelMap labels = ServerLabels("GET", "200", "/users/{id}", "");
  ASSERT_EQ(series.count(labels), 1u) << "labels differ";
  const HistogramSample& sample = series.at(labels);
  EXPECT_EQ(sample.count, 1u);
  EXPECT_DOUBLE_EQ(sample.sum, 0.03);
  EXPECT_EQ(BucketOf(sample), 3);  // (0.025, 0.05]
  EXPECT_THAT(Series(registry_, "http_client_request_duration_seconds"), IsEmpty());
}

TEST_F(HttpObserverTest, ServerBodySizeHistograms) {
  Exchange exchange = MakeExchange("POST", "/orders", 201);
  exchange.request.body_size = 100;
  exchange.response.body_size = 1500;
  Observer().OnExchange(ServerConnection(), std::move(exchange));
  const LabelMap labels = ServerLabels("POST", "201", "/orders", "");
  const auto requests = Series(registry_, "http_server_request_body_size_bytes");
  ASSERT_EQ(requests.count(labels), 1u);
  EXPECT_EQ(BucketOf(requests.at(labels)), 1);  // (0, 100]
  EXPECT_DOUBLE_EQ(requests.at(labels).sum, 100);
  const auto responses = Series(registry_, "http_server_response_body_size_bytes");
  ASSERT_EQ(responses.count(labels), 1u);
  EXPECT_EQ(BucketOf(responses.at(labels)), 3);  // (1000, 10000]
  EXPECT_DOUBLE_EQ(responses.at(labels).sum, 1500);
}

TEST_F(HttpObserverTest, ClientNotFoundUsesHostHeader) {
  Exchange exchange = MakeExchange("GET", "/missing", 404, {{"Host", "example.com:8080"}});
  exchange.response.body_size = 20000;
  Observer().OnExchange(ClientConnection(), std::move(exchange));
  const LabelMap labels = ClientLabels("GET", "404", "example.com", "8080", "404");
  const auto durations = Series(registry_, "http_client_request_duration_seconds");
  ASSERT_EQ(durations.count(labels), 1u);
  EXPECT_EQ(BucketOf(durations.at(labels)), 3);
  const auto responses = Series(registry_, "http_client_response_body_size_bytes");
  ASSERT_EQ(responses.count(labels), 1u);
  EXPECT_EQ(BucketOf(responses.at(labels)), 4);  // (10000, 100000]
  const auto requests = Series(registry_, "http_client_request_body_size_bytes");
  ASSERT_EQ(requests.count(labels), 1u);
  EXPECT_EQ(BucketOf(requests.at(labels)), 0);  // <= 0
  EXPECT_THAT(Series(registry_, "http_server_request_duration_seconds"), IsEmpty());
}

// A client scanning paths does not grow /metrics without end: beyond the
// budget, new routes are "_other" until one goes unused for route_idle_ns
// (1000 ns here); spans keep the route.
TEST_F(HttpObserverTest, RoutesPerServiceAreBounded) {
  max_routes_ = 2;
  auto at = [](std::string target, std::uint64_t end_ns) {
    Exchange exchange = MakeExchange("GET", std::move(target), 200);
    exchange.request.start_ns = exchange.request.end_ns = end_ns;
    exchange.response.start_ns = exchange.response.end_ns = end_ns;
    return exchange;
  };
  Observer().OnExchange(ServerConnection(), at("/a", 100));
  Observer().OnExchange(ServerConnection(), at("/b", 200));
  Observer().OnExchange(ServerConnection(), at("/c", 300));
  Observer().OnExchange(ServerConnection(), at("/a", 400));  // known: kept
  const auto series = Series(registry_, "http_server_request_duration_seconds");
  EXPECT_EQ(series.size(), 3u);
  EXPECT_EQ(series.at(ServerLabels("GET", "200", "/a", "")).count, 2u);
  EXPECT_EQ(series.at(ServerLabels("GET", "200", "_other", "")).count, 1u);
  EXPECT_EQ(routes_folded_, 1);
  // /b unused for more than 1000 ns: /d takes its place.
  Observer().OnExchange(ServerConnection(), at("/a", 1300));
  Observer().OnExchange(ServerConnection(), at("/d", 1300));
  EXPECT_EQ(Series(registry_, "http_server_request_duration_seconds")
                .count(ServerLabels("GET", "200", "/d", "")),
            1u);
  EXPECT_EQ(routes_folded_, 1);
  // Spans name the route whatever the metrics do.
  std::vector<telemetry::Span> spans;
  queue_.PopBatch(spans, 16, std::chrono::milliseconds(0));
  ASSERT_EQ(spans.size(), 6u);
  EXPECT_EQ(spans[2].name, "GET /c");
}

TEST_F(HttpObserverTest, HostHeadersThatNameNoHostAreNotLabels) {
  Observer().OnExchange(ClientConnection(),
                        MakeExchange("GET", "/", 200, {{"Host", std::string(300, 'a')}}));
  Observer().OnExchange(ClientConnection(),
                        MakeExchange("GET", "/", 200, {{"Host", "evil\"host\n"}}));
  const auto durations = Series(registry_, "http_client_request_duration_seconds");
  ASSERT_EQ(durations.size(), 1u);
  EXPECT_EQ(durations.begin()->second.count, 2u);
  EXPECT_EQ(durations.count(ClientLabels("GET", "200", "93.184.216.34", "80", "")), 1u);
}

TEST_F(HttpObserverTest, ClientWithoutHostHeaderUsesPeerAddress) {
  Observer().OnExchange(ClientConnection(), MakeExchange("GET", "/", 200));
  const auto durations = Series(registry_, "http_client_request_duration_seconds");
  EXPECT_EQ(durations.count(ClientLabels("GET", "200", "93.184.216.34", "80", "")), 1u);
}

TEST_F(HttpObserverTest, HostHeaderWithoutPortKeepsConnectionPort) {
  Observer().OnExchange(ClientConnection(), MakeExchange("GET", "/", 200, {{"host", "api.test"}}));
  const auto durations = Series(registry_, "http_client_request_duration_seconds");
  EXPECT_EQ(durations.count(ClientLabels("GET", "200", "api.test", "80", "")), 1u);
}

TEST_F(HttpObserverTest, ClientWithoutResponse) {
  Observer().OnExchange(ClientConnection(), MakeExchange("GET", "/slow", 0));
  const auto durations = Series(registry_, "http_client_request_duration_seconds");
  const LabelMap labels = ClientLabels("GET", "", "93.184.216.34", "80", "no_response");
  ASSERT_EQ(durations.count(labels), 1u);
  EXPECT_DOUBLE_EQ(durations.at(labels).sum, 1e-6);  // to the request's last byte

  const Span span = OnlySpan();
  const auto attributes = AttributeMap(span.attributes);
  EXPECT_EQ(attributes.count("http.response.status_code"), 0u);
  EXPECT_EQ(attributes.count("http.response.body.size"), 0u);
  EXPECT_EQ(attributes.at("error.type"), Str("no_response"));
  EXPECT_EQ(span.status, telemetry::StatusCode::kError);
  EXPECT_EQ(span.end_unix_ns, kUnixOffset + 2000);
}

struct ErrorCase {
  bool server;
  int status;
  const char* error_type;  // "" : not an error
};

class HttpObserverErrorTest : public HttpObserverTest,
                              public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(HttpObserverErrorTest, ErrorType) {
  const ErrorCase& c = GetParam();
  Observer().OnExchange(c.server ? ServerConnection() : ClientConnection(),
                        MakeExchange("GET", "/x", c.status));
  const std::string status = c.status ? std::to_string(c.status) : "";
  const LabelMap labels =
      c.server ? ServerLabels("GET", status.c_str(), "/x", c.error_type)
               : ClientLabels("GET", status.c_str(), "93.184.216.34", "80", c.error_type);
  const auto durations = Series(registry_, c.server ? "http_server_request_duration_seconds"
                                                    : "http_client_request_duration_seconds");
  EXPECT_EQ(durations.count(labels), 1u);

  const Span span = OnlySpan();
  const auto attributes = AttributeMap(span.attributes);
  if (*c.error_type == '\0') {
    EXPECT_EQ(span.status, telemetry::StatusCode::kUnset);
    EXPECT_EQ(attributes.count("error.type"), 0u);
  } else {
    EXPECT_EQ(span.status, telemetry::StatusCode::kError);
    EXPECT_EQ(attributes.at("error.type"), Str(c.error_type));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, HttpObserverErrorTest,
    ::testing::Values(ErrorCase{true, 200, ""}, ErrorCase{true, 404, ""}, ErrorCase{true, 499, ""},
                      ErrorCase{true, 500, "500"}, ErrorCase{true, 503, "503"},
                      ErrorCase{true, 0, "no_response"}, ErrorCase{false, 200, ""},
                      ErrorCase{false, 399, ""}, ErrorCase{false, 400, "400"},
                      ErrorCase{false, 404, "404"}, ErrorCase{false, 502, "502"},
                      ErrorCase{false, 0, "no_response"}));

TEST_F(HttpObserverTest, ServerSpan) {
  Exchange exchange =
      MakeExchange("GET", "/users/123?page=2#top", 200, {{"Host", "shop.example:8443"}});
  exchange.request.body_size = 0;
  exchange.response.body_size = 512;
  Observer().OnExchange(ServerConnection(), std::move(exchange));

  telemetry::RandomIdGenerator expected_ids(kSeed);
  const telemetry::TraceId trace_id = expected_ids.NewTraceId();
  const telemetry::SpanId span_id = expected_ids.NewSpanId();
  const Span span = OnlySpan();
  EXPECT_EQ(span.name, "GET /users/{id}");
  EXPECT_EQ(span.kind, telemetry::SpanKind::kServer);
  EXPECT_EQ(span.trace_id, trace_id);
  EXPECT_EQ(span.span_id, span_id);
  EXPECT_TRUE(telemetry::IsZero(span.parent_span_id));
  EXPECT_EQ(span.start_unix_ns, kUnixOffset + 1000);
  EXPECT_EQ(span.end_unix_ns, kUnixOffset + 30'001'000);
  EXPECT_EQ(span.status, telemetry::StatusCode::kUnset);

  const auto attributes = AttributeMap(span.attributes);
  EXPECT_EQ(attributes.at("http.request.method"), Str("GET"));
  EXPECT_EQ(attributes.count("http.request.method_original"), 0u);
  EXPECT_EQ(attributes.at("url.path"), Str("/users/123"));
  EXPECT_EQ(attributes.at("http.route"), Str("/users/{id}"));
  EXPECT_EQ(attributes.at("http.response.status_code"), Int(200));
  EXPECT_EQ(attributes.at("network.protocol.version"), Str("1.1"));
  EXPECT_EQ(attributes.at("server.address"), Str("shop.example"));
  EXPECT_EQ(attributes.at("server.port"), Int(8443));
  EXPECT_EQ(attributes.at("client.address"), Str("10.0.0.2"));
  EXPECT_EQ(attributes.at("network.peer.address"), Str("10.0.0.2"));
  EXPECT_EQ(attributes.at("network.peer.port"), Int(54321));
  EXPECT_EQ(attributes.at("http.request.body.size"), Int(0));
  EXPECT_EQ(attributes.at("http.response.body.size"), Int(512));
  EXPECT_EQ(attributes.count("error.type"), 0u);

  ASSERT_NE(span.resource, nullptr);
  const auto resource = AttributeMap(span.resource->attributes);
  EXPECT_EQ(resource.at("service.name"), Str("checkout"));
  EXPECT_EQ(resource.at("process.pid"), Int(kPid));
  EXPECT_EQ(resource.at("process.executable.name"), Str("python3"));
  EXPECT_EQ(resource.at("host.name"), Str("node-1"));
  EXPECT_EQ(resource.at("process.command_line"), Str("python3 app.py"));
  EXPECT_EQ(resource.at("telemetry.sdk.name"), Str("infrared"));
  EXPECT_EQ(resource.at("team"), Str("payments"));
  EXPECT_EQ(resource.at("service.instance.id"), Str("node-1/" + std::to_string(kPid) + "/42"));
}

TEST_F(HttpObserverTest, ServerSpanWithoutHostHeaderUsesLocalEndpoint) {
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/", 200));
  const auto attributes = AttributeMap(OnlySpan().attributes);
  EXPECT_EQ(attributes.at("server.address"), Str("10.0.0.1"));
  EXPECT_EQ(attributes.at("server.port"), Int(8080));
}

TEST_F(HttpObserverTest, ClientSpan) {
  Exchange exchange =
      MakeExchange("POST", "http://api.test/v1/items?x=1", 201, {{"Host", "api.test"}});
  exchange.request.version_minor = 0;
  Observer().OnExchange(ClientConnection(), std::move(exchange));
  const Span span = OnlySpan();
  EXPECT_EQ(span.name, "POST /v1/items");
  EXPECT_EQ(span.kind, telemetry::SpanKind::kClient);
  const auto attributes = AttributeMap(span.attributes);
  EXPECT_EQ(attributes.at("url.path"), Str("/v1/items"));
  EXPECT_EQ(attributes.at("server.address"), Str("api.test"));
  EXPECT_EQ(attributes.at("server.port"), Int(80));
  EXPECT_EQ(attributes.at("network.peer.address"), Str("93.184.216.34"));
  EXPECT_EQ(attributes.at("network.protocol.version"), Str("1.0"));
  EXPECT_EQ(attributes.count("client.address"), 0u);
}

TEST_F(HttpObserverTest, SchemeIsHttpsInsideTls) {
  Observer().OnExchange(ClientConnection(), MakeExchange("GET", "/plain", 200));
  net::ConnectionInfo tls = ClientConnection();
  tls.id = net::ConnId{kPid, INFRARED_TLS_FD, 2};
  Observer().OnExchange(tls, MakeExchange("GET", "/secret", 200, {{"Host", "api.test"}}));
  // Its socket unknown: no endpoints, the port is https's.
  tls.remote = net::Endpoint{};
  Observer().OnExchange(tls, MakeExchange("GET", "/unknown", 200, {{"Host", "api.test"}}));
  const std::vector<Span> spans = TakeSpans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(AttributeMap(spans[0].attributes).at("url.scheme"), Str("http"));
  EXPECT_EQ(AttributeMap(spans[1].attributes).at("url.scheme"), Str("https"));
  EXPECT_EQ(AttributeMap(spans[1].attributes).at("server.port"), Int(80));
  EXPECT_EQ(AttributeMap(spans[2].attributes).at("url.scheme"), Str("https"));
  EXPECT_EQ(AttributeMap(spans[2].attributes).at("server.port"), Int(443));
}

struct AddressCase {
  std::array<std::uint8_t, 16> address;
  const char* text;
};

class HttpObserverIpv6Test : public HttpObserverTest,
                             public ::testing::WithParamInterface<AddressCase> {};

TEST_P(HttpObserverIpv6Test, PeerAddress) {
  net::ConnectionInfo connection = ServerConnection();
  connection.ipv6 = true;
  connection.remote.address = GetParam().address;
  connection.local.address = GetParam().address;
  Observer().OnExchange(connection, MakeExchange("GET", "/", 200));
  const auto attributes = AttributeMap(OnlySpan().attributes);
  EXPECT_EQ(attributes.at("client.address"), Str(GetParam().text));
  EXPECT_EQ(attributes.at("server.address"), Str(GetParam().text));
}

INSTANTIATE_TEST_SUITE_P(
    Table, HttpObserverIpv6Test,
    ::testing::Values(
        AddressCase{{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, "2001:db8::2"},
        AddressCase{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "::1"},
        AddressCase{{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 9}, "192.168.1.9"}));

TEST_F(HttpObserverTest, TraceparentContinuesTheCallersTrace) {
  Observer().OnExchange(
      ServerConnection(),
      MakeExchange("GET", "/", 200,
                   {{"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}));
  const Span span = OnlySpan();
  EXPECT_EQ(telemetry::ToHex(span.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(telemetry::ToHex(span.parent_span_id), "00f067aa0ba902b7");
  EXPECT_EQ(span.trace_flags, 1);
  telemetry::RandomIdGenerator expected_ids(kSeed);
  EXPECT_EQ(span.span_id, expected_ids.NewSpanId());
}

TEST_F(HttpObserverTest, InvalidTraceparentStartsANewTrace) {
  Observer().OnExchange(
      ServerConnection(),
      MakeExchange("GET", "/", 200,
                   {{"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"}}));
  const Span span = OnlySpan();
  telemetry::RandomIdGenerator expected_ids(kSeed);
  EXPECT_EQ(span.trace_id, expected_ids.NewTraceId());
  EXPECT_TRUE(telemetry::IsZero(span.parent_span_id));
}

TEST_F(HttpObserverTest, UnknownMethodIsOther) {
  Observer().OnExchange(ServerConnection(), MakeExchange("PURGE", "/cache", 200));
  const auto durations = Series(registry_, "http_server_request_duration_seconds");
  EXPECT_EQ(durations.count(ServerLabels("_OTHER", "200", "/cache", "")), 1u);
  const auto attributes = AttributeMap(OnlySpan().attributes);
  EXPECT_EQ(attributes.at("http.request.method"), Str("_OTHER"));
  EXPECT_EQ(attributes.at("http.request.method_original"), Str("PURGE"));
}

TEST_F(HttpObserverTest, ConfiguredRouteWins) {
  std::string error;
  routes_ = RouteMatcher::Create({"/users/{user_id}", "/static/*"}, error);
  ASSERT_TRUE(routes_.has_value()) << error;
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/users/alice?x=1", 200));
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/static/css/app.css", 200));
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/orders/77", 200));
  std::vector<std::string> names;
  for (const Span& span : TakeSpans()) names.push_back(span.name);
  EXPECT_THAT(names, ElementsAre("GET /users/{user_id}", "GET /static/*", "GET /orders/{id}"));
  const auto durations = Series(registry_, "http_server_request_duration_seconds");
  EXPECT_EQ(durations.count(ServerLabels("GET", "200", "/users/{user_id}", "")), 1u);
  EXPECT_EQ(durations.count(ServerLabels("GET", "200", "/static/*", "")), 1u);
  EXPECT_EQ(durations.count(ServerLabels("GET", "200", "/orders/{id}", "")), 1u);
}

TEST_F(HttpObserverTest, UnknownProcessHasEmptyIdentity) {
  net::ConnectionInfo connection = ServerConnection();
  connection.id.pid = 7;
  Observer().OnExchange(connection, MakeExchange("GET", "/", 200));
  const auto durations = Series(registry_, "http_server_request_duration_seconds");
  LabelMap labels = ServerLabels("GET", "200", "/", "");
  labels["service_name"] = "";
  labels["process_executable_name"] = "";
  EXPECT_EQ(durations.count(labels), 1u);
  const Span span = OnlySpan();
  ASSERT_NE(span.resource, nullptr);
  EXPECT_EQ(AttributeMap(span.resource->attributes).at("process.pid"), Int(7));
}

TEST_F(HttpObserverTest, SpansOfAProcessShareItsResourceUntilItChanges) {
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/", 200));
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/", 200));
  identity_.service_name = "billing";  // as when its pod's annotations arrive
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/", 200));
  const std::vector<Span> spans = TakeSpans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].resource, spans[1].resource);
  EXPECT_NE(spans[1].resource, spans[2].resource);
  EXPECT_EQ(AttributeMap(spans[1].resource->attributes).at("service.name"), Str("checkout"));
  EXPECT_EQ(AttributeMap(spans[2].resource->attributes).at("service.name"), Str("billing"));
}

TEST_F(HttpObserverTest, RepeatedExchangesShareASeries) {
  for (int i = 0; i < 3; ++i) {
    Observer().OnExchange(ServerConnection(),
                          MakeExchange("GET", "/users/" + std::to_string(i), 200));
  }
  const auto durations = Series(registry_, "http_server_request_duration_seconds");
  ASSERT_EQ(durations.size(), 1u);
  EXPECT_EQ(durations.begin()->second.count, 3u);
  EXPECT_EQ(TakeSpans().size(), 3u);
}

TEST_F(HttpObserverTest, FullQueueCountsDroppedSpans) {
  for (int i = 0; i < 18; ++i)
    Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/", 200));
  EXPECT_EQ(spans_dropped_, 2);
  EXPECT_EQ(queue_.Size(), 16u);
  // Metrics do not depend on the queue.
  EXPECT_EQ(Series(registry_, "http_server_request_duration_seconds").begin()->second.count, 18u);
}

TEST_F(HttpObserverTest, WithoutSpanQueueOnlyMetrics) {
  spans_enabled_ = false;
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/", 200));
  EXPECT_EQ(queue_.Size(), 0u);
  EXPECT_EQ(spans_dropped_, 0);
  EXPECT_EQ(Series(registry_, "http_server_request_duration_seconds").size(), 1u);
}

struct MethodCase {
  const char* method;
  const char* normalized;
};

class NormalizeMethodTest : public ::testing::TestWithParam<MethodCase> {};

TEST_P(NormalizeMethodTest, Normalizes) {
  EXPECT_EQ(NormalizeMethod(GetParam().method), GetParam().normalized) << GetParam().method;
}

INSTANTIATE_TEST_SUITE_P(
    Table, NormalizeMethodTest,
    ::testing::Values(MethodCase{"GET", "GET"}, MethodCase{"HEAD", "HEAD"},
                      MethodCase{"POST", "POST"}, MethodCase{"PUT", "PUT"},
                      MethodCase{"DELETE", "DELETE"}, MethodCase{"CONNECT", "CONNECT"},
                      MethodCase{"OPTIONS", "OPTIONS"}, MethodCase{"TRACE", "TRACE"},
                      MethodCase{"PATCH", "PATCH"}, MethodCase{"get", "_OTHER"},
                      MethodCase{"Get", "_OTHER"}, MethodCase{"GETS", "_OTHER"},
                      MethodCase{"GE", "_OTHER"}, MethodCase{"PURGE", "_OTHER"},
                      MethodCase{"PROPFIND", "_OTHER"}, MethodCase{"", "_OTHER"}));

struct HostCase {
  const char* header;
  const char* host;
  std::uint16_t port;
};

class SplitHostTest : public ::testing::TestWithParam<HostCase> {};

TEST_P(SplitHostTest, Splits) {
  const auto [host, port] = SplitHost(GetParam().header);
  EXPECT_EQ(host, GetParam().host) << GetParam().header;
  EXPECT_EQ(port, GetParam().port) << GetParam().header;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SplitHostTest,
    ::testing::Values(HostCase{"example.com:8080", "example.com", 8080},
                      HostCase{"[::1]:80", "::1", 80}, HostCase{"[::1]", "::1", 0},
                      HostCase{"[2001:db8::1]:65535", "2001:db8::1", 65535},
                      HostCase{"host", "host", 0}, HostCase{"host:", "host", 0},
                      HostCase{"host:99999", "host", 0}, HostCase{"host:65536", "host", 0},
                      HostCase{"host:0", "host", 0}, HostCase{"10.0.0.1:443", "10.0.0.1", 443},
                      HostCase{"", "", 0}, HostCase{"[::1", "[::1", 0},
                      HostCase{"[::1]x", "::1", 0}));

}  // namespace
}  // namespace infrared::semantics

namespace infrared::semantics {
namespace {

TEST_F(HttpObserverTest, PodProcessesCarryWorkloadLabelsAndResource) {
  identity_.service_name = "worker";
  identity_.workload = {.container_id = std::string(64, 'c'),
                        .pod_uid = "8d4b2c1e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
                        .namespace_name = "agents",
                        .pod_name = "worker-7d9f8b6c5d-x2x4q",
                        .container_name = "worker",
                        .owner_kind = "Deployment",
                        .owner_name = "worker",
                        .node_name = "node-1",
                        .pod_labels = {{"app", "worker"}}};
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/health", 200));
  LabelMap labels = ServerLabels("GET", "200", "/health", "");
  labels["service_name"] = "worker";
  labels["k8s_namespace_name"] = "agents";
  labels["k8s_pod_name"] = "worker-7d9f8b6c5d-x2x4q";
  labels["k8s_container_name"] = "worker";
  labels["container_id"] = std::string(64, 'c');
  EXPECT_EQ(Series(registry_, "http_server_request_duration_seconds").count(labels), 1u);
  const Span span = OnlySpan();
  ASSERT_NE(span.resource, nullptr);
  const auto resource = AttributeMap(span.resource->attributes);
  EXPECT_EQ(resource.at("container.id"), Str(std::string(64, 'c')));
  EXPECT_EQ(resource.at("k8s.pod.uid"), Str("8d4b2c1e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"));
  EXPECT_EQ(resource.at("k8s.pod.name"), Str("worker-7d9f8b6c5d-x2x4q"));
  EXPECT_EQ(resource.at("k8s.namespace.name"), Str("agents"));
  EXPECT_EQ(resource.at("k8s.container.name"), Str("worker"));
  EXPECT_EQ(resource.at("k8s.node.name"), Str("node-1"));
  EXPECT_EQ(resource.at("k8s.deployment.name"), Str("worker"));
  EXPECT_EQ(resource.at("k8s.pod.label.app"), Str("worker"));
  EXPECT_EQ(resource.at("service.name"), Str("worker"));
}

TEST_F(HttpObserverTest, ExcludedProcessesAndThoseAwaitingAnLlmCallReportNothing) {
  identity_.excluded = true;
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/a", 200));
  identity_.excluded = false;
  identity_.awaiting_llm = true;  // no call observer here: nothing is an LLM call
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/b", 200));
  EXPECT_THAT(Series(registry_, "http_server_request_duration_seconds"), IsEmpty());
  EXPECT_THAT(TakeSpans(), IsEmpty());
  EXPECT_THAT(llm_callers_, IsEmpty());
  identity_.awaiting_llm = false;
  Observer().OnExchange(ServerConnection(), MakeExchange("GET", "/c", 200));
  EXPECT_EQ(Series(registry_, "http_server_request_duration_seconds").size(), 1u);
}

}  // namespace
}  // namespace infrared::semantics
