// StreamAccumulator: streamed responses of every provider, fed event by event.

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "agent/genai/extract.h"

namespace infrared::genai {
namespace {

std::string Show(const Usage& usage) {
  auto one = [](const std::optional<std::uint64_t>& count) {
    return count ? std::to_string(*count) : std::string("-");
  };
  return "in=" + one(usage.input_tokens) + " out=" + one(usage.output_tokens) +
         " cache_read=" + one(usage.cache_read_tokens) +
         " cache_creation=" + one(usage.cache_creation_tokens) +
         " reasoning=" + one(usage.reasoning_tokens);
}

// One SSE event (type may be empty), or with `ndjson` one line.
struct Event {
  std::string type;
  std::string data;
};

struct StreamCase {
  const char* name;
  Api api;
  bool ndjson;
  std::vector<Event> events;
  std::string id;
  std::string model;
  std::vector<std::string> finish_reasons;
  std::string usage;
  std::string error_type;
  bool incomplete;
  std::uint64_t content_chunks;
  std::string output;
};

class StreamAccumulatorTest : public ::testing::TestWithParam<StreamCase> {};

TEST_P(StreamAccumulatorTest, Facts) {
  const StreamCase& c = GetParam();
  StreamAccumulator stream(c.api, /*capture_content=*/true);
  for (const Event& event : c.events) {
    if (c.ndjson) {
      stream.OnJsonLine(event.data);
    } else {
      stream.OnSseEvent(event.type, event.data);
    }
  }
  const ResponseFacts facts = stream.Finish();
  EXPECT_EQ(facts.id, c.id);
  EXPECT_EQ(facts.model, c.model);
  EXPECT_EQ(facts.finish_reasons, c.finish_reasons);
  EXPECT_EQ(Show(facts.usage), c.usage);
  EXPECT_EQ(facts.error_type, c.error_type);
  EXPECT_EQ(facts.stream_incomplete, c.incomplete);
  EXPECT_EQ(stream.content_chunks(), c.content_chunks);
  EXPECT_EQ(facts.output_messages, c.output);
}

// An OpenAI chat chunk with one choice.
std::string ChatChunk(const std::string& delta, const std::string& finish) {
  return R"({"id":"chatcmpl-B9","object":"chat.completion.chunk","created":1741569952,)"
         R"("model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_06737a9306",)"
         R"("choices":[{"index":0,"delta":)" +
         delta + R"(,"logprobs":null,"finish_reason":)" + finish + R"(}],"usage":null})";
}

const std::vector<Event> kChatEvents = {
    {"", ChatChunk(R"({"role":"assistant","content":"","refusal":null})", "null")},
    {"", ChatChunk(R"({"content":"Hello"})", "null")},
    {"", ChatChunk(R"({"content":" there"})", "null")},
    {"", ChatChunk("{}", R"("stop")")},
    {"", R"({"id":"chatcmpl-B9","object":"chat.completion.chunk","model":"gpt-4o-mini-2024-07-18",)"
         R"("choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,)"
         R"("prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)"
         R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}}})"},
};

std::vector<Event> WithDone(std::vector<Event> events) {
  events.push_back({"", "[DONE]"});
  return events;
}

const std::vector<Event> kAnthropicStart = {
    {"message_start",
     R"({"type":"message_start","message":{"id":"msg_01","type":"message","role":"assistant",)"
     R"("content":[],"model":"claude-sonnet-4-20250514","stop_reason":null,"stop_sequence":null,)"
     R"("usage":{"input_tokens":25,"cache_creation_input_tokens":100,)"
     R"("cache_read_input_tokens":2000,"output_tokens":1}}})"},
    {"content_block_start",
     R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"},
    {"ping", R"({"type": "ping"})"},
    {"content_block_delta",
     R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})"},
};

std::vector<Event> Concat(std::vector<Event> head, const std::vector<Event>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

const std::vector<Event> kAnthropicEnd = {
    {"content_block_delta",
     R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"!"}})"},
    {"content_block_stop", R"({"type":"content_block_stop","index":0})"},
    {"message_delta",
     R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
     R"("usage":{"output_tokens":15}})"},
    {"message_stop", R"({"type":"message_stop"})"},
};

