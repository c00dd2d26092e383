#include "agent/genai/extract.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace infrared::genai {
namespace {

constexpr std::nullopt_t kNone = std::nullopt;

// Usage as one line, so a mismatch shows every count at once.
std::string Show(const Usage& usage) {
  auto one = [](const std::optional<std::uint64_t>& count) {
    return count ? std::to_string(*count) : std::string("-");
  };
  return "in=" + one(usage.input_tokens) + " out=" + one(usage.output_tokens) +
         " cache_read=" + one(usage.cache_read_tokens) +
         " cache_creation=" + one(usage.cache_creation_tokens) +
         " reasoning=" + one(usage.reasoning_tokens);
}

// ---------------------------------------------------------------- requests

struct RequestCase {
  const char* name;
  Api api;
  std::string body;
  bool truncated;
  std::string model;
  bool stream;
  std::optional<std::int64_t> max_tokens;
  std::optional<double> temperature;
  std::optional<double> top_p;
};

class ParseRequestTest : public ::testing::TestWithParam<RequestCase> {};

TEST_P(ParseRequestTest, Facts) {
  const RequestCase& c = GetParam();
  const RequestFacts facts = ParseRequest(c.api, c.body, c.truncated, false);
  EXPECT_EQ(facts.model, c.model);
  EXPECT_EQ(facts.stream, c.stream);
  EXPECT_EQ(facts.max_tokens, c.max_tokens);
  EXPECT_EQ(facts.temperature, c.temperature);
  EXPECT_EQ(facts.top_p, c.top_p);
  EXPECT_EQ(facts.input_messages, "");  // capture is off
}

// An OpenAI SDK body: "model" comes after a long "messages" array.
const std::string kLongMessages = R"("messages":[{"role":"system","content":"You are terse."},)"
                                  R"({"role":"user","content":")" +
                                  std::string(3000, 'x') + R"("}])";

