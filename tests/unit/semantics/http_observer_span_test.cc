// What the HTTP observer puts in spans: attributes at both ends, addresses,
// schemes, the caller's trace, the process's resource (its pod's too), and
// what happens when the span queue is full or absent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/semantics/http_observer.h"
#include "tests/unit/semantics/http_observer_fixture.h"

namespace infrared::semantics {
namespace {

using namespace ::infrared::semantics::observer_test;  // NOLINT(build/namespaces): the shared
                                                       // fixture

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

}  // namespace
}  // namespace infrared::semantics