const std::vector<Event> kResponsesEvents = {
    {"response.created",
     R"({"type":"response.created","sequence_number":0,"response":{"id":"resp_67c9","object":)"
     R"("response","created_at":1741290958,"status":"in_progress","model":"gpt-4.1-2025-04-14",)"
     R"("output":[],"usage":null}})"},
    {"response.output_item.added",
     R"({"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1",)"
     R"("type":"message","status":"in_progress","role":"assistant","content":[]}})"},
    {"response.output_text.delta",
     R"({"type":"response.output_text.delta","item_id":"msg_1","output_index":0,)"
     R"("content_index":0,"delta":"Hi"})"},
    {"response.output_text.delta",
     R"({"type":"response.output_text.delta","item_id":"msg_1","output_index":0,)"
     R"("content_index":0,"delta":" there"})"},
    {"response.output_text.done",
     R"({"type":"response.output_text.done","item_id":"msg_1","text":"Hi there"})"},
};

const Event kResponsesCompleted = {
    "response.completed",
    R"({"type":"response.completed","sequence_number":9,"response":{"id":"resp_67c9",)"
    R"("object":"response","status":"completed","model":"gpt-4.1-2025-04-14","output":[],)"
    R"("usage":{"input_tokens":37,"input_tokens_details":{"cached_tokens":5},"output_tokens":11,)"
    R"("output_tokens_details":{"reasoning_tokens":3},"total_tokens":48}}})"};

std::string GeminiChunk(const std::string& text, const std::string& tail) {
  return R"({"candidates":[{"content":{"parts":[{"text":")" + text +
         R"("}],"role":"model"},"index":0)" + tail +
         R"(}],"modelVersion":"gemini-2.5-flash","responseId":"kNg5aM6rI")";
}

const std::vector<Event> kOllamaChatLines = {
    {"", R"({"model":"llama3.2","created_at":"2023-08-04T08:52:19.385406455-07:00",)"
         R"("message":{"role":"assistant","content":"The"},"done":false})"},
    {"", R"({"model":"llama3.2","created_at":"2023-08-04T08:52:19.4-07:00",)"
         R"("message":{"role":"assistant","content":" sky"},"done":false})"},
};

const Event kOllamaChatDone = {
    "", R"({"model":"llama3.2","created_at":"2023-08-04T19:22:45.499127Z","message":)"
        R"({"role":"assistant","content":""},"done":true,"done_reason":"stop",)"
        R"("total_duration":4883583458,"load_duration":1334875,"prompt_eval_count":26,)"
        R"("prompt_eval_duration":342546000,"eval_count":282,"eval_duration":4535599000})"};

constexpr const char* kNoUsage = "in=- out=- cache_read=- cache_creation=- reasoning=-";

