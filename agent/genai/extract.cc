#include "agent/genai/extract.h"

#include <array>
#include <cmath>
#include <utility>
#include <vector>

namespace infrared::genai {

namespace {

using shapes::IsError;
using shapes::Json;
using shapes::Member;
using shapes::ParseTolerant;
using shapes::RawMemberText;

constexpr std::string_view kSpace = " \t\r\n";

enum class Family { kOpenAi, kAnthropic, kGemini, kOllama };

Family FamilyOf(Api api) {
  switch (api) {
    case Api::kAnthropicMessages:
      return Family::kAnthropic;
    case Api::kGeminiGenerate:
    case Api::kGeminiStream:
    case Api::kGeminiEmbed:
      return Family::kGemini;
    case Api::kOllamaChat:
    case Api::kOllamaGenerate:
    case Api::kOllamaEmbed:
      return Family::kOllama;
    default:
      return Family::kOpenAi;
  }
}

enum class StreamRule { kBodyFlag, kUnlessFalse, kAlways, kNever };

// Where an API's request keeps its parameters and its input.
struct RequestLayout {
  std::string_view params;  // the object holding them; "" is the top level
  std::array<std::string_view, 2> max_tokens;
  std::string_view temperature;
  std::string_view top_p;
  std::array<std::string_view, 2> input;
  StreamRule stream;
};

RequestLayout LayoutOf(Api api) {
  switch (api) {
    case Api::kOpenAiChatCompletions:
      return {"",
              {"max_completion_tokens", "max_tokens"},
              "temperature",
              "top_p",
              {"messages", ""},
              StreamRule::kBodyFlag};
    case Api::kOpenAiResponses:
      return {"",      {"max_output_tokens", ""}, "temperature",
              "top_p", {"input", "instructions"}, StreamRule::kBodyFlag};
    case Api::kOpenAiCompletions:
      return {"",      {"max_tokens", ""}, "temperature",
              "top_p", {"prompt", ""},     StreamRule::kBodyFlag};
    case Api::kOpenAiEmbeddings:
      return {"", {"", ""}, "", "", {"input", ""}, StreamRule::kNever};
    case Api::kAnthropicMessages:
      return {"",      {"max_tokens", ""}, "temperature",
              "top_p", {"messages", ""},   StreamRule::kBodyFlag};
    case Api::kGeminiGenerate:
    case Api::kGeminiStream:
      return {
          "generationConfig", {"maxOutputTokens", ""},
          "temperature",      "topP",
          {"contents", ""},   api == Api::kGeminiStream ? StreamRule::kAlways : StreamRule::kNever};
    case Api::kGeminiEmbed:
      return {"", {"", ""}, "", "", {"content", "requests"}, StreamRule::kNever};
    case Api::kOllamaChat:
      return {"options", {"num_predict", ""}, "temperature",
              "top_p",   {"messages", ""},    StreamRule::kUnlessFalse};
    case Api::kOllamaGenerate:
      return {"options", {"num_predict", ""}, "temperature",
              "top_p",   {"prompt", ""},      StreamRule::kUnlessFalse};
    case Api::kOllamaEmbed:
      return {"", {"", ""}, "", "", {"input", "prompt"}, StreamRule::kNever};
  }
  return {"", {"", ""}, "", "", {"", ""}, StreamRule::kNever};
}

std::optional<double> NumberMember(const Json& object, std::string_view key) {
  const Json* value = key.empty() ? nullptr : Member(object, key);
  if (value == nullptr || !value->IsNumber()) return std::nullopt;
  const double number = value->Number();
  return std::isfinite(number) ? std::optional<double>(number) : std::nullopt;
}

bool StreamOf(StreamRule rule, const Json& body) {
  const Json* flag = Member(body, "stream");
  switch (rule) {
    case StreamRule::kBodyFlag:
      return flag != nullptr && flag->IsBoolean() && flag->Bool();
    case StreamRule::kUnlessFalse:
      return !(flag != nullptr && flag->IsBoolean() && !flag->Bool());
    case StreamRule::kAlways:
      return true;
    case StreamRule::kNever:
      return false;
  }
  return false;
}

// The top-level member a whole response keeps its output in.
std::string_view OutputKeyOf(Api api) {
  switch (api) {
    case Api::kOpenAiChatCompletions:
    case Api::kOpenAiCompletions:
      return "choices";
    case Api::kOpenAiResponses:
      return "output";
    case Api::kAnthropicMessages:
      return "content";
    case Api::kGeminiGenerate:
    case Api::kGeminiStream:
      return "candidates";
    case Api::kOllamaChat:
      return "message";
    case Api::kOllamaGenerate:
      return "response";
    default:
      return "";  // embeddings: vectors, not messages
  }
}

void DispatchEvent(Api api, std::string_view type, const Json& data, StreamState& state) {
  if (const Json* error = Member(data, "error"); IsError(error)) {
    state.facts.error_type = shapes::ErrorTypeOf(*error, 0);
    state.finished = true;
    return;
  }
  switch (FamilyOf(api)) {
    case Family::kOpenAi:
      return shapes::OnOpenAiStreamEvent(type, data, state);
    case Family::kAnthropic:
      return shapes::OnAnthropicStreamEvent(type, data, state);
    case Family::kGemini:
      return shapes::OnGeminiStreamEvent(data, state);
    case Family::kOllama:
      return shapes::OnOllamaStreamLine(data, state);
  }
}

ResponseFacts FinishedFacts(const StreamState& state) {
  ResponseFacts facts = state.facts;
  facts.stream_incomplete = !state.finished;
  return facts;
}

}  // namespace

// A cut body never parses whole (its object lacks the closing brace), so
// ParseTolerant already reads it member by member: the flag adds nothing.
RequestFacts ParseRequest(Api api, std::string_view body, bool /*body_truncated*/,
                          bool capture_content) {
  RequestFacts facts;
  JsonDocument document;
  const Json& parsed = ParseTolerant(body, document);
  const RequestLayout layout = LayoutOf(api);
  const Json* params = layout.params.empty() ? &parsed : Member(parsed, layout.params);
  if (params == nullptr) params = &parsed;
  facts.model = shapes::TextMember(parsed, "model");
  facts.stream = StreamOf(layout.stream, parsed);
  for (std::string_view key : layout.max_tokens) {
    if (key.empty() || facts.max_tokens) continue;
    if (std::optional<std::uint64_t> limit = shapes::CountMember(*params, key)) {
      facts.max_tokens = static_cast<std::int64_t>(*limit);
    }
  }
  facts.temperature = NumberMember(*params, layout.temperature);
  facts.top_p = NumberMember(*params, layout.top_p);
  if (capture_content) {
    facts.input_messages = RawMemberText(body, {layout.input[0], layout.input[1]});
  }
  return facts;
}

ResponseFacts ParseResponse(Api api, int http_status, std::string_view body, bool capture_content) {
  JsonDocument document;
  const Json& parsed = ParseTolerant(body, document);
  if (api == Api::kGeminiStream && parsed.IsArray()) {
    // streamGenerateContent without ?alt=sse: one JSON array of chunks.
    StreamState state;
    state.capture_content = capture_content;
    for (const Json& chunk : parsed) {
      if (chunk.IsObject()) DispatchEvent(api, "", chunk, state);
    }
    ResponseFacts facts = FinishedFacts(state);
    if (facts.error_type.empty() && http_status >= 400) {
      facts.error_type = std::to_string(http_status);
    }
    return facts;
  }
  ResponseFacts facts;
  switch (FamilyOf(api)) {
    case Family::kOpenAi:
      shapes::ReadOpenAiResponse(parsed, facts);
      break;
    case Family::kAnthropic:
      shapes::ReadAnthropicResponse(parsed, facts);
      break;
    case Family::kGemini:
      shapes::ReadGeminiResponse(parsed, facts);
      break;
    case Family::kOllama:
      shapes::ReadOllamaResponse(parsed, facts);
      break;
  }
  if (const Json* error = Member(parsed, "error"); IsError(error)) {
    facts.error_type = shapes::ErrorTypeOf(*error, http_status);
  } else if (http_status >= 400) {
    facts.error_type = std::to_string(http_status);
  }
  const std::string_view output_key = OutputKeyOf(api);
  if (capture_content && !output_key.empty()) {
    facts.output_messages = RawMemberText(body, {output_key});
  }
  return facts;
}

StreamAccumulator::StreamAccumulator(Api api, bool capture_content) : api_(api) {
  state_.capture_content = capture_content;
}

void StreamAccumulator::OnSseEvent(std::string_view type, std::string_view data) {
  const std::size_t first = data.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return;
  data = data.substr(first, data.find_last_not_of(kSpace) + 1 - first);
  if (data == "[DONE]") {  // OpenAI's end of a chat or completions stream
    state_.finished = true;
    return;
  }
  if (event_.Parse(data) && event_.Root().IsObject()) {
    DispatchEvent(api_, type, event_.Root(), state_);
  }
}

void StreamAccumulator::OnJsonLine(std::string_view line) {
  const std::size_t first = line.find_first_not_of(kSpace);
  if (first != std::string_view::npos && line.substr(first).starts_with("data:")) {
    line.remove_prefix(first + 5);  // an SSE data line handed over as NDJSON
  }
  OnSseEvent("", line);
}

ResponseFacts StreamAccumulator::Finish() const { return FinishedFacts(state_); }

}  // namespace infrared::genai
