// Anthropic's Messages API, whole and streamed.

#include <optional>
#include <string>

#include "agent/genai/extract.h"

namespace infrared::genai::shapes {
namespace {

// Anthropic's input_tokens leaves out cache reads and writes; the semantic
// conventions count them in. A stream reports the parts in message_start and
// may update them in message_delta, where output_tokens is cumulative: each
// report overwrites, and the input is summed again.
void MergeAnthropicUsage(const Json& usage, std::optional<std::uint64_t>& uncached_input,
                         Usage& into) {
  if (!usage.IsObject()) return;
  if (auto input = CountMember(usage, "input_tokens")) uncached_input = input;
  Usage reported;
  reported.output_tokens = CountMember(usage, "output_tokens");
  reported.cache_read_tokens = CountMember(usage, "cache_read_input_tokens");
  reported.cache_creation_tokens = CountMember(usage, "cache_creation_input_tokens");
  MergeUsage(into, reported);
  if (uncached_input) {
    into.input_tokens = *uncached_input + into.cache_read_tokens.value_or(0) +
                        into.cache_creation_tokens.value_or(0);
  }
}

void MergeUsageOf(const Json& holder, StreamState& state) {
  if (const Json* usage = Member(holder, "usage")) {
    MergeAnthropicUsage(*usage, state.uncached_input_tokens, state.facts.usage);
  }
}

// The text a content_block_delta adds, and whether it carried output at all
// (thinking and tool-input deltas are output too, but not content).
bool DeltaOutput(const Json& delta, std::string_view& text) {
  text = TextMember(delta, "text");
  return !text.empty() || !TextMember(delta, "thinking").empty() ||
         !TextMember(delta, "partial_json").empty();
}

}  // namespace

void ReadAnthropicResponse(const Json& body, ResponseFacts& facts) {
  KeepText(facts.id, body, "id");
  KeepText(facts.model, body, "model");
  AddFinishReason(facts, body, "stop_reason");
  std::optional<std::uint64_t> uncached_input;
  if (const Json* usage = Member(body, "usage")) {
    MergeAnthropicUsage(*usage, uncached_input, facts.usage);
  }
}

void OnAnthropicStreamEvent(std::string_view type, const Json& data, StreamState& state) {
  std::string_view event = TextMember(data, "type");
  if (event.empty()) event = type;
  if (event == "message_start") {
    const Json* message = Member(data, "message");
    if (message == nullptr) return;
    KeepText(state.facts.id, *message, "id");
    KeepText(state.facts.model, *message, "model");
    MergeUsageOf(*message, state);
  } else if (event == "content_block_delta") {
    std::string_view text;
    const Json* delta = Member(data, "delta");
    if (delta != nullptr && DeltaOutput(*delta, text)) AddOutputChunk(state, text);
  } else if (event == "message_delta") {
    if (const Json* delta = Member(data, "delta")) {
      AddFinishReason(state.facts, *delta, "stop_reason");
    }
    MergeUsageOf(data, state);
  } else if (event == "message_stop") {
    state.finished = true;
  }
}

}  // namespace infrared::genai::shapes
