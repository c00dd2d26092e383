#include "agent/semantics/genai_observer.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace infrared::semantics {
namespace {

using protocols::http1::Exchange;
using telemetry::AttributeValue;
using telemetry::MetricFamily;

constexpr std::uint64_t kMs = 1'000'000;

genai::PriceTable Prices() {
  std::string error;
  std::optional<genai::PriceTable> table = genai::PriceTable::Parse(
      "prices:\n"
      "  - provider: anthropic\n    model: claude-priced*\n    input: 3.0\n    output: 15.0\n"
      "    cache_read: 0.3\n    cache_write: 3.75\n",
      error);
  EXPECT_TRUE(table) << error;
  return table ? *table : genai::PriceTable{};
}

// An Anthropic Messages call, not streamed, with cache reads and writes.
Exchange AnthropicCall(const std::string& model, int status, const std::string& body) {
  Exchange exchange;
  exchange.request.method = "POST";
  exchange.request.target = "/v1/messages";
  exchange.request.headers = {{"Host", "api.anthropic.com"}, {"x-api-key", "[REDACTED]"}};
  exchange.request.body =
      R"({"model":")" + model + R"(","max_tokens":64,"messages":[{"role":"user","content":"hi"}]})";
  exchange.request.body_size = exchange.request.body.size();
  exchange.request.start_ns = 1000 * kMs;
  exchange.response.status_code = status;
  exchange.response.headers = {{"Content-Type", "application/json"}};
  exchange.response.body = body;
  exchange.response.body_size = body.size();
  exchange.response.first_body_ns = 1500 * kMs;
  exchange.response.end_ns = 1500 * kMs;
  return exchange;
}

const std::string kAnswer =
    R"({"id":"msg_1","type":"message","model":"claude-priced-1","stop_reason":"end_turn",)"
    R"("content":[{"type":"text","text":"hello"}],"usage":{"input_tokens":100,)"
    R"("cache_read_input_tokens":1000,"cache_creation_input_tokens":200,"output_tokens":50}})";

std::map<std::string, AttributeValue> Attributes(const telemetry::Span& span) {
  std::map<std::string, AttributeValue> map;
  for (const telemetry::Attribute& attribute : span.attributes) map[attribute.key] = attribute.value;
  return map;
}

const MetricFamily* Family(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const MetricFamily& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

std::string LabelOf(const telemetry::Labels& labels, const std::string& name) {
  for (const telemetry::Label& label : labels) {
    if (label.name == name) return label.value;
  }
  return "<absent>";
}

class GenAiObserverTest : public ::testing::Test {
 protected:
  telemetry::MetricRegistry registry_;  // before the observer, which registers in it
  GenAiObserver observer_{registry_, Prices(), {}};
  const CallContext context_{"api.anthropic.com", "agent", "python3", 0.5, {}};
};

TEST_F(GenAiObserverTest, PricedCallGetsItsSpanTokensAndCost) {
  telemetry::Span span;
  span.name = "POST /v1/messages";
  span.attributes = {{"http.request.method", std::string("POST")}};
  ASSERT_TRUE(observer_.Observe(AnthropicCall("claude-priced-1", 200, kAnswer), context_, &span));

  EXPECT_EQ(span.name, "chat claude-priced-1");
  EXPECT_EQ(span.kind, telemetry::SpanKind::kClient);
  EXPECT_EQ(span.status, telemetry::StatusCode::kUnset);
  const auto a = Attributes(span);
  EXPECT_EQ(a.at("http.request.method"), AttributeValue(std::string("POST")));
  EXPECT_EQ(a.at("gen_ai.provider.name"), AttributeValue(std::string("anthropic")));
  EXPECT_EQ(a.at("gen_ai.response.finish_reasons"),
            AttributeValue(telemetry::StringArray{"end_turn"}));
  // The semantic conventions count cached and cache-creation tokens as input.
  EXPECT_EQ(a.at("gen_ai.usage.input_tokens"), AttributeValue(std::int64_t{1300}));
  EXPECT_EQ(a.at("gen_ai.usage.cache_read.input_tokens"), AttributeValue(std::int64_t{1000}));
  EXPECT_EQ(a.at("gen_ai.usage.cache_creation.input_tokens"), AttributeValue(std::int64_t{200}));
  EXPECT_EQ(a.at("gen_ai.request.max_tokens"), AttributeValue(std::int64_t{64}));
  // 100 × 3 + 1000 × 0.3 + 200 × 3.75 + 50 × 15, per million tokens.
  const double cost = (100 * 3.0 + 1000 * 0.3 + 200 * 3.75 + 50 * 15.0) / 1e6;
  EXPECT_DOUBLE_EQ(std::get<double>(a.at("gen_ai.usage.cost")), cost);
  EXPECT_EQ(a.count("gen_ai.input.messages"), 0u);  // content stays inside by default
  EXPECT_EQ(a.count("gen_ai.response.time_to_first_chunk"), 0u);  // not a stream

  const std::vector<MetricFamily> families = registry_.Collect();
  const MetricFamily* tokens = Family(families, "gen_ai_client_token_usage");
  ASSERT_NE(tokens, nullptr);
  std::map<std::string, double> sums;
  for (const auto& sample : tokens->histograms) {
    sums[LabelOf(sample.labels, "gen_ai_token_type")] += sample.sum;
    EXPECT_EQ(LabelOf(sample.labels, "gen_ai_response_model"), "claude-priced-1");
  }
  EXPECT_EQ(sums, (std::map<std::string, double>{{"input", 1300}, {"output", 50}}));
  const MetricFamily* cost_family = Family(families, "gen_ai_client_cost_usd");
  ASSERT_NE(cost_family, nullptr);
  ASSERT_EQ(cost_family->samples.size(), 1u);
  EXPECT_DOUBLE_EQ(cost_family->samples[0].value, cost);
  const MetricFamily* duration = Family(families, "gen_ai_client_operation_duration_seconds");
  ASSERT_EQ(duration->histograms.size(), 1u);
  EXPECT_EQ(LabelOf(duration->histograms[0].labels, "error_type"), "");
  EXPECT_DOUBLE_EQ(duration->histograms[0].sum, 0.5);
}

TEST_F(GenAiObserverTest, UnpricedAndFailedCallsAreCountedAndMarked) {
  telemetry::Span span;
  span.attributes = {{"error.type", std::string("529")}};
  span.status = telemetry::StatusCode::kError;
  const std::string overloaded =
      R"({"type":"error","error":{"type":"overloaded_error","message":"busy"}})";
  ASSERT_TRUE(observer_.Observe(AnthropicCall("claude-unknown", 529, overloaded), context_, &span));
  const auto a = Attributes(span);
  EXPECT_EQ(a.at("error.type"), AttributeValue(std::string("overloaded_error")));
  EXPECT_EQ(std::count_if(span.attributes.begin(), span.attributes.end(),
                          [](const auto& x) { return x.key == "error.type"; }),
            1);
  EXPECT_EQ(span.status, telemetry::StatusCode::kError);
  EXPECT_EQ(a.count("gen_ai.usage.cost"), 0u);
  const std::vector<MetricFamily> families = registry_.Collect();
  const MetricFamily* unpriced = Family(families, "gen_ai_client_unpriced_operations");
  ASSERT_EQ(unpriced->samples.size(), 1u);
  EXPECT_EQ(unpriced->samples[0].value, 1);
  const MetricFamily* duration = Family(families, "gen_ai_client_operation_duration_seconds");
  EXPECT_EQ(LabelOf(duration->histograms[0].labels, "error_type"), "overloaded_error");
}

TEST_F(GenAiObserverTest, OtherExchangesAreLeftAlone) {
  Exchange exchange = AnthropicCall("m", 200, kAnswer);
  exchange.request.target = "/v1/users";
  telemetry::Span span;
  span.name = "POST /v1/users";
  EXPECT_FALSE(observer_.Observe(exchange, context_, &span));
  EXPECT_EQ(span.name, "POST /v1/users");
  EXPECT_TRUE(span.attributes.empty());
}

TEST_F(GenAiObserverTest, ModelLabelsAreBounded) {
  for (std::size_t i = 0; i < GenAiObserver::kMaxModels + 10; ++i) {
    observer_.Observe(AnthropicCall("m" + std::to_string(i), 500, "{}"), context_, nullptr);
  }
  const std::vector<MetricFamily> families = registry_.Collect();
  const MetricFamily* duration = Family(families, "gen_ai_client_operation_duration_seconds");
  std::size_t other = 0;
  for (const auto& sample : duration->histograms) {
    if (LabelOf(sample.labels, "gen_ai_request_model") == "_other") other += sample.count;
  }
  EXPECT_EQ(other, 10u);
}

// Each loss as "stage/reason", `count` times.
GenAiObserver::Options Counting(std::vector<std::string>& drops) {
  GenAiObserver::Options options;
  options.on_dropped = [&drops](const char* stage, const std::string& reason,
                                std::uint64_t count) {
    for (std::uint64_t i = 0; i < count; ++i) drops.push_back(std::string(stage) + "/" + reason);
  };
  return options;
}

TEST(GenAiObserverDropTest, ModelsFoldedIntoOtherAreCounted) {
  telemetry::MetricRegistry registry;
  std::vector<std::string> drops;
  GenAiObserver observer(registry, Prices(), Counting(drops));
  for (std::size_t i = 0; i < GenAiObserver::kMaxModels + 3; ++i) {
    observer.Observe(AnthropicCall("m" + std::to_string(i), 500, "{}"), {"a", "s", "e", 0.1, {}},
                     nullptr);
  }
  EXPECT_EQ(drops, std::vector<std::string>(3, "genai/model_over_cap"));
}

TEST(GenAiObserverDropTest, StreamLossesAreCounted) {
  telemetry::MetricRegistry registry;
  std::vector<std::string> drops;
  GenAiObserver observer(registry, Prices(), Counting(drops));
  Exchange stream = AnthropicCall("claude-priced-1", 200, "");
  stream.request.body = R"({"model":"claude-priced-1","stream":true,"messages":[]})";
  stream.response.headers = {{"Content-Type", "text/event-stream"}};
  stream.response.body = "event: message_start\ndata: " + std::string((1 << 20) + 1, 'x') +
                         "\n\nevent: content_block_delta\ndata: {";
  stream.response.body_size = stream.response.body.size();
  ASSERT_TRUE(observer.Observe(stream, {"a", "s", "e", 0.1, {}}, nullptr));
  EXPECT_EQ(drops, (std::vector<std::string>{"genai_stream/oversized_line",
                                             "genai_stream/truncated_event",
                                             "genai_stream/unterminated_event"}));
}

TEST(GenAiObserverBodyTest, BodiesReadInPartAreReported) {
  telemetry::MetricRegistry registry;
  std::vector<std::string> problems;
  GenAiObserver::Options options = Counting(problems);
  GenAiObserver observer(registry, Prices(), options);
  Exchange whole = AnthropicCall("claude-priced-1", 200, kAnswer);
  Exchange stacked = whole;
  stacked.response.headers.push_back({"Content-Encoding", "gzip, br"});
  Exchange cut = whole;
  cut.response.body.resize(20);
  cut.response.body_truncated = true;
  for (const Exchange* exchange : {&whole, &stacked, &cut}) {
    ASSERT_TRUE(observer.Observe(*exchange, {"a", "s", "e", 0.1, {}}, nullptr));
  }
  EXPECT_EQ(problems,
            (std::vector<std::string>{"genai_body/unsupported_encoding", "genai_body/truncated"}));
}

TEST(GenAiObserverContentTest, ContentOnlyWhenAskedAndCut) {
  telemetry::MetricRegistry registry;
  GenAiObserver::Options options;
  options.reader.capture_content = true;
  options.content_max_bytes = 10;
  GenAiObserver observer(registry, Prices(), options);
  telemetry::Span span;
  ASSERT_TRUE(observer.Observe(AnthropicCall("claude-priced-1", 200, kAnswer),
                               {"a", "s", "e", 0.1, {}}, &span));
  const auto a = Attributes(span);
  ASSERT_EQ(a.count("gen_ai.input.messages"), 1u);
  EXPECT_LE(std::get<std::string>(a.at("gen_ai.input.messages")).size(), 10u);
  ASSERT_EQ(a.count("gen_ai.output.messages"), 1u);
}

}  // namespace
}  // namespace infrared::semantics
