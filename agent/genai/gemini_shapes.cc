// Gemini's generateContent / streamGenerateContent / embedContent (Google AI
// and Vertex AI speak the same bodies).

#include <string>

#include "agent/genai/extract.h"

namespace infrared::genai::shapes {
namespace {

// promptTokenCount already includes cachedContentTokenCount; the output is
// the candidates plus the thinking, which Gemini counts apart.
Usage GeminiUsage(const Json& metadata) {
  Usage out;
  out.input_tokens = CountMember(metadata, "promptTokenCount");
  out.cache_read_tokens = CountMember(metadata, "cachedContentTokenCount");
  const std::optional<std::uint64_t> candidates = CountMember(metadata, "candidatesTokenCount");
  const std::optional<std::uint64_t> thoughts = CountMember(metadata, "thoughtsTokenCount");
  if (candidates || thoughts) out.output_tokens = candidates.value_or(0) + thoughts.value_or(0);
  out.reasoning_tokens = thoughts;
  return out;
}

const Json* Candidates(const Json& body) {
  const Json* candidates = Member(body, "candidates");
  return candidates != nullptr && candidates->IsArray() ? candidates : nullptr;
}

// Whether a streamed chunk's candidates carried output, and their answer text
// (parts marked "thought" are output but not the answer).
bool ChunkOutput(const Json& candidates, std::string& text) {
  bool carried = false;
  for (const Json& candidate : candidates) {
    const Json* parts = MemberAt(candidate, {"content", "parts"});
    if (parts == nullptr || !parts->IsArray()) continue;
    for (const Json& part : *parts) {
      const std::string_view part_text = TextMember(part, "text");
      const Json* thought = Member(part, "thought");
      const bool is_thought = thought != nullptr && thought->IsBoolean() && thought->Bool();
      if (!part_text.empty() && !is_thought) text += part_text;
      carried = carried || !part_text.empty() || Member(part, "functionCall") != nullptr;
    }
  }
  return carried;
}

// Whether a chunk says why generation stopped, as the last chunk of a stream does.
bool SaysWhyItStopped(const Json& data) {
  const Json* blocked = MemberAt(data, {"promptFeedback", "blockReason"});
  if (blocked != nullptr && blocked->IsString()) return true;
  if (const Json* candidates = Candidates(data)) {
    for (const Json& candidate : *candidates) {
      if (!TextMember(candidate, "finishReason").empty()) return true;
    }
  }
  return false;
}

}  // namespace

void ReadGeminiResponse(const Json& body, ResponseFacts& facts) {
  KeepText(facts.id, body, "responseId");
  KeepText(facts.model, body, "modelVersion");
  if (const Json* candidates = Candidates(body)) {
    for (const Json& candidate : *candidates) AddFinishReason(facts, candidate, "finishReason");
  }
  // A prompt blocked by safety filters gets no candidates, only this reason.
  if (const Json* feedback = Member(body, "promptFeedback")) {
    AddFinishReason(facts, *feedback, "blockReason");
  }
  const Json* metadata = Member(body, "usageMetadata");
  if (metadata != nullptr && metadata->IsObject()) MergeUsage(facts.usage, GeminiUsage(*metadata));
}

void OnGeminiStreamEvent(const Json& data, StreamState& state) {
  ReadGeminiResponse(data, state.facts);
  if (SaysWhyItStopped(data)) state.finished = true;
  std::string text;
  const Json* candidates = Candidates(data);
  if (candidates != nullptr && ChunkOutput(*candidates, text)) AddOutputChunk(state, text);
}

}  // namespace infrared::genai::shapes
