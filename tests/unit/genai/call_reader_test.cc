#include "agent/genai/call_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>
#include <vector>

namespace infrared::genai {
namespace {

using protocols::http1::BodyArrival;
using protocols::http1::Exchange;

constexpr std::uint64_t kMs = 1'000'000;

std::string Gzip(const std::string& text) {
  z_stream stream{};
  deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&stream, text.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  stream.avail_in = static_cast<uInt>(text.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

Exchange Call(const std::string& target, const std::string& request_body, int status,
              std::vector<protocols::http1::Header> response_headers) {
  Exchange exchange;
  exchange.request.method = "POST";
  exchange.request.target = target;
  exchange.request.headers = {{"Host", "api.openai.com"}, {"Authorization", "[REDACTED]"}};
  exchange.request.body = request_body;
  exchange.request.body_size = request_body.size();
  exchange.request.start_ns = 1000 * kMs;
  exchange.response.status_code = status;
  exchange.response.headers = std::move(response_headers);
  return exchange;
}

// A body that came in pieces, each at its own time.
void Arrive(Exchange& exchange, const std::vector<std::pair<std::string, std::uint64_t>>& pieces) {
  auto& response = exchange.response;
  for (const auto& [bytes, ns] : pieces) {
    response.arrivals.push_back({response.body.size(), ns});
    response.body += bytes;
    if (response.first_body_ns == 0) response.first_body_ns = ns;
    response.end_ns = ns;
  }
  response.body_size = response.body.size();
}

TEST(CallReaderTest, StreamedChatWithUsageChunkAndTiming) {
  Exchange exchange = Call("/v1/chat/completions",
                           R"({"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o-mini",)"
                           R"("stream":true,"max_tokens":50,"temperature":0.5})",
                           200, {{"Content-Type", "text/event-stream; charset=utf-8"}});
  const std::string head = R"(data: {"id":"c1","model":"gpt-4o-mini-2024-07-18","choices":[)";
  Arrive(exchange,
         {{head + R"({"delta":{"content":"Hel"},"finish_reason":null}]})" "\n\n", 1300 * kMs},
          {head + R"({"delta":{"content":"lo"},"finish_reason":null}]})" "\n\n", 1350 * kMs},
          {head + R"({"delta":{},"finish_reason":"stop"}]})" "\n\n", 1400 * kMs},
          {R"(data: {"id":"c1","model":"gpt-4o-mini-2024-07-18","choices":[],)"
           R"("usage":{"prompt_tokens":12,"completion_tokens":3,)"
           R"("prompt_tokens_details":{"cached_tokens":4}}})" "\n\ndata: [DONE]\n\n",
           1410 * kMs}});
  const std::optional<CallShape> shape = RecogniseCall(exchange, {});
  ASSERT_TRUE(shape);
  EXPECT_EQ(shape->provider, "openai");
  const CallRecord call = ReadCall(*shape, exchange, {});
  EXPECT_TRUE(call.streamed);
  EXPECT_EQ(call.request.model, "gpt-4o-mini");
  EXPECT_EQ(call.request.max_tokens, 50);
  EXPECT_EQ(call.response.model, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(call.response.usage.input_tokens, 12u);
  EXPECT_EQ(call.response.usage.output_tokens, 3u);
  EXPECT_EQ(call.response.usage.cache_read_tokens, 4u);
  EXPECT_EQ(call.response.finish_reasons, std::vector<std::string>{"stop"});
  ASSERT_TRUE(call.time_to_first_chunk_seconds);
  EXPECT_DOUBLE_EQ(*call.time_to_first_chunk_seconds, 0.3);
  // Two chunks carried text: one gap between them.
  ASSERT_EQ(call.time_per_output_chunk_seconds.size(), 1u);
  EXPECT_DOUBLE_EQ(call.time_per_output_chunk_seconds[0], 0.05);
  EXPECT_EQ(call.error_type, "");
  EXPECT_EQ(call.body_problem, "");
}

// What the stream framing lost is said: a line over 1 MiB (the SSE parser
// discards it, and the event it was in is cut), and an event the stream ended in.
TEST(CallReaderTest, StreamLossesAreSaid) {
  Exchange exchange = Call("/v1/chat/completions", R"({"model":"gpt-4o","stream":true})", 200,
                           {{"Content-Type", "text/event-stream"}});
  const std::string head = R"(data: {"id":"c1","model":"gpt-4o","choices":[)";
  Arrive(exchange,
         {{head + R"({"delta":{"content":"a"}}]})" "\n\n", 1100 * kMs},
          {"data: " + std::string((1 << 20) + 1, 'x') + "\n\n", 1200 * kMs},
          {head + R"({"delta":{"content":"b"}}]})" "\n\n", 1300 * kMs},
          {head + R"({"delta":{"content":"c"}}]})", 1400 * kMs}});
  const CallRecord call = ReadCall(*RecogniseCall(exchange, {}), exchange, {});
  EXPECT_EQ(call.stream_losses.oversized_lines, 1u);
  EXPECT_EQ(call.stream_losses.truncated_events, 1u);
  EXPECT_EQ(call.stream_losses.unterminated_events, 1u);

  // Cut short, the stream's last event is the cut's loss, not the standard's.
  Exchange cut = exchange;
  cut.response.incomplete = true;
  EXPECT_EQ(ReadCall(*RecogniseCall(cut, {}), cut, {}).stream_losses.unterminated_events, 0u);
  cut = exchange;
  cut.response.body_truncated = true;
  EXPECT_EQ(ReadCall(*RecogniseCall(cut, {}), cut, {}).stream_losses.unterminated_events, 0u);

  // A whole stream loses nothing.
  Exchange whole = Call("/v1/chat/completions", R"({"model":"gpt-4o","stream":true})", 200,
                        {{"Content-Type", "text/event-stream"}});
  Arrive(whole, {{head + R"({"delta":{"content":"a"}}]})" "\n\ndata: [DONE]\n\n", 1100 * kMs}});
  const CallRecord clean = ReadCall(*RecogniseCall(whole, {}), whole, {});
  EXPECT_EQ(clean.stream_losses.oversized_lines, 0u);
  EXPECT_EQ(clean.stream_losses.truncated_events, 0u);
  EXPECT_EQ(clean.stream_losses.unterminated_events, 0u);

  // NDJSON keeps an oversized line's first 1 MiB: said as oversized too.
  Exchange ollama = Call("/api/chat", R"({"model":"llama3.2"})", 200,
                         {{"Content-Type", "application/x-ndjson"}});
  ollama.request.headers = {{"Host", "127.0.0.1:11434"}};
  Arrive(ollama, {{"{\"model\":\"llama3.2\",\"x\":\"" + std::string(1 << 20, 'x') + "\"}\n",
                   1200 * kMs},
                  {R"({"model":"llama3.2","done":true,"eval_count":2})" "\n", 1300 * kMs}});
  const CallRecord ndjson = ReadCall(*RecogniseCall(ollama, {}), ollama, {});
  EXPECT_TRUE(ndjson.streamed);
  EXPECT_EQ(ndjson.stream_losses.oversized_lines, 1u);
  EXPECT_EQ(ndjson.stream_losses.unterminated_events, 0u);
}

TEST(CallReaderTest, GzippedJsonResponse) {
  Exchange exchange = Call("/v1/chat/completions", R"({"model":"gpt-4o","messages":[]})", 200,
                           {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}});
  const std::string json =
      R"({"id":"c2","model":"gpt-4o-2024-08-06","choices":[{"finish_reason":"length"}],)"
      R"("usage":{"prompt_tokens":100,"completion_tokens":20}})";
  const std::string zipped = Gzip(json);
  // Split the compressed body across two arrivals: decoding must span them.
  Arrive(exchange, {{zipped.substr(0, 10), 1100 * kMs}, {zipped.substr(10), 1200 * kMs}});
  const CallRecord call = ReadCall(*RecogniseCall(exchange, {}), exchange, {});
  EXPECT_FALSE(call.streamed);
  EXPECT_EQ(call.response.id, "c2");
  EXPECT_EQ(call.response.usage.input_tokens, 100u);
  EXPECT_EQ(call.response.usage.output_tokens, 20u);
  EXPECT_EQ(call.response.finish_reasons, std::vector<std::string>{"length"});
  EXPECT_FALSE(call.time_to_first_chunk_seconds);
}

TEST(CallReaderTest, OllamaNdjsonStream) {
  Exchange exchange = Call("/api/chat", R"({"model":"llama3.2","messages":[]})", 200,
                           {{"Content-Type", "application/x-ndjson"}});
  exchange.request.headers = {{"Host", "127.0.0.1:11434"}};
  Arrive(exchange,
         {{R"({"model":"llama3.2","message":{"content":"a"},"done":false})" "\n", 1200 * kMs},
          {R"({"model":"llama3.2","message":{"content":"b"},"done":false})" "\n", 1260 * kMs},
          {R"({"model":"llama3.2","message":{"content":""},"done":true,"done_reason":"stop",)"
           R"("prompt_eval_count":26,"eval_count":2})" "\n",
           1270 * kMs}});
  const std::optional<CallShape> shape = RecogniseCall(exchange, {});
  ASSERT_TRUE(shape);
  EXPECT_EQ(shape->provider, "ollama");
  const CallRecord call = ReadCall(*shape, exchange, {});
  EXPECT_TRUE(call.streamed);
  EXPECT_EQ(call.response.usage.input_tokens, 26u);
  EXPECT_EQ(call.response.usage.output_tokens, 2u);
  EXPECT_DOUBLE_EQ(*call.time_to_first_chunk_seconds, 0.2);
  ASSERT_EQ(call.time_per_output_chunk_seconds.size(), 1u);
  EXPECT_DOUBLE_EQ(call.time_per_output_chunk_seconds[0], 0.06);
}

struct ErrorCase {
  const char* name;
  int status;
  std::string body;
  bool cut_stream;
  std::string error_type;
};

class CallReaderErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(CallReaderErrorTest, ErrorType) {
  const ErrorCase& c = GetParam();
  Exchange exchange = Call("/v1/chat/completions", R"({"model":"m","stream":true})", c.status,
                           {{"Content-Type", c.cut_stream ? "text/event-stream"
                                                          : "application/json"}});
  if (!c.body.empty()) Arrive(exchange, {{c.body, 1100 * kMs}});
  exchange.response.incomplete = c.cut_stream;
  const CallRecord call = ReadCall(*RecogniseCall(exchange, {}), exchange, {});
  EXPECT_EQ(call.error_type, c.error_type);
}

INSTANTIATE_TEST_SUITE_P(
    Table, CallReaderErrorTest,
    ::testing::Values(
        ErrorCase{"RateLimit", 429, R"({"error":{"type":"rate_limit_exceeded","message":"x"}})",
                  false, "rate_limit_exceeded"},
        ErrorCase{"StatusOnly", 503, "", false, "503"},
        ErrorCase{"NoResponse", 0, "", false, "no_response"},
        ErrorCase{"CutStream", 200,
                  "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", true,
                  "stream_incomplete"}),
    [](const ::testing::TestParamInfo<ErrorCase>& param_info) { return param_info.param.name; });

// A request body cut before "model" (the kernel copies a bounded prefix of
// each call): the response's model fills in.
TEST(CallReaderTest, CutRequestTakesTheResponseModel) {
  const std::string body = R"({"messages":[{"role":"user","content":")" + std::string(5000, 'x');
  Exchange exchange = Call("/v1/chat/completions", body.substr(0, 4096), 200,
                           {{"Content-Type", "application/json"}});
  exchange.request.body_size = body.size() + 100;
  exchange.request.body_truncated = true;
  Arrive(exchange, {{R"({"id":"c","model":"gpt-4.1-2025-04-14","choices":[],)"
                     R"("usage":{"prompt_tokens":1500,"completion_tokens":1}})",
                     1100 * kMs}});
  const CallRecord call = ReadCall(*RecogniseCall(exchange, {}), exchange, {});
  EXPECT_EQ(call.request.model, "gpt-4.1-2025-04-14");
  EXPECT_EQ(call.response.usage.input_tokens, 1500u);
}

// Model names are the peer's text and become metric labels: a hostile or broken
// peer's megabyte "model" is cut to kMaxModelBytes, never inside a UTF-8 character.
TEST(CallReaderTest, OverlongModelsAreCut) {
  Exchange exchange =
      Call("/v1/chat/completions", R"({"model":")" + std::string(5000, 'q') + R"(","messages":[]})",
           200, {{"Content-Type", "application/json"}});
  std::string accented = "r";
  for (int i = 0; i < 3000; ++i) accented += "\xc3\xa9";  // é, two bytes
  Arrive(exchange, {{R"({"id":"c","model":")" + accented + R"(","choices":[]})", 1100 * kMs}});
  const CallRecord call = ReadCall(*RecogniseCall(exchange, {}), exchange, {});
  ASSERT_EQ(call.request.model.size(), kMaxModelBytes);
  EXPECT_EQ(call.request.model, std::string(kMaxModelBytes, 'q'));
  // Byte 256 is the second of an é: the cut falls before that é.
  ASSERT_EQ(call.response.model.size(), kMaxModelBytes - 1);
  EXPECT_EQ(call.response.model, accented.substr(0, kMaxModelBytes - 1));

  Exchange fitting = Call("/v1/chat/completions", R"({"model":"gpt-4o-mini"})", 200, {});
  EXPECT_EQ(ReadCall(*RecogniseCall(fitting, {}), fitting, {}).request.model, "gpt-4o-mini");
}

TEST(CallReaderTest, NotAnLlmCall) {
  Exchange exchange = Call("/v1/users", "{}", 200, {});
  EXPECT_FALSE(RecogniseCall(exchange, {}));
  exchange.request.method = "GET";
  exchange.request.target = "/v1/chat/completions";
  EXPECT_FALSE(RecogniseCall(exchange, {}));
}

TEST(CallReaderTest, UnsupportedEncodingIsSaid) {
  Exchange exchange = Call("/v1/embeddings", R"({"model":"e"})", 200,
                           {{"Content-Encoding", "gzip, br"}});
  Arrive(exchange, {{"\x1f\x8b garbage", 1100 * kMs}});
  const CallRecord call = ReadCall(*RecogniseCall(exchange, {}), exchange, {});
  EXPECT_EQ(call.body_problem, "unsupported_encoding");
  EXPECT_FALSE(call.response.usage.input_tokens);
}

}  // namespace
}  // namespace infrared::genai
