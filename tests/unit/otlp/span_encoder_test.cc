#include "exporters/otlp/span_encoder.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "opentelemetry/proto/common/v1/common.pb.h"
#include "opentelemetry/proto/resource/v1/resource.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace infrared::otlp {
namespace {

namespace common_v1 = opentelemetry::proto::common::v1;
namespace trace_v1 = opentelemetry::proto::trace::v1;
namespace collector_v1 = opentelemetry::proto::collector::trace::v1;

using telemetry::Attribute;
using telemetry::Resource;
using telemetry::Span;
using telemetry::SpanKind;
using telemetry::StatusCode;

std::shared_ptr<const Resource> MakeResource(const std::string& service, std::int64_t pid) {
  auto resource = std::make_shared<Resource>();
  resource->attributes = {
      {"service.name", service}, {"process.pid", pid}, {"host.name", std::string("node-1")}};
  return resource;
}

// A span whose ids are derived from `seed`, so every span of a test differs.
Span MakeSpan(std::uint8_t seed, std::string name, std::shared_ptr<const Resource> resource) {
  Span span;
  for (std::size_t i = 0; i < span.trace_id.size(); ++i) span.trace_id[i] = seed + i;
  for (std::size_t i = 0; i < span.span_id.size(); ++i) span.span_id[i] = 0xA0 + seed + i;
  span.name = std::move(name);
  span.start_unix_ns = 1'700'000'000'000'000'000ULL + seed;
  span.end_unix_ns = span.start_unix_ns + 1'500'000;
  span.resource = std::move(resource);
  return span;
}

template <std::size_t N>
std::string Raw(const std::array<std::uint8_t, N>& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), N);
}

// Serializes and parses back, so every check sees what a collector would.
collector_v1::ExportTraceServiceRequest RoundTrip(const std::vector<Span>& spans,
                                                  const ScopeInfo& scope = {"infrared", "0.1.0"}) {
  std::string body = SerializeRequest(EncodeSpans(spans, scope));
  collector_v1::ExportTraceServiceRequest parsed;
  EXPECT_TRUE(parsed.ParseFromString(body));
  return parsed;
}

const common_v1::AnyValue* Find(
    const google::protobuf::RepeatedPtrField<common_v1::KeyValue>& attributes,
    const std::string& key) {
  for (const common_v1::KeyValue& kv : attributes) {
    if (kv.key() == key) return &kv.value();
  }
  return nullptr;
}

