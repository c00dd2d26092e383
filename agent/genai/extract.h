#pragma once

// What the bodies of an LLM call say: the request's model and parameters, the
// response's model, finish reasons, token usage and error, for plain JSON
// responses and for streams (SSE events or NDJSON lines). Bodies are hostile:
// cut anywhere, not JSON, or JSON of any shape; nothing here throws or crashes.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "agent/genai/json_reader.h"
#include "agent/genai/types.h"

namespace infrared::genai {

// Token counts above this are taken for garbage and ignored.
inline constexpr std::uint64_t kMaxTokenCount = std::uint64_t{1} << 40;

// A stream keeps at most this much output text when content capture is on.
inline constexpr std::size_t kMaxStreamOutputBytes = 64 * 1024;

// The error type of an error that names none ({"error": "model not found"},
// Ollama's style) in a response whose HTTP status is not an error: OpenTelemetry's
// fallback for error.type. With an error status, the status code is used ("404").
inline constexpr std::string_view kOtherErrorType = "_OTHER";

// The request's facts. A cut (`body_truncated`) or invalid body yields what
// its complete top-level members say (an SDK may put "model" after a long
// "messages"). With `capture_content`, input_messages is the raw JSON text of
// the messages / input / contents / prompt member, cut where the body is.
RequestFacts ParseRequest(Api api, std::string_view body, bool body_truncated,
                          bool capture_content);

// The facts of a whole (non-streamed) JSON response. error_type is set for an
// error body (whatever the status) and for any status >= 400 (the status code
// when the body names no type). With `capture_content`, output_messages is the
// raw JSON text of the choices / output / content / candidates / message member.
ResponseFacts ParseResponse(Api api, int http_status, std::string_view body, bool capture_content);

// The shared state of one stream; the per-provider files update it.
struct StreamState {
  bool capture_content = false;
  ResponseFacts facts;
  // The provider's final event came, or an error event ended the stream.
  bool finished = false;
  std::uint64_t content_chunks = 0;
  // Anthropic reports uncached input apart from cache reads and writes, in
  // more than one event; facts.usage.input_tokens is kept as their sum.
  std::optional<std::uint64_t> uncached_input_tokens;
};

// Folds the events of one streamed response into ResponseFacts. Feed SSE
// events (OpenAI, Anthropic, Gemini ?alt=sse) or NDJSON lines (Ollama); either
// entry point accepts either kind of payload, so a caller that guessed the
// framing wrong still gets what can be read.
class StreamAccumulator {
 public:
  StreamAccumulator(Api api, bool capture_content);

  // One SSE event: its `event:` type (empty when absent) and its data.
  void OnSseEvent(std::string_view type, std::string_view data);
  // One NDJSON line.
  void OnJsonLine(std::string_view line);

  // The facts so far. stream_incomplete is set when neither the final event
  // ([DONE], response.completed, message_stop, a finishReason, done:true) nor
  // an error event came. output_messages is the concatenated output text.
  ResponseFacts Finish() const;

  // How many events/lines carried output (text, reasoning or tool-call deltas).
  std::uint64_t content_chunks() const { return state_.content_chunks; }

 private:
  Api api_;
  StreamState state_;
  JsonDocument event_;  // reused for every event
};

// Internals shared by extract.cc, json_fields.cc and the per-provider
// *_shapes.cc files; not for callers.
namespace shapes {

using Json = JsonValue;

// The body as JSON, parsed into `document`; when it does not parse (cut, or
// broken), an object of those of its top-level members that are complete and
// parse on their own.
const Json& ParseTolerant(std::string_view body, JsonDocument& document);
// The raw text of the first of `keys` (empty ones are skipped) that the
// body's top-level object has, cut where the body is; "" when none.
std::string RawMemberText(std::string_view body, std::initializer_list<std::string_view> keys);

// The member `key` of `object`, or nullptr when `object` is no object or lacks it.
const Json* Member(const Json& object, std::string_view key);
// The member at the end of `path` (nested objects), or nullptr.
const Json* MemberAt(const Json& object, std::initializer_list<std::string_view> path);
// The string member `key` (a view into `object`), or "" when absent or not a string.
std::string_view TextMember(const Json& object, std::string_view key);
// Sets `into` to the string member `key` when that is a non-empty string.
void KeepText(std::string& into, const Json& object, std::string_view key);
// A token count: a non-negative integer no larger than kMaxTokenCount.
std::optional<std::uint64_t> CountMember(const Json& object, std::string_view key);
std::optional<std::uint64_t> CountAt(const Json& object,
                                     std::initializer_list<std::string_view> path);
// `value` when set, else `fallback`.
std::optional<std::uint64_t> Either(std::optional<std::uint64_t> value,
                                    std::optional<std::uint64_t> fallback);
// Overwrites `into` with each count `from` has (a later report wins).
void MergeUsage(Usage& into, const Usage& from);
// True for an "error" member that reports an error (OpenAI sends "error": null).
bool IsError(const Json* error);
// The error type an error member names: its "type", else "status" (Gemini),
// else "code"; else the HTTP status when >= 400, else kOtherErrorType.
std::string ErrorTypeOf(const Json& error, int http_status);
// ErrorTypeOf an error object whose only member is `code` (nullptr: none).
std::string ErrorTypeOfCode(const Json* code, int http_status);
// Appends the string member `key` to finish_reasons when it is a non-empty string.
void AddFinishReason(ResponseFacts& facts, const Json& object, std::string_view key);
// Counts one output-carrying event, keeping `text` when capture is on.
void AddOutputChunk(StreamState& state, std::string_view text);

// Per provider: the facts of a whole JSON response, and one stream event
// (`type` is the SSE event type, maybe empty; `data` is a parsed object
// without an "error" member, which the caller has already handled).
void ReadOpenAiResponse(const Json& body, ResponseFacts& facts);
void OnOpenAiStreamEvent(std::string_view type, const Json& data, StreamState& state);
void ReadAnthropicResponse(const Json& body, ResponseFacts& facts);
void OnAnthropicStreamEvent(std::string_view type, const Json& data, StreamState& state);
void ReadGeminiResponse(const Json& body, ResponseFacts& facts);
void OnGeminiStreamEvent(const Json& data, StreamState& state);
void ReadOllamaResponse(const Json& body, ResponseFacts& facts);
void OnOllamaStreamLine(const Json& line, StreamState& state);

}  // namespace shapes
}  // namespace infrared::genai