// clang-format off
INSTANTIATE_TEST_SUITE_P(
    Table, ParseRequestTest,
    ::testing::Values(
        RequestCase{"openai_chat", Api::kOpenAiChatCompletions,
                    R"({"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}],)"
                    R"("max_completion_tokens":512,"temperature":0.2,"top_p":0.9,)"
                    R"("stream":true,"stream_options":{"include_usage":true}})",
                    false, "gpt-4o", true, 512, 0.2, 0.9},
        RequestCase{"openai_chat_max_tokens", Api::kOpenAiChatCompletions,
                    R"({"model":"gpt-4o-mini","messages":[],"max_tokens":100,"stream":false})",
                    false, "gpt-4o-mini", false, 100, kNone, kNone},
        RequestCase{"model_after_long_messages_cut", Api::kOpenAiChatCompletions,
                    "{" + kLongMessages +
                        R"(,"model":"gpt-4o-mini","stream":true,"temperature":0.7,"max_tok)",
                    true, "gpt-4o-mini", true, kNone, 0.7, kNone},
        RequestCase{"cut_inside_messages", Api::kOpenAiChatCompletions,
                    R"({"messages":[{"role":"user","content":"say \"model\": \"evil\" and)", true,
                    "", false, kNone, kNone, kNone},
        RequestCase{"cut_scalar_is_not_trusted", Api::kOpenAiChatCompletions,
                    R"({"model":"gpt-4o","max_tokens":12)", true, "gpt-4o", false, kNone, kNone,
                    kNone},
        RequestCase{"cut_model_string", Api::kOpenAiChatCompletions,
                    R"({"messages":[],"model":"gpt-4)", true, "", false, kNone, kNone, kNone},
        RequestCase{"evil_model_in_content", Api::kOpenAiChatCompletions,
                    R"({"messages":[{"role":"user","content":"Reply {\"model\": \"evil\", )"
                    R"(\"stream\": true}"}],"model":"gpt-4o"})",
                    false, "gpt-4o", false, kNone, kNone, kNone},
        RequestCase{"evil_model_in_content_cut", Api::kOpenAiChatCompletions,
                    R"({"messages":[{"role":"user","content":"path C:\\"},)"
                    R"({"role":"user","content":"\"model\":\"evil\",\"stream\":true"}],)"
                    R"("model":"gpt-4o","stream":tr)",
                    true, "gpt-4o", false, kNone, kNone, kNone},
        RequestCase{"evil_model_in_prompt_cut", Api::kOpenAiCompletions,
                    R"({"prompt":"say \"model\": \"evil\" now","model":"gpt-3.5-turbo-instruct",)"
                    R"("max_tokens":7,"temperature":0)",
                    true, "gpt-3.5-turbo-instruct", false, 7, kNone, kNone},
        RequestCase{"nested_model_is_not_the_model", Api::kOpenAiChatCompletions,
                    R"({"metadata":{"model":"evil"},"messages":[{"model":"evil2"}],"stream":)",
                    true, "", false, kNone, kNone, kNone},
        RequestCase{"responses", Api::kOpenAiResponses,
                    R"({"model":"o4-mini","input":"Tell me a joke","max_output_tokens":2048,)"
                    R"("reasoning":{"effort":"low"},"stream":true})",
                    false, "o4-mini", true, 2048, kNone, kNone},
        RequestCase{"embeddings", Api::kOpenAiEmbeddings,
                    R"({"input":"The food was delicious","model":"text-embedding-3-small",)"
                    R"("encoding_format":"float"})",
                    false, "text-embedding-3-small", false, kNone, kNone, kNone},
        RequestCase{"anthropic", Api::kAnthropicMessages,
                    R"({"model":"claude-sonnet-4-20250514","max_tokens":1024,"system":"Be brief.",)"
                    R"("messages":[{"role":"user","content":"Hello"}],"temperature":1,)"
                    R"("top_p":0.95,"stream":true})",
                    false, "claude-sonnet-4-20250514", true, 1024, 1.0, 0.95},
        RequestCase{"gemini_generate", Api::kGeminiGenerate,
                    R"({"contents":[{"role":"user","parts":[{"text":"Hi"}]}],)"
                    R"("generationConfig":{"temperature":0.4,"topP":0.8,"maxOutputTokens":800,)"
                    R"("thinkingConfig":{"thinkingBudget":0}}})",
                    false, "", false, 800, 0.4, 0.8},
        RequestCase{"gemini_stream", Api::kGeminiStream,
                    R"({"contents":[{"role":"user","parts":[{"text":"Hi"}]}]})", false, "", true,
                    kNone, kNone, kNone},
        RequestCase{"gemini_embed", Api::kGeminiEmbed,
                    R"({"model":"models/text-embedding-004","content":{"parts":[{"text":"hi"}]}})",
                    false, "models/text-embedding-004", false, kNone, kNone, kNone},
        RequestCase{"ollama_chat_streams_by_default", Api::kOllamaChat,
                    R"({"model":"llama3.2","messages":[{"role":"user","content":"why?"}],)"
                    R"("options":{"num_predict":128,"temperature":0.1,"top_p":0.5}})",
                    false, "llama3.2", true, 128, 0.1, 0.5},
        RequestCase{"ollama_chat_stream_false", Api::kOllamaChat,
                    R"({"model":"llama3.2","messages":[],"stream":false})", false, "llama3.2",
                    false, kNone, kNone, kNone},
        RequestCase{"ollama_generate_unlimited", Api::kOllamaGenerate,
                    R"({"model":"llama3.2","prompt":"Why is the sky blue?","stream":false,)"
                    R"("options":{"num_predict":-1}})",
                    false, "llama3.2", false, kNone, kNone, kNone},
        RequestCase{"ollama_embed", Api::kOllamaEmbed, R"({"model":"all-minilm","input":["a","b"]})",
                    false, "all-minilm", false, kNone, kNone, kNone},
        RequestCase{"hostile_types", Api::kOpenAiChatCompletions,
                    R"({"model":42,"stream":"yes","max_tokens":-1,"temperature":"hot",)"
                    R"("top_p":null})",
                    false, "", false, kNone, kNone, kNone},
        RequestCase{"huge_max_tokens", Api::kAnthropicMessages,
                    R"({"model":"m","max_tokens":99999999999999999999,"temperature":1e400})",
                    false, "m", false, kNone, kNone, kNone},
        RequestCase{"not_json", Api::kOpenAiChatCompletions, "hello there", false, "", false,
                    kNone, kNone, kNone},
        RequestCase{"empty", Api::kOllamaChat, "", true, "", true, kNone, kNone, kNone},
        RequestCase{"array_body", Api::kOpenAiChatCompletions, R"([{"model":"x"}])", false, "",
                    false, kNone, kNone, kNone}),
    [](const auto& param) { return std::string(param.param.name); });