TEST(SpanEncoderTest, EncodesEveryFieldOfAServerSpan) {
  Span span = MakeSpan(1, "GET /users/{id}", MakeResource("api", 101));
  span.kind = SpanKind::kServer;
  span.trace_state = "vendor=abc,other=1";
  span.trace_flags = 0x01;
  span.attributes = {{"http.request.method", std::string("GET")},
                     {"http.response.status_code", std::int64_t{200}},
                     {"server.duration_ratio", 0.25},
                     {"http.retry", false},
                     {"negative", std::int64_t{-7}}};

  collector_v1::ExportTraceServiceRequest request = RoundTrip({span});
  ASSERT_EQ(request.resource_spans_size(), 1);
  const trace_v1::ResourceSpans& resource_spans = request.resource_spans(0);
  ASSERT_TRUE(resource_spans.has_resource());
  const auto& resource_attributes = resource_spans.resource().attributes();
  ASSERT_EQ(resource_attributes.size(), 3);
  EXPECT_EQ(resource_attributes[0].key(), "service.name");
  EXPECT_EQ(resource_attributes[0].value().string_value(), "api");
  EXPECT_EQ(resource_attributes[1].key(), "process.pid");
  EXPECT_EQ(resource_attributes[1].value().int_value(), 101);
  EXPECT_EQ(resource_attributes[2].value().string_value(), "node-1");
  EXPECT_EQ(resource_spans.resource().dropped_attributes_count(), 0u);

  ASSERT_EQ(resource_spans.scope_spans_size(), 1);
  const trace_v1::ScopeSpans& scope_spans = resource_spans.scope_spans(0);
  EXPECT_EQ(scope_spans.scope().name(), "infrared");
  EXPECT_EQ(scope_spans.scope().version(), "0.1.0");
  ASSERT_EQ(scope_spans.spans_size(), 1);

  const trace_v1::Span& out = scope_spans.spans(0);
  EXPECT_EQ(out.trace_id().size(), 16u);
  EXPECT_EQ(out.trace_id(), Raw(span.trace_id));
  EXPECT_EQ(out.span_id().size(), 8u);
  EXPECT_EQ(out.span_id(), Raw(span.span_id));
  EXPECT_TRUE(out.parent_span_id().empty());
  EXPECT_EQ(out.trace_state(), "vendor=abc,other=1");
  EXPECT_EQ(out.flags(), 1u);
  EXPECT_EQ(out.name(), "GET /users/{id}");
  EXPECT_EQ(out.kind(), trace_v1::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(out.start_time_unix_nano(), 1'700'000'000'000'000'001ULL);
  EXPECT_EQ(out.end_time_unix_nano(), 1'700'000'000'001'500'001ULL);
  EXPECT_EQ(out.dropped_attributes_count(), 0u);
  EXPECT_EQ(out.events_size(), 0);
  EXPECT_EQ(out.links_size(), 0);
  EXPECT_FALSE(out.has_status());
  EXPECT_EQ(out.status().code(), trace_v1::Status::STATUS_CODE_UNSET);

  ASSERT_EQ(out.attributes_size(), 5);
  EXPECT_EQ(out.attributes(0).key(), "http.request.method");
  EXPECT_EQ(out.attributes(0).value().value_case(), common_v1::AnyValue::kStringValue);
  EXPECT_EQ(out.attributes(0).value().string_value(), "GET");
  EXPECT_EQ(out.attributes(1).value().value_case(), common_v1::AnyValue::kIntValue);
  EXPECT_EQ(out.attributes(1).value().int_value(), 200);
  EXPECT_EQ(out.attributes(2).value().value_case(), common_v1::AnyValue::kDoubleValue);
  EXPECT_DOUBLE_EQ(out.attributes(2).value().double_value(), 0.25);
  EXPECT_EQ(out.attributes(3).value().value_case(), common_v1::AnyValue::kBoolValue);
  EXPECT_FALSE(out.attributes(3).value().bool_value());
  EXPECT_EQ(out.attributes(4).value().int_value(), -7);
}

TEST(SpanEncoderTest, ChildSpanCarriesParentIdAndErrorStatus) {
  Span span = MakeSpan(2, "chat gpt-4o", MakeResource("agent", 202));
  span.kind = SpanKind::kClient;
  span.parent_span_id = {1, 2, 3, 4, 5, 6, 7, 8};
  span.status = StatusCode::kError;
  span.status_message = "upstream returned 503";

  const trace_v1::Span out = RoundTrip({span}).resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(out.parent_span_id(), Raw(span.parent_span_id));
  EXPECT_EQ(out.parent_span_id().size(), 8u);
  EXPECT_EQ(out.kind(), trace_v1::Span::SPAN_KIND_CLIENT);
  ASSERT_TRUE(out.has_status());
  EXPECT_EQ(out.status().code(), trace_v1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(out.status().message(), "upstream returned 503");
}

TEST(SpanEncoderTest, OkStatusDropsTheDescription) {
  Span span = MakeSpan(3, "op", nullptr);
  span.status = StatusCode::kOk;
  span.status_message = "ignored";
  const trace_v1::Span out = RoundTrip({span}).resource_spans(0).scope_spans(0).spans(0);
  ASSERT_TRUE(out.has_status());
  EXPECT_EQ(out.status().code(), trace_v1::Status::STATUS_CODE_OK);
  EXPECT_EQ(out.status().message(), "");
}

TEST(SpanEncoderTest, MapsEveryKind) {
  const std::vector<std::pair<SpanKind, trace_v1::Span::SpanKind>> cases = {
      {SpanKind::kInternal, trace_v1::Span::SPAN_KIND_INTERNAL},
      {SpanKind::kServer, trace_v1::Span::SPAN_KIND_SERVER},
      {SpanKind::kClient, trace_v1::Span::SPAN_KIND_CLIENT},
      {SpanKind::kProducer, trace_v1::Span::SPAN_KIND_PRODUCER},
      {SpanKind::kConsumer, trace_v1::Span::SPAN_KIND_CONSUMER},
  };
  std::vector<Span> spans;
  for (const auto& [kind, expected] : cases) {
    spans.push_back(MakeSpan(static_cast<std::uint8_t>(spans.size()), "op", nullptr));
    spans.back().kind = kind;
  }
  const trace_v1::ScopeSpans scope_spans = RoundTrip(spans).resource_spans(0).scope_spans(0);
  ASSERT_EQ(scope_spans.spans_size(), 5);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(scope_spans.spans(static_cast<int>(i)).kind(), cases[i].second) << i;
  }
  // The numbers on the wire are the OTLP ones.
  EXPECT_EQ(scope_spans.spans(0).kind(), 1);
  EXPECT_EQ(scope_spans.spans(4).kind(), 5);
}

TEST(SpanEncoderTest, FlagsCarryTheW3cTraceFlagsInTheLowByte) {
  std::vector<Span> spans = {MakeSpan(1, "a", nullptr), MakeSpan(2, "b", nullptr),
                             MakeSpan(3, "c", nullptr)};
  spans[0].trace_flags = 0x00;
  spans[1].trace_flags = 0x01;
  spans[2].trace_flags = 0xFF;
  const trace_v1::ScopeSpans scope_spans = RoundTrip(spans).resource_spans(0).scope_spans(0);
  EXPECT_EQ(scope_spans.spans(0).flags(), 0x00u);
  EXPECT_EQ(scope_spans.spans(1).flags(), 0x01u);
  EXPECT_EQ(scope_spans.spans(2).flags(), 0xFFu);
}

TEST(SpanEncoderTest, GroupsSpansOfTwoProcessesByResourceContents) {
  auto api = MakeResource("api", 101);
  auto api_again = MakeResource("api", 101);  // another pointer, same contents
  auto worker = MakeResource("worker", 202);
  auto api_other_pid = MakeResource("api", 102);
  std::vector<Span> spans = {
      MakeSpan(1, "api-1", api),       MakeSpan(2, "worker-1", worker),
      MakeSpan(3, "api-2", api_again), MakeSpan(4, "worker-2", worker),
      MakeSpan(5, "api-3", api),       MakeSpan(6, "api-pid-102", api_other_pid)};

  collector_v1::ExportTraceServiceRequest request = RoundTrip(spans);
  ASSERT_EQ(request.resource_spans_size(), 3);
  auto names = [&request](int group) {
    std::vector<std::string> out;
    const trace_v1::ResourceSpans& resource_spans = request.resource_spans(group);
    EXPECT_EQ(resource_spans.scope_spans_size(), 1);
    for (const trace_v1::Span& span : resource_spans.scope_spans(0).spans()) {
      out.push_back(span.name());
    }
    return out;
  };
  EXPECT_EQ(names(0), (std::vector<std::string>{"api-1", "api-2", "api-3"}));
  EXPECT_EQ(names(1), (std::vector<std::string>{"worker-1", "worker-2"}));
  EXPECT_EQ(names(2), (std::vector<std::string>{"api-pid-102"}));

  EXPECT_EQ(Find(request.resource_spans(0).resource().attributes(), "service.name")->string_value(),
            "api");
  EXPECT_EQ(Find(request.resource_spans(1).resource().attributes(), "process.pid")->int_value(),
            202);
  EXPECT_EQ(Find(request.resource_spans(2).resource().attributes(), "process.pid")->int_value(),
            102);
}

TEST(SpanEncoderTest, AttributeTypeIsPartOfResourceIdentity) {
  auto as_int = std::make_shared<Resource>(Resource{{{"process.pid", std::int64_t{7}}}});
  auto as_string = std::make_shared<Resource>(Resource{{{"process.pid", std::string("7")}}});
  auto as_double =
      std::make_shared<Resource>(Resource{{{"x", std::numeric_limits<double>::quiet_NaN()}}});
  auto as_double_again =
      std::make_shared<Resource>(Resource{{{"x", std::numeric_limits<double>::quiet_NaN()}}});
  collector_v1::ExportTraceServiceRequest request =
      RoundTrip({MakeSpan(1, "a", as_int), MakeSpan(2, "b", as_string), MakeSpan(3, "c", as_double),
                 MakeSpan(4, "d", as_double_again)});
  ASSERT_EQ(request.resource_spans_size(), 3);
  EXPECT_EQ(request.resource_spans(2).scope_spans(0).spans_size(), 2);
}

TEST(SpanEncoderTest, NullAndEmptyResourcesShareOneGroupWithoutResource) {
  auto empty = std::make_shared<Resource>();
  collector_v1::ExportTraceServiceRequest request =
      RoundTrip({MakeSpan(1, "a", nullptr), MakeSpan(2, "b", empty)});
  ASSERT_EQ(request.resource_spans_size(), 1);
  EXPECT_FALSE(request.resource_spans(0).has_resource());
  EXPECT_EQ(request.resource_spans(0).scope_spans(0).spans_size(), 2);
}

TEST(SpanEncoderTest, NoSpansGiveAnEmptyRequest) {
  collector_v1::ExportTraceServiceRequest request = EncodeSpans({}, ScopeInfo{});
  EXPECT_EQ(request.resource_spans_size(), 0);
  EXPECT_TRUE(SerializeRequest(request).empty());
}

TEST(SpanEncoderTest, DefaultScopeIsInfrared) {
  collector_v1::ExportTraceServiceRequest request =
      RoundTrip({MakeSpan(1, "a", nullptr)}, ScopeInfo{});
  EXPECT_EQ(request.resource_spans(0).scope_spans(0).scope().name(), "infrared");
  EXPECT_EQ(request.resource_spans(0).scope_spans(0).scope().version(), "");
}

TEST(SpanEncoderTest, StringArraysBecomeArrayValues) {
  Span span = MakeSpan(1, "chat m", nullptr);
  span.attributes = {{"gen_ai.response.finish_reasons", telemetry::StringArray{"stop", "x\xff"}}};
  collector_v1::ExportTraceServiceRequest request = RoundTrip({span});
  const common_v1::AnyValue& value =
      request.resource_spans(0).scope_spans(0).spans(0).attributes(0).value();
  ASSERT_TRUE(value.has_array_value());
  ASSERT_EQ(value.array_value().values_size(), 2);
  EXPECT_EQ(value.array_value().values(0).string_value(), "stop");
  EXPECT_EQ(value.array_value().values(1).string_value(), "x\xEF\xBF\xBD");
}

TEST(SpanEncoderTest, InvalidUtf8BecomesReplacementCharacters) {
  auto resource = std::make_shared<Resource>(Resource{{{"k\xff", std::string("v\xc3")}}});
  Span span = MakeSpan(1, "GET /\xfe", resource);
  span.attributes = {{"url.path", std::string("/a\x80")}};
  span.trace_state = "a=\xff";
  span.status = StatusCode::kError;
  span.status_message = "bad \xc0";

  // A proto3 parser rejects invalid UTF-8 in string fields, so parsing at all
  // already proves the encoder sanitised every string.
  collector_v1::ExportTraceServiceRequest request = RoundTrip({span});
  const trace_v1::Span& out = request.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(out.name(), "GET /\xEF\xBF\xBD");
  EXPECT_EQ(out.attributes(0).value().string_value(), "/a\xEF\xBF\xBD");
  EXPECT_EQ(out.trace_state(), "a=\xEF\xBF\xBD");
  EXPECT_EQ(out.status().message(), "bad \xEF\xBF\xBD");
  const common_v1::KeyValue& resource_kv = request.resource_spans(0).resource().attributes(0);
  EXPECT_EQ(resource_kv.key(), "k\xEF\xBF\xBD");
  EXPECT_EQ(resource_kv.value().string_value(), "v\xEF\xBF\xBD");
}

TEST(PartialSuccessTest, EmptyBodyIsFullSuccess) {
  std::int64_t rejected = -1;
  std::string message = "stale";
  EXPECT_TRUE(ParsePartialSuccess("", rejected, message));
  EXPECT_EQ(rejected, 0);
  EXPECT_EQ(message, "");
}

TEST(PartialSuccessTest, ReadsRejectedSpansAndMessage) {
  collector_v1::ExportTraceServiceResponse response;
  response.mutable_partial_success()->set_rejected_spans(3);
  response.mutable_partial_success()->set_error_message("3 spans had no trace id");
  std::string body = response.SerializeAsString();

  std::int64_t rejected = 0;
  std::string message;
  ASSERT_TRUE(ParsePartialSuccess(body, rejected, message));
  EXPECT_EQ(rejected, 3);
  EXPECT_EQ(message, "3 spans had no trace id");
}

TEST(PartialSuccessTest, HandWrittenBytesDecode) {
  // field 1 (partial_success), length 6: field 1 varint 3, field 2 "ok" —
  // checks our field numbers against the wire format, not just against ourselves.
  const std::string body("\x0a\x06\x08\x03\x12\x02ok", 8);
  std::int64_t rejected = 0;
  std::string message;
  ASSERT_TRUE(ParsePartialSuccess(body, rejected, message));
  EXPECT_EQ(rejected, 3);
  EXPECT_EQ(message, "ok");
}

TEST(PartialSuccessTest, GarbageIsRejected) {
  std::int64_t rejected = 9;
  std::string message = "stale";
  EXPECT_FALSE(ParsePartialSuccess("not a protobuf", rejected, message));
  EXPECT_EQ(rejected, 0);
  EXPECT_EQ(message, "");
  EXPECT_FALSE(
      ParsePartialSuccess(std::string("\x0a\x10\x08", 3), rejected, message));  // truncated
  EXPECT_FALSE(ParsePartialSuccess("<html>502 Bad Gateway</html>", rejected, message));
  // What tests/peers/otlp_receiver.js answers in its garbage mode: eleven 0xff
  // bytes are a varint longer than any tag, whatever random bytes follow.
  EXPECT_FALSE(
      ParsePartialSuccess(std::string(11, '\xff') + "\x0a\x02\x08\x01", rejected, message));
}

// The repository's proto root, found from this file's path.
std::filesystem::path ProtoRoot() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path() /
         "exporters/otlp/proto";
}

