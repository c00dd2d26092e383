// The parser behind JsonDocument (json_reader.h), for json_reader.cc (values,
// containers, numbers, literals) and json_strings.cc (strings, escapes, UTF-8).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/genai/json_reader.h"

namespace infrared::genai {

// One text into a document's values: a value, whitespace around it, nothing
// else. Iterative, so that deep nesting costs memory, not stack.
class JsonParser {
 public:
  using Frames = std::vector<std::pair<std::uint32_t, std::uint32_t>>;  // container, last child

  JsonParser(std::string_view text, std::vector<JsonValue>& values, std::vector<char>& unescaped,
             Frames& frames)
      : text_(text), values_(values), unescaped_(unescaped), frames_(frames) {
    frames_.clear();
  }

  // Appends the text's values; false when it is not one JSON value (what was
  // appended is then the caller's to drop).
  bool ParseText();

 private:
  // A string read: its view into the text, or where its unescaped bytes are.
  struct StringRef {
    std::string_view view;
    std::uint32_t offset = JsonValue::kNone;
    std::uint32_t length = 0;
  };

  bool AtEnd() const { return at_ >= text_.size(); }
  unsigned char Peek() const { return static_cast<unsigned char>(text_[at_]); }
  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
      ++at_;
    }
  }
  bool Expect(char c) {
    if (AtEnd() || text_[at_] != c) return false;
    ++at_;
    return true;
  }
  std::uint32_t NewValue(JsonType type);
  bool ParseValue();
  bool ParseKey();
  bool ParseString();
  bool ParseEscape();
  bool ParseUtf8();
  int ParseHex4();
  bool ParseLiteral(std::string_view word, JsonType type, bool value);
  bool ParseNumber();

  std::string_view text_;
  std::size_t at_ = 0;
  std::vector<JsonValue>& values_;
  std::vector<char>& unescaped_;
  Frames& frames_;
  StringRef pending_key_;
  StringRef last_string_;
};

}  // namespace infrared::genai