// clang-format on

TEST(ParseRequestCaptureTest, InputIsTheRawMessagesText) {
  const std::string messages = R"([{"role":"user","content":"Hi \"there\""}])";
  const std::string body = R"({"model":"gpt-4o","messages":)" + messages + R"(,"stream":true})";
  EXPECT_EQ(ParseRequest(Api::kOpenAiChatCompletions, body, false, true).input_messages, messages);
  EXPECT_EQ(ParseRequest(Api::kOpenAiChatCompletions, body, false, false).input_messages, "");
}

TEST(ParseRequestCaptureTest, CutInputIsKeptAsFarAsItGoes) {
  const std::string body =
      R"({"model":"claude-opus-4-1","messages":[{"role":"user","content":"Wri)";
  EXPECT_EQ(ParseRequest(Api::kAnthropicMessages, body, true, true).input_messages,
            R"([{"role":"user","content":"Wri)");
}

TEST(ParseRequestCaptureTest, EachApiCapturesItsInputMember) {
  struct Case {
    Api api;
    std::string body;
    std::string input;
  };
  const std::vector<Case> cases = {
      {Api::kOpenAiResponses, R"({"model":"gpt-4.1","input":"Hi"})", R"("Hi")"},
      {Api::kOpenAiCompletions, R"({"prompt": ["a", "b"] ,"model":"m"})", R"(["a", "b"])"},
      {Api::kGeminiStream, R"({"contents":[{"parts":[{"text":"x"}]}]})",
       R"([{"parts":[{"text":"x"}]}])"},
      {Api::kOllamaGenerate, R"({"model":"llama3.2","prompt":"Why?"})", R"("Why?")"},
      {Api::kOllamaEmbed, R"({"model":"all-minilm","prompt":"old style"})", R"("old style")"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ParseRequest(c.api, c.body, false, true).input_messages, c.input) << c.body;
  }
}

// --------------------------------------------------------------- responses

struct ResponseCase {
  const char* name;
  Api api;
  int status;
  std::string body;
  std::string id;
  std::string model;
  std::vector<std::string> finish_reasons;
  std::string usage;
  std::string error_type;
};

class ParseResponseTest : public ::testing::TestWithParam<ResponseCase> {};

TEST_P(ParseResponseTest, Facts) {
  const ResponseCase& c = GetParam();
  const ResponseFacts facts = ParseResponse(c.api, c.status, c.body, false);
  EXPECT_EQ(facts.id, c.id);
  EXPECT_EQ(facts.model, c.model);
  EXPECT_EQ(facts.finish_reasons, c.finish_reasons);
  EXPECT_EQ(Show(facts.usage), c.usage);
  EXPECT_EQ(facts.error_type, c.error_type);
  EXPECT_FALSE(facts.stream_incomplete);
  EXPECT_EQ(facts.output_messages, "");
}

constexpr const char* kNoUsage = "in=- out=- cache_read=- cache_creation=- reasoning=-";

