// Ollama's native API: /api/chat, /api/generate (NDJSON streams unless
// "stream": false) and /api/embed.

#include <string>

#include "agent/genai/extract.h"

namespace infrared::genai::shapes {
namespace {

bool IsTrue(const Json* value) {
  return value != nullptr && value->IsBoolean() && value->Bool();
}

// The answer text a line adds (chat: message.content, generate: response),
// and whether it carried output at all (thinking and tool calls are output).
bool LineOutput(const Json& line, std::string_view& text) {
  const Json* message = Member(line, "message");
  const Json& from = message != nullptr ? *message : line;
  text = message != nullptr ? TextMember(from, "content") : TextMember(line, "response");
  const Json* tool_calls = Member(from, "tool_calls");
  return !text.empty() || !TextMember(from, "thinking").empty() ||
         (tool_calls != nullptr && tool_calls->IsArray() && !tool_calls->Empty());
}

}  // namespace

void ReadOllamaResponse(const Json& body, ResponseFacts& facts) {
  KeepText(facts.model, body, "model");
  AddFinishReason(facts, body, "done_reason");
  Usage reported;
  reported.input_tokens = CountMember(body, "prompt_eval_count");
  reported.output_tokens = CountMember(body, "eval_count");
  MergeUsage(facts.usage, reported);
}

void OnOllamaStreamLine(const Json& line, StreamState& state) {
  std::string_view text;
  if (LineOutput(line, text)) AddOutputChunk(state, text);
  if (IsTrue(Member(line, "done"))) {
    ReadOllamaResponse(line, state.facts);
    state.finished = true;
  } else {
    KeepText(state.facts.model, line, "model");
  }
}

}  // namespace infrared::genai::shapes
