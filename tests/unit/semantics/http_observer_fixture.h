#pragma once

// The HTTP observer wired to a real registry, span queue and a process
// identity the test changes, with exchanges and connections built by hand,
// for http_observer_test.cc and http_observer_span_test.cc.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/semantics/http_observer.h"

namespace infrared::semantics::observer_test {

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

inline net::ConnectionInfo ServerConnection() {
  net::ConnectionInfo connection;
  connection.id = net::ConnId{kPid, 9, 1};
  connection.role = net::Role::kServer;
  connection.local = net::Endpoint{{10, 0, 0, 1}, 8080};
  connection.remote = net::Endpoint{{10, 0, 0, 2}, 54321};
  return connection;
}

inline net::ConnectionInfo ClientConnection() {
  net::ConnectionInfo connection;
  connection.id = net::ConnId{kPid, 10, 1};
  connection.role = net::Role::kClient;
  connection.local = net::Endpoint{{10, 0, 0, 1}, 40000};
  connection.remote = net::Endpoint{{93, 184, 216, 34}, 80};
  return connection;
}

// A request at 1000 ns answered 30 ms later.
inline Exchange MakeExchange(std::string method, std::string target, int status,
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

inline const MetricFamily* FindFamily(const std::vector<MetricFamily>& families,
                                      const std::string& name) {
  for (const MetricFamily& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

// Every series of a histogram family, keyed by its labels.
inline std::map<LabelMap, HistogramSample> Series(const telemetry::MetricRegistry& registry,
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

inline std::map<std::string, AttributeValue> AttributeMap(
    const std::vector<telemetry::Attribute>& list) {
  std::map<std::string, AttributeValue> map;
  for (const telemetry::Attribute& attribute : list) {
    EXPECT_TRUE(map.emplace(attribute.key, attribute.value).second) << "twice: " << attribute.key;
  }
  return map;
}

inline AttributeValue Str(const std::string& text) { return AttributeValue(text); }
inline AttributeValue Int(std::int64_t value) { return AttributeValue(value); }

// Which bucket (0-based, non-cumulative) holds the single observation.
inline int BucketOf(const HistogramSample& sample) {
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

inline LabelMap ServerLabels(const char* method, const char* status, const char* route,
                             const char* error_type) {
  return {{"http_request_method", method}, {"http_response_status_code", status},
          {"http_route", route},           {"error_type", error_type},
          {"service_name", "checkout"},    {"process_executable_name", "python3"},
          {"k8s_namespace_name", ""},      {"k8s_pod_name", ""},
          {"k8s_container_name", ""},      {"container_id", ""}};
}

inline LabelMap ClientLabels(const char* method, const char* status, const char* address,
                             const char* port, const char* error_type) {
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

}  // namespace infrared::semantics::observer_test