// clang-format off
INSTANTIATE_TEST_SUITE_P(
    Table, ParseResponseTest,
    ::testing::Values(
        ResponseCase{
            "openai_chat", Api::kOpenAiChatCompletions, 200,
            R"({"id":"chatcmpl-abc123","object":"chat.completion","created":1741569952,)"
            R"("model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant",)"
            R"("content":"Hello!","refusal":null},"logprobs":null,"finish_reason":"stop"}],)"
            R"("usage":{"prompt_tokens":2006,"completion_tokens":300,"total_tokens":2306,)"
            R"("prompt_tokens_details":{"cached_tokens":1920,"audio_tokens":0},)"
            R"("completion_tokens_details":{"reasoning_tokens":192,"audio_tokens":0}},)"
            R"("service_tier":"default"})",
            "chatcmpl-abc123", "gpt-4o-2024-08-06", {"stop"},
            "in=2006 out=300 cache_read=1920 cache_creation=- reasoning=192", ""},
        ResponseCase{"openai_chat_two_choices", Api::kOpenAiChatCompletions, 200,
                     R"({"id":"c2","model":"gpt-4o","choices":[{"index":0,"finish_reason":"stop"},)"
                     R"({"index":1,"finish_reason":"length"}],"usage":{"prompt_tokens":9,)"
                     R"("completion_tokens":40}})",
                     "c2", "gpt-4o", {"stop", "length"},
                     "in=9 out=40 cache_read=- cache_creation=- reasoning=-", ""},
        ResponseCase{"deepseek_cache_hits", Api::kOpenAiChatCompletions, 200,
                     R"({"id":"d1","model":"deepseek-chat","choices":[{"finish_reason":"stop"}],)"
                     R"("usage":{"prompt_tokens":120,"completion_tokens":8,)"
                     R"("prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":56}})",
                     "d1", "deepseek-chat", {"stop"},
                     "in=120 out=8 cache_read=64 cache_creation=- reasoning=-", ""},
        ResponseCase{"openai_completions", Api::kOpenAiCompletions, 200,
                     R"({"id":"cmpl-7","object":"text_completion","model":"gpt-3.5-turbo-instruct",)"
                     R"("choices":[{"text":" there","index":0,"logprobs":null,)"
                     R"("finish_reason":"length"}],"usage":{"prompt_tokens":5,)"
                     R"("completion_tokens":7,"total_tokens":12}})",
                     "cmpl-7", "gpt-3.5-turbo-instruct", {"length"},
                     "in=5 out=7 cache_read=- cache_creation=- reasoning=-", ""},
        ResponseCase{"openai_responses", Api::kOpenAiResponses, 200,
                     R"({"id":"resp_67cc","object":"response","created_at":1741476542,)"
                     R"("status":"completed","error":null,"incomplete_details":null,)"
                     R"("model":"gpt-4.1-2025-04-14","output":[{"type":"message","id":"msg_1",)"
                     R"("status":"completed","role":"assistant","content":[{"type":"output_text",)"
                     R"("text":"In a peaceful grove...","annotations":[]}]}],)"
                     R"("usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":12},)"
                     R"("output_tokens":87,"output_tokens_details":{"reasoning_tokens":20},)"
                     R"("total_tokens":123}})",
                     "resp_67cc", "gpt-4.1-2025-04-14", {"completed"},
                     "in=36 out=87 cache_read=12 cache_creation=- reasoning=20", ""},
        ResponseCase{"openai_responses_incomplete", Api::kOpenAiResponses, 200,
                     R"({"id":"resp_2","status":"incomplete","model":"o4-mini",)"
                     R"("incomplete_details":{"reason":"max_output_tokens"},"output":[]})",
                     "resp_2", "o4-mini", {"max_output_tokens"}, kNoUsage, ""},
        ResponseCase{"openai_embeddings", Api::kOpenAiEmbeddings, 200,
                     R"({"object":"list","data":[{"object":"embedding","index":0,)"
                     R"("embedding":[0.0023064255,-0.009327292]}],)"
                     R"("model":"text-embedding-3-small","usage":{"prompt_tokens":8,)"
                     R"("total_tokens":8}})",
                     "", "text-embedding-3-small", {},
                     "in=8 out=- cache_read=- cache_creation=- reasoning=-", ""},
        ResponseCase{"embeddings_total_only", Api::kOpenAiEmbeddings, 200,
                     R"({"model":"e5","usage":{"total_tokens":11}})", "", "e5", {},
                     "in=11 out=- cache_read=- cache_creation=- reasoning=-", ""},
        ResponseCase{"openai_quota", Api::kOpenAiChatCompletions, 429,
                     R"({"error":{"message":"You exceeded your current quota.",)"
                     R"("type":"insufficient_quota","param":null,"code":"insufficient_quota"}})",
                     "", "", {}, kNoUsage, "insufficient_quota"},
        ResponseCase{"openai_code_only", Api::kOpenAiChatCompletions, 404,
                     R"({"error":{"message":"The model does not exist","type":null,)"
                     R"("code":"model_not_found"}})",
                     "", "", {}, kNoUsage, "model_not_found"},
        ResponseCase{"error_object_in_200", Api::kOpenAiChatCompletions, 200,
                     R"({"error":{"message":"Upstream failed","code":502}})", "", "", {}, kNoUsage,
                     "502"},
        ResponseCase{"html_error_page", Api::kOpenAiChatCompletions, 502,
                     "<html><body>Bad Gateway</body></html>", "", "", {}, kNoUsage, "502"},
        ResponseCase{"anthropic", Api::kAnthropicMessages, 200,
                     R"({"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant",)"
                     R"("model":"claude-opus-4-1-20250805","content":[{"type":"text","text":"Hi!"}],)"
                     R"("stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":21,)"
                     R"("cache_creation_input_tokens":188,"cache_read_input_tokens":1800,)"
                     R"("output_tokens":393,"service_tier":"standard"}})",
                     "msg_01XFDUDYJgAACzvnptvVoYEL", "claude-opus-4-1-20250805", {"end_turn"},
                     "in=2009 out=393 cache_read=1800 cache_creation=188 reasoning=-", ""},
        ResponseCase{"anthropic_overloaded", Api::kAnthropicMessages, 529,
                     R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},)"
                     R"("request_id":"req_011"})",
                     "", "", {}, kNoUsage, "overloaded_error"},
        ResponseCase{"anthropic_rate_limit", Api::kAnthropicMessages, 429,
                     R"({"type":"error","error":{"type":"rate_limit_error","message":"slow"}})", "",
                     "", {}, kNoUsage, "rate_limit_error"},
        ResponseCase{"gemini", Api::kGeminiGenerate, 200,
                     R"({"candidates":[{"content":{"parts":[{"text":"Blue."}],"role":"model"},)"
                     R"("finishReason":"STOP","avgLogprobs":-0.12}],"usageMetadata":)"
                     R"({"promptTokenCount":4000,"candidatesTokenCount":150,"totalTokenCount":4400,)"
                     R"("cachedContentTokenCount":3000,"thoughtsTokenCount":250,)"
                     R"("promptTokensDetails":[{"modality":"TEXT","tokenCount":4000}]},)"
                     R"("modelVersion":"gemini-2.5-pro","responseId":"mQ5oaL3vC"})",
                     "mQ5oaL3vC", "gemini-2.5-pro", {"STOP"},
                     "in=4000 out=400 cache_read=3000 cache_creation=- reasoning=250", ""},
        ResponseCase{"gemini_blocked", Api::kGeminiGenerate, 200,
                     R"({"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":)"
                     R"({"promptTokenCount":7,"totalTokenCount":7},"modelVersion":"gemini-2.0-flash"})",
                     "", "gemini-2.0-flash", {"SAFETY"},
                     "in=7 out=- cache_read=- cache_creation=- reasoning=-", ""},
        ResponseCase{"gemini_exhausted", Api::kGeminiGenerate, 429,
                     R"({"error":{"code":429,"message":"Resource has been exhausted",)"
                     R"("status":"RESOURCE_EXHAUSTED"}})",
                     "", "", {}, kNoUsage, "RESOURCE_EXHAUSTED"},
        ResponseCase{"gemini_embed", Api::kGeminiEmbed, 200,
                     R"({"embedding":{"values":[0.013168523,-0.008711704]}})", "", "", {},
                     kNoUsage, ""},
        ResponseCase{"ollama_chat", Api::kOllamaChat, 200,
                     R"({"model":"llama3.2","created_at":"2023-12-12T14:13:43.416799Z",)"
                     R"("message":{"role":"assistant","content":"Hello!"},"done":true,)"
                     R"("done_reason":"stop","total_duration":5191566416,"load_duration":2154458,)"
                     R"("prompt_eval_count":26,"prompt_eval_duration":383809000,)"
                     R"("eval_count":298,"eval_duration":4799921000})",
                     "", "llama3.2", {"stop"},
                     "in=26 out=298 cache_read=- cache_creation=- reasoning=-", ""},
        ResponseCase{"ollama_generate", Api::kOllamaGenerate, 200,
                     R"({"model":"llama3.2","response":"The sky is blue.","done":true,)"
                     R"("done_reason":"length","prompt_eval_count":15,"eval_count":128})",
                     "", "llama3.2", {"length"},
                     "in=15 out=128 cache_read=- cache_creation=- reasoning=-", ""},
        ResponseCase{"ollama_embed", Api::kOllamaEmbed, 200,
                     R"({"model":"all-minilm","embeddings":[[0.010071029,-0.0017594862]],)"
                     R"("total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8})",
                     "", "all-minilm", {},
                     "in=8 out=- cache_read=- cache_creation=- reasoning=-", ""},
        ResponseCase{"ollama_not_found", Api::kOllamaChat, 404,
                     R"({"error":"model \"llama9\" not found, try pulling it first"})", "", "", {},
                     kNoUsage, "404"},
        ResponseCase{"ollama_error_in_200", Api::kOllamaGenerate, 200,
                     R"({"error":"unexpected EOF"})", "", "", {}, kNoUsage, "_OTHER"},
        ResponseCase{"hostile_counts", Api::kOpenAiChatCompletions, 200,
                     R"({"id":7,"model":["x"],"choices":"none","usage":{"prompt_tokens":-5,)"
                     R"("completion_tokens":1.5,"total_tokens":"7","prompt_tokens_details":3,)"
                     R"("completion_tokens_details":{"reasoning_tokens":2000000000000}}})",
                     "", "", {}, kNoUsage, ""},
        ResponseCase{"hostile_usage_array", Api::kAnthropicMessages, 200,
                     R"({"usage":[1,2],"stop_reason":{"a":1},"error":null})", "", "", {},
                     kNoUsage, ""},
        ResponseCase{"cut_body_keeps_complete_members", Api::kOpenAiChatCompletions, 200,
                     R"({"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o",)"
                     R"("choices":[{"index":0,"message":{"role":"assistant","content":"long te)",
                     "chatcmpl-1", "gpt-4o", {}, kNoUsage, ""},
        ResponseCase{"gemini_stream_as_json_array", Api::kGeminiStream, 200,
                     R"([{"candidates":[{"content":{"parts":[{"text":"A"}]}}],)"
                     R"("modelVersion":"gemini-2.0-flash","responseId":"r1"},)"
                     R"({"candidates":[{"content":{"parts":[{"text":"B"}]},"finishReason":"STOP"}],)"
                     R"("usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2}}])",
                     "r1", "gemini-2.0-flash", {"STOP"},
                     "in=3 out=2 cache_read=- cache_creation=- reasoning=-", ""}),
    [](const auto& param) { return std::string(param.param.name); });
// clang-format on

TEST(ParseResponseCaptureTest, OutputIsTheRawOutputMember) {
  const std::string choices =
      R"([{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}])";
  const std::string body = R"({"id":"c","choices":)" + choices + R"(,"usage":{}})";
  EXPECT_EQ(ParseResponse(Api::kOpenAiChatCompletions, 200, body, true).output_messages, choices);
  EXPECT_EQ(ParseResponse(Api::kAnthropicMessages, 200,
                          R"({"content":[{"type":"text","text":"Yo"}],"id":"m"})", true)
                .output_messages,
            R"([{"type":"text","text":"Yo"}])");
  EXPECT_EQ(ParseResponse(Api::kOllamaGenerate, 200, R"({"response":"Blue","done":true})", true)
                .output_messages,
            R"("Blue")");
  EXPECT_EQ(ParseResponse(Api::kOpenAiEmbeddings, 200, R"({"data":[{"embedding":[1]}]})", true)
                .output_messages,
            "");
}

}  // namespace
}  // namespace infrared::genai
