// Reading fields of hostile JSON: guarded accessors, and a tolerant reading
// of bodies that are cut or broken. Declared in extract.h (namespace shapes).

#include <algorithm>
#include <utility>
#include <vector>

#include "agent/genai/extract.h"

namespace infrared::genai::shapes {
namespace {

// Error types become labels; a hostile body must not make them long.
constexpr std::size_t kMaxErrorTypeBytes = 128;
// A stream may repeat finish reasons in every chunk; real calls have a few.
constexpr std::size_t kMaxFinishReasons = 16;

constexpr std::string_view kSpace = " \t\r\n";

// One member of the top-level object of a JSON text, as raw text. A body cut
// short leaves its last member incomplete: the value runs to the end.
struct RawMember {
  std::string_view key;  // with its quotes and escapes
  std::string_view value;
  bool complete = false;
};

// The index just past the string opening at text[at], or npos when it is cut.
std::size_t SkipString(std::string_view text, std::size_t at) {
  for (std::size_t i = at + 1; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// Where the value starting at text[at] ends: the ',' or '}' after it at the
// top level, or npos when the text ends first. Strings are skipped whole, so
// a key quoted inside a string value ("say \"model\": ...") is never a key.
std::size_t ValueEnd(std::string_view text, std::size_t at) {
  std::size_t depth = 0;
  for (std::size_t i = at; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      i = SkipString(text, i);
      if (i == std::string_view::npos) return i;
      --i;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) return i;
      --depth;
    } else if (c == ',' && depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

// The top-level members of `text`, an object maybe cut or broken anywhere.
std::vector<RawMember> TopLevelMembers(std::string_view text) {
  std::vector<RawMember> members;
  std::size_t at = text.find_first_not_of(kSpace);
  if (at == std::string_view::npos || text[at] != '{') return members;
  while (true) {
    at = text.find_first_not_of(kSpace, at + 1);  // past '{' or ','
    if (at == std::string_view::npos || text[at] != '"') break;
    const std::size_t key_end = SkipString(text, at);
    if (key_end == std::string_view::npos) break;
    const std::size_t colon = text.find_first_not_of(kSpace, key_end);
    if (colon == std::string_view::npos || text[colon] != ':') break;
    const std::size_t value = text.find_first_not_of(kSpace, colon + 1);
    if (value == std::string_view::npos) break;
    const std::size_t end = ValueEnd(text, value);
    RawMember member{text.substr(at, key_end - at), text.substr(value, end - value),
                     end != std::string_view::npos};
    const std::size_t last = member.value.find_last_not_of(kSpace);
    member.value = member.value.substr(0, last == std::string_view::npos ? 0 : last + 1);
    members.push_back(member);
    if (end == std::string_view::npos || text[end] != ',') break;
    at = end;
  }
  return members;
}

std::optional<std::uint64_t> AsCount(const Json* value) {
  if (value == nullptr) return std::nullopt;
  std::uint64_t count = 0;
  if (value->IsUnsigned()) {
    count = value->Unsigned();
  } else if (value->IsIntegral() && value->Integer() >= 0) {
    count = static_cast<std::uint64_t>(value->Integer());
  } else {
    return std::nullopt;
  }
  if (count > kMaxTokenCount) return std::nullopt;
  return count;
}

// Error types become labels: cut to kMaxErrorTypeBytes.
std::string Bounded(std::string type) {
  if (type.size() > kMaxErrorTypeBytes) type.resize(kMaxErrorTypeBytes);
  return type;
}

}  // namespace

const Json& ParseTolerant(std::string_view body, JsonDocument& document) {
  if (document.Parse(body)) return document.Root();
  document.StartObject();
  for (const RawMember& member : TopLevelMembers(body)) {
    if (member.complete) document.AddMember(member.key, member.value);
  }
  return document.Root();
}

std::string RawMemberText(std::string_view body, std::initializer_list<std::string_view> keys) {
  const std::vector<RawMember> members = TopLevelMembers(body);
  JsonDocument name;
  for (std::string_view key : keys) {
    if (key.empty()) continue;
    for (const RawMember& member : members) {
      if (name.Parse(member.key) && name.Root().IsString() && name.Root().Text() == key) {
        return std::string(member.value);
      }
    }
  }
  return {};
}

const Json* Member(const Json& object, std::string_view key) { return object.Find(key); }

const Json* MemberAt(const Json& object, std::initializer_list<std::string_view> path) {
  const Json* at = &object;
  for (std::string_view key : path) {
    at = Member(*at, key);
    if (at == nullptr) return nullptr;
  }
  return at;
}

std::string_view TextMember(const Json& object, std::string_view key) {
  const Json* value = Member(object, key);
  if (value == nullptr || !value->IsString()) return {};
  return value->Text();
}

void KeepText(std::string& into, const Json& object, std::string_view key) {
  const std::string_view text = TextMember(object, key);
  if (!text.empty()) into = text;
}

std::optional<std::uint64_t> CountMember(const Json& object, std::string_view key) {
  return AsCount(Member(object, key));
}

std::optional<std::uint64_t> CountAt(const Json& object,
                                     std::initializer_list<std::string_view> path) {
  return AsCount(MemberAt(object, path));
}

std::optional<std::uint64_t> Either(std::optional<std::uint64_t> value,
                                    std::optional<std::uint64_t> fallback) {
  return value ? value : fallback;
}

void MergeUsage(Usage& into, const Usage& from) {
  if (from.input_tokens) into.input_tokens = from.input_tokens;
  if (from.output_tokens) into.output_tokens = from.output_tokens;
  if (from.cache_read_tokens) into.cache_read_tokens = from.cache_read_tokens;
  if (from.cache_creation_tokens) into.cache_creation_tokens = from.cache_creation_tokens;
  if (from.reasoning_tokens) into.reasoning_tokens = from.reasoning_tokens;
}

bool IsError(const Json* error) {
  return error != nullptr && ((error->IsObject() && !error->Empty()) || error->IsString());
}

std::string ErrorTypeOf(const Json& error, int http_status) {
  // OpenAI and Anthropic say "type", Gemini (Google RPC) "status"; some
  // OpenAI-compatible servers only give a "code", a string or a number.
  std::string type(TextMember(error, "type"));
  if (type.empty()) type = TextMember(error, "status");
  if (!type.empty()) return Bounded(std::move(type));
  return ErrorTypeOfCode(Member(error, "code"), http_status);
}

std::string ErrorTypeOfCode(const Json* code, int http_status) {
  std::string type;
  if (code != nullptr && code->IsString()) type = code->Text();
  if (type.empty() && code != nullptr && code->IsIntegral()) {
    type = std::to_string(code->Integer());
  }
  if (type.empty()) {
    type = http_status >= 400 ? std::to_string(http_status) : std::string(kOtherErrorType);
  }
  return Bounded(std::move(type));
}

void AddFinishReason(ResponseFacts& facts, const Json& object, std::string_view key) {
  const std::string_view reason = TextMember(object, key);
  if (!reason.empty() && facts.finish_reasons.size() < kMaxFinishReasons) {
    facts.finish_reasons.emplace_back(reason);
  }
}

void AddOutputChunk(StreamState& state, std::string_view text) {
  ++state.content_chunks;
  if (!state.capture_content) return;
  std::string& out = state.facts.output_messages;
  const std::size_t room = kMaxStreamOutputBytes - std::min(out.size(), kMaxStreamOutputBytes);
  out.append(text.substr(0, std::min(room, text.size())));
}

}  // namespace infrared::genai::shapes