// clang-format off
INSTANTIATE_TEST_SUITE_P(
    Table, StreamAccumulatorTest,
    ::testing::Values(
        StreamCase{"openai_chat", Api::kOpenAiChatCompletions, false, WithDone(kChatEvents),
                   "chatcmpl-B9", "gpt-4o-mini-2024-07-18", {"stop"},
                   "in=19 out=10 cache_read=0 cache_creation=- reasoning=0", "", false, 2,
                   "Hello there"},
        StreamCase{"openai_chat_cut_before_done", Api::kOpenAiChatCompletions, false, kChatEvents,
                   "chatcmpl-B9", "gpt-4o-mini-2024-07-18", {"stop"},
                   "in=19 out=10 cache_read=0 cache_creation=- reasoning=0", "", true, 2,
                   "Hello there"},
        StreamCase{"openai_chat_tools_and_reasoning", Api::kOpenAiChatCompletions, false,
                   {{"", ChatChunk(R"({"reasoning_content":"Think"})", "null")},
                    {"", ChatChunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"{"}}]})",
                                   "null")},
                    {"", ChatChunk("{}", R"("tool_calls")")},
                    {"", "[DONE]"}},
                   "chatcmpl-B9", "gpt-4o-mini-2024-07-18", {"tool_calls"}, kNoUsage, "", false, 2,
                   ""},
        StreamCase{"openai_completions", Api::kOpenAiCompletions, false,
                   {{"", R"({"id":"cmpl-1","object":"text_completion","model":"davinci-002",)"
                         R"("choices":[{"text":"Once","index":0,"finish_reason":null}]})"},
                    {"", R"({"id":"cmpl-1","model":"davinci-002","choices":[{"text":"","index":0,)"
                         R"("finish_reason":"length"}]})"},
                    {"", "  [DONE]  "}},
                   "cmpl-1", "davinci-002", {"length"}, kNoUsage, "", false, 1, "Once"},
        StreamCase{"openai_compatible_error_chunk", Api::kOpenAiChatCompletions, false,
                   {{"", ChatChunk(R"({"content":"Hi"})", "null")},
                    {"", R"({"error":{"message":"overloaded","type":"server_error","code":503}})"}},
                   "chatcmpl-B9", "gpt-4o-mini-2024-07-18", {}, kNoUsage, "server_error", false, 1,
                   "Hi"},
        StreamCase{"responses", Api::kOpenAiResponses, false,
                   Concat(kResponsesEvents, {kResponsesCompleted}), "resp_67c9",
                   "gpt-4.1-2025-04-14", {"completed"},
                   "in=37 out=11 cache_read=5 cache_creation=- reasoning=3", "", false, 2,
                   "Hi there"},
        StreamCase{"responses_types_in_data_only", Api::kOpenAiResponses, true,
                   Concat(kResponsesEvents, {kResponsesCompleted}), "resp_67c9",
                   "gpt-4.1-2025-04-14", {"completed"},
                   "in=37 out=11 cache_read=5 cache_creation=- reasoning=3", "", false, 2,
                   "Hi there"},
        StreamCase{"responses_cut", Api::kOpenAiResponses, false, kResponsesEvents, "resp_67c9",
                   "gpt-4.1-2025-04-14", {}, kNoUsage, "", true, 2, "Hi there"},
        StreamCase{"responses_failed", Api::kOpenAiResponses, false,
                   Concat(kResponsesEvents,
                          {{"response.failed",
                            R"({"type":"response.failed","response":{"id":"resp_67c9",)"
                            R"("status":"failed","error":{"code":"server_error",)"
                            R"("message":"The model failed"},"usage":null}})"}}),
                   "resp_67c9", "gpt-4.1-2025-04-14", {"failed"}, kNoUsage, "server_error", false,
                   2, "Hi there"},
        StreamCase{"responses_error_event", Api::kOpenAiResponses, false,
                   {{"error", R"({"type":"error","code":"rate_limit_exceeded",)"
                              R"("message":"Slow down","param":null,"sequence_number":1})"}},
                   "", "", {}, kNoUsage, "rate_limit_exceeded", false, 0, ""},
        StreamCase{"anthropic", Api::kAnthropicMessages, false,
                   Concat(kAnthropicStart, kAnthropicEnd), "msg_01", "claude-sonnet-4-20250514",
                   {"end_turn"}, "in=2125 out=15 cache_read=2000 cache_creation=100 reasoning=-",
                   "", false, 2, "Hello!"},
        StreamCase{"anthropic_cut", Api::kAnthropicMessages, false, kAnthropicStart, "msg_01",
                   "claude-sonnet-4-20250514", {},
                   "in=2125 out=1 cache_read=2000 cache_creation=100 reasoning=-", "", true, 1,
                   "Hello"},
        StreamCase{"anthropic_overloaded", Api::kAnthropicMessages, false,
                   Concat(kAnthropicStart,
                          {{"error", R"({"type":"error","error":{"type":"overloaded_error",)"
                                     R"("message":"Overloaded"}})"}}),
                   "msg_01", "claude-sonnet-4-20250514", {},
                   "in=2125 out=1 cache_read=2000 cache_creation=100 reasoning=-",
                   "overloaded_error", false, 1, "Hello"},
        StreamCase{"anthropic_thinking_and_tools", Api::kAnthropicMessages, false,
                   {{"", R"({"type":"content_block_delta","index":0,)"
                         R"("delta":{"type":"thinking_delta","thinking":"Let me"}})"},
                    {"", R"({"type":"content_block_delta","index":1,)"
                         R"("delta":{"type":"input_json_delta","partial_json":"{\"city\""}})"},
                    {"", R"({"type":"content_block_delta","index":1,)"
                         R"("delta":{"type":"input_json_delta","partial_json":""}})"},
                    {"", R"({"type":"message_delta","delta":{"stop_reason":"tool_use"},)"
                         R"("usage":{"input_tokens":400,"output_tokens":89}})"},
                    {"", R"({"type":"message_stop"})"}},
                   "", "", {"tool_use"}, "in=400 out=89 cache_read=- cache_creation=- reasoning=-",
                   "", false, 2, ""},
        StreamCase{"gemini", Api::kGeminiStream, false,
                   {{"", GeminiChunk("The", "") +
                             R"(,"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8}})"},
                    {"", GeminiChunk(" sky is blue.", R"(,"finishReason":"STOP")") +
                             R"(,"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":6,)"
                             R"("totalTokenCount":40,"thoughtsTokenCount":26,)"
                             R"("cachedContentTokenCount":4}})"}},
                   "kNg5aM6rI", "gemini-2.5-flash", {"STOP"},
                   "in=8 out=32 cache_read=4 cache_creation=- reasoning=26", "", false, 2,
                   "The sky is blue."},
        StreamCase{"gemini_cut", Api::kGeminiStream, false,
                   {{"", GeminiChunk("The", "") + "}"}}, "kNg5aM6rI", "gemini-2.5-flash", {},
                   kNoUsage, "", true, 1, "The"},
        StreamCase{"gemini_error", Api::kGeminiStream, false,
                   {{"", R"({"error":{"code":503,"message":"The model is overloaded.",)"
                         R"("status":"UNAVAILABLE"}})"}},
                   "", "", {}, kNoUsage, "UNAVAILABLE", false, 0, ""},
        StreamCase{"ollama_chat", Api::kOllamaChat, true,
                   Concat(kOllamaChatLines, {kOllamaChatDone}), "", "llama3.2", {"stop"},
                   "in=26 out=282 cache_read=- cache_creation=- reasoning=-", "", false, 2,
                   "The sky"},
        StreamCase{"ollama_chat_cut", Api::kOllamaChat, true, kOllamaChatLines, "", "llama3.2",
                   {}, kNoUsage, "", true, 2, "The sky"},
        StreamCase{"ollama_generate", Api::kOllamaGenerate, true,
                   {{"", R"({"model":"llama3.2","response":"Blue","done":false})"},
                    {"", R"({"model":"llama3.2","response":"","done":true,"done_reason":"stop",)"
                         R"("context":[1,2,3],"prompt_eval_count":15,"eval_count":2})"}},
                   "", "llama3.2", {"stop"},
                   "in=15 out=2 cache_read=- cache_creation=- reasoning=-", "", false, 1, "Blue"},
        StreamCase{"ollama_error_line", Api::kOllamaChat, true,
                   {{"", R"({"error":"an error was encountered while running the model"})"}}, "",
                   "", {}, kNoUsage, "_OTHER", false, 0, ""},
        StreamCase{"garbage", Api::kAnthropicMessages, false,
                   {{"message_start", "{\"type\":\"message_start\",\"message\":"},
                    {"", "not json"},
                    {"", "[1,2]"},
                    {"", R"({"type":"message_delta","usage":{"output_tokens":-3}})"},
                    {"", R"({"type":"content_block_delta","delta":"text"})"}},
                   "", "", {}, kNoUsage, "", true, 0, ""},
        StreamCase{"sse_line_given_as_json_line", Api::kOllamaChat, true,
                   {{"", R"(data: {"model":"m","message":{"content":"x"},"done":false})"}}, "", "m",
                   {}, kNoUsage, "", true, 1, "x"}),
    [](const auto& param) { return std::string(param.param.name); });
