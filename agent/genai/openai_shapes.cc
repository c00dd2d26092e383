// OpenAI's shapes (Chat Completions, legacy Completions, Responses,
// Embeddings), which most other servers speak too.

#include <string>

#include "agent/genai/extract.h"

namespace infrared::genai::shapes {
namespace {

// Chat Completions says prompt/completion, Responses input/output; the
// embeddings APIs report only the input (prompt_tokens, or just total_tokens).
Usage OpenAiUsage(const Json& usage) {
  Usage out;
  out.output_tokens =
      Either(CountMember(usage, "completion_tokens"), CountMember(usage, "output_tokens"));
  out.input_tokens =
      Either(CountMember(usage, "prompt_tokens"), CountMember(usage, "input_tokens"));
  if (!out.input_tokens && !out.output_tokens) {
    out.input_tokens = CountMember(usage, "total_tokens");
  }
  out.cache_read_tokens = Either(CountAt(usage, {"prompt_tokens_details", "cached_tokens"}),
                                 CountAt(usage, {"input_tokens_details", "cached_tokens"}));
  // DeepSeek reports its context-cache hits apart; they are part of prompt_tokens.
  out.cache_read_tokens =
      Either(out.cache_read_tokens, CountMember(usage, "prompt_cache_hit_tokens"));
  out.reasoning_tokens = Either(CountAt(usage, {"completion_tokens_details", "reasoning_tokens"}),
                                CountAt(usage, {"output_tokens_details", "reasoning_tokens"}));
  return out;
}

void ReadUsage(const Json& body, Usage& into) {
  const Json* usage = Member(body, "usage");
  if (usage != nullptr && usage->IsObject()) MergeUsage(into, OpenAiUsage(*usage));
}

// One choice of a streamed chunk: the text it adds (chat delta.content or
// completions text), and whether it carried output of any kind.
bool ChoiceOutput(const Json& choice, std::string& text) {
  const Json* delta = Member(choice, "delta");
  const Json& from = delta != nullptr ? *delta : choice;
  text += TextMember(from, "content");
  text += TextMember(choice, "text");
  bool carried = !text.empty();
  for (std::string_view key : {"refusal", "reasoning_content", "reasoning"}) {
    carried = carried || !TextMember(from, key).empty();
  }
  const Json* tool_calls = Member(from, "tool_calls");
  return carried || (tool_calls != nullptr && tool_calls->IsArray() && !tool_calls->Empty());
}

void OnChatChunk(const Json& chunk, StreamState& state) {
  KeepText(state.facts.id, chunk, "id");
  KeepText(state.facts.model, chunk, "model");
  const Json* choices = Member(chunk, "choices");
  bool carried = false;
  std::string text;
  if (choices != nullptr && choices->IsArray()) {
    for (const Json& choice : *choices) {
      if (ChoiceOutput(choice, text)) carried = true;
      AddFinishReason(state.facts, choice, "finish_reason");
    }
  }
  if (carried) AddOutputChunk(state, text);
  ReadUsage(chunk, state.facts.usage);
}

// Events of the Responses API, named in the SSE `event:` line and in "type".
void OnResponsesEvent(std::string_view type, const Json& data, StreamState& state) {
  const Json* response = Member(data, "response");
  if (type == "response.created" || type == "response.in_progress") {
    if (response != nullptr) {
      KeepText(state.facts.id, *response, "id");
      KeepText(state.facts.model, *response, "model");
    }
  } else if (type.ends_with(".delta")) {
    // output_text, refusal, reasoning and function-call argument deltas all
    // are output; only the text is content.
    const std::string_view delta = TextMember(data, "delta");
    if (!delta.empty()) {
      AddOutputChunk(state, type == "response.output_text.delta" ? delta : std::string_view{});
    }
  } else if (type == "response.completed" || type == "response.incomplete" ||
             type == "response.failed") {
    if (response != nullptr) ReadOpenAiResponse(*response, state.facts);
    const Json* error = response != nullptr ? Member(*response, "error") : nullptr;
    const Json none;
    if (type == "response.failed") state.facts.error_type = ErrorTypeOf(error ? *error : none, 0);
    state.finished = true;
  } else if (type == "error") {  // {"type":"error","code":"...","message":"..."}
    state.facts.error_type = ErrorTypeOfCode(Member(data, "code"), 0);
    state.finished = true;
  }
}

}  // namespace

void ReadOpenAiResponse(const Json& body, ResponseFacts& facts) {
  KeepText(facts.id, body, "id");
  KeepText(facts.model, body, "model");
  const Json* choices = Member(body, "choices");
  if (choices != nullptr && choices->IsArray()) {
    for (const Json& choice : *choices) AddFinishReason(facts, choice, "finish_reason");
  } else if (const Json* details = Member(body, "incomplete_details");
             details != nullptr && !TextMember(*details, "reason").empty()) {
    AddFinishReason(facts, *details, "reason");  // Responses: why it stopped short
  } else {
    AddFinishReason(facts, body, "status");  // Responses: "completed", "failed", ...
  }
  ReadUsage(body, facts.usage);
}

void OnOpenAiStreamEvent(std::string_view type, const Json& data, StreamState& state) {
  std::string_view event = TextMember(data, "type");
  if (event.empty()) event = type;
  if (event.starts_with("response.") || event == "error") {
    OnResponsesEvent(event, data, state);
  } else {
    OnChatChunk(data, state);
  }
}

}  // namespace infrared::genai::shapes
