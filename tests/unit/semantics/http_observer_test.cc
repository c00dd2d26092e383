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

#include "tests/unit/semantics/http_observer_fixture.h"

namespace infrared::semantics {
namespace {

using namespace ::infrared::semantics::observer_test;  // NOLINT(build/namespaces): the shared
                                                       // fixture

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