// clang-format on

TEST(StreamAccumulatorCaptureTest, OutputStopsAtTheCap) {
  StreamAccumulator stream(Api::kOllamaGenerate, /*capture_content=*/true);
  const std::string piece(1000, 'a');
  for (int i = 0; i < 100; ++i) {
    stream.OnJsonLine(R"({"model":"m","response":")" + piece + R"(","done":false})");
  }
  EXPECT_EQ(stream.content_chunks(), 100u);
  EXPECT_EQ(stream.Finish().output_messages.size(), kMaxStreamOutputBytes);
}

TEST(StreamAccumulatorCaptureTest, NothingIsKeptWithoutCapture) {
  StreamAccumulator stream(Api::kOpenAiChatCompletions, /*capture_content=*/false);
  for (const Event& event : WithDone(kChatEvents)) stream.OnSseEvent(event.type, event.data);
  EXPECT_EQ(stream.content_chunks(), 2u);
  EXPECT_EQ(stream.Finish().output_messages, "");
  EXPECT_FALSE(stream.Finish().stream_incomplete);
}

TEST(StreamAccumulatorEdgeTest, EmptyStreamIsIncomplete) {
  for (Api api : {Api::kOpenAiChatCompletions, Api::kAnthropicMessages, Api::kGeminiStream,
                  Api::kOllamaChat}) {
    const StreamAccumulator stream(api, false);
    EXPECT_TRUE(stream.Finish().stream_incomplete) << ApiName(api);
    EXPECT_EQ(stream.content_chunks(), 0u);
  }
}

}  // namespace
}  // namespace infrared::genai