TEST(SpanEncoderProtocTest, ProtocDecodesTheSerializedRequest) {
  if (std::system("command -v protoc >/dev/null 2>&1") != 0) GTEST_SKIP() << "protoc not found";
  const std::filesystem::path root = ProtoRoot();
  if (!std::filesystem::exists(root)) GTEST_SKIP() << "no proto root at " << root;

  Span span = MakeSpan(7, "chat llama3", MakeResource("ollama-client", 303));
  span.kind = SpanKind::kClient;
  span.attributes = {{"gen_ai.request.model", std::string("llama3")}};
  const std::filesystem::path input =
      std::filesystem::path(::testing::TempDir()) / "otlp_span_encoder_request.bin";
  {
    std::ofstream file(input, std::ios::binary);
    file << SerializeRequest(EncodeSpans({span}, ScopeInfo{"infrared", "9.9.9"}));
  }
  const std::string command =
      "protoc --decode=opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest -I '" +
      root.string() + "' opentelemetry/proto/collector/trace/v1/trace_service.proto < '" +
      input.string() + "' 2>&1";
  std::string output;
  if (std::FILE* pipe = popen(command.c_str(), "r")) {
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
    EXPECT_EQ(pclose(pipe), 0) << output;
  }
  std::filesystem::remove(input);
  EXPECT_NE(output.find("name: \"chat llama3\""), std::string::npos) << output;
  EXPECT_NE(output.find("kind: SPAN_KIND_CLIENT"), std::string::npos) << output;
  EXPECT_NE(output.find("string_value: \"ollama-client\""), std::string::npos) << output;
  EXPECT_NE(output.find("version: \"9.9.9\""), std::string::npos) << output;
}

}  // namespace
}  // namespace infrared::otlp
