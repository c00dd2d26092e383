#include "agent/genai/json_reader.h"

#include <cmath>
#include <cstdlib>
#include <string>

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

namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }

// Unicode's Table 3-7 of well-formed UTF-8 byte sequences: by lead byte, how
// many continuation bytes follow and the range of the first (the others are
// 80..BF), which is what rules out overlongs, surrogates and > U+10FFFF.
struct Utf8Lead {
  unsigned char first, last;  // lead bytes
  std::size_t continuation;
  unsigned char low, high;  // the first continuation byte
};
constexpr Utf8Lead kUtf8Leads[] = {
    {0xC2, 0xDF, 1, 0x80, 0xBF}, {0xE0, 0xE0, 2, 0xA0, 0xBF}, {0xE1, 0xEC, 2, 0x80, 0xBF},
    {0xED, 0xED, 2, 0x80, 0x9F}, {0xEE, 0xEF, 2, 0x80, 0xBF}, {0xF0, 0xF0, 3, 0x90, 0xBF},
    {0xF1, 0xF3, 3, 0x80, 0xBF}, {0xF4, 0xF4, 3, 0x80, 0x8F}};

void AppendUtf8(std::vector<char>& out, std::uint32_t code_point) {
  auto put = [&out](std::uint32_t byte) { out.push_back(static_cast<char>(byte)); };
  if (code_point < 0x80) {
    put(code_point);
  } else if (code_point < 0x800) {
    put(0xC0 | (code_point >> 6));
    put(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    put(0xE0 | (code_point >> 12));
    put(0x80 | ((code_point >> 6) & 0x3F));
    put(0x80 | (code_point & 0x3F));
  } else {
    put(0xF0 | (code_point >> 18));
    put(0x80 | ((code_point >> 12) & 0x3F));
    put(0x80 | ((code_point >> 6) & 0x3F));
    put(0x80 | (code_point & 0x3F));
  }
}

// Digits of a non-negative integer, or false when they do not fit 64 bits
// (strtoull's ERANGE).
bool Accumulate(std::string_view digits, std::uint64_t& value) {
  value = 0;
  for (char c : digits) {
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return false;
    value = value * 10 + digit;
  }
  return true;
}

const JsonValue kNullValue;

}  // namespace

std::int64_t JsonValue::Integer() const {
  return type_ == JsonType::kUnsigned ? static_cast<std::int64_t>(unsigned_) : integer_;
}

double JsonValue::Number() const {
  switch (type_) {
    case JsonType::kUnsigned:
      return static_cast<double>(unsigned_);
    case JsonType::kInteger:
      return static_cast<double>(integer_);
    case JsonType::kFloat:
      return float_;
    default:
      return 0;
  }
}

const JsonValue* JsonValue::Find(std::string_view key) const {
  if (type_ != JsonType::kObject) return nullptr;
  const JsonValue* found = nullptr;
  for (const JsonValue* member = first_; member != nullptr; member = member->next_) {
    if (member->key_ == key) found = member;
  }
  return found;
}

std::uint32_t JsonParser::NewValue(JsonType type) {
  const auto index = static_cast<std::uint32_t>(values_.size());
  values_.emplace_back();
  values_.back().type_ = type;
  if (!frames_.empty()) {
    auto& [container, last_child] = frames_.back();
    if (last_child == JsonValue::kNone) {
      values_[container].first_index_ = index;
    } else {
      values_[last_child].next_index_ = index;
    }
    last_child = index;
    if (values_[container].type_ == JsonType::kObject) {
      JsonValue& member = values_.back();
      member.key_ = pending_key_.view;
      member.key_offset_ = pending_key_.offset;
      member.key_length_ = pending_key_.length;
    }
  }
  return index;
}

bool JsonParser::ParseText() {
  // nlohmann skips a byte order mark at the very start; a partial one is an error.
  if (!AtEnd() && Peek() == 0xEF) {
    if (!text_.starts_with(kBom)) return false;
    at_ = kBom.size();
  }
  SkipSpace();
  if (!ParseValue()) return false;
  SkipSpace();
  // nlohmann's lexer takes a NUL byte where a token may start for the end of
  // the input, so anything after one is ignored.
  return AtEnd() || Peek() == '\0';
}

// A value, and for a container everything up to its end, iteratively.
bool JsonParser::ParseValue() {
  const std::size_t outer = frames_.size();
  while (true) {
    if (AtEnd()) return false;
    switch (Peek()) {
      case '{':
      case '[': {
        const bool object = Peek() == '{';
        ++at_;
        const std::uint32_t index = NewValue(object ? JsonType::kObject : JsonType::kArray);
        frames_.emplace_back(index, JsonValue::kNone);
        SkipSpace();
        if (!AtEnd() && text_[at_] == (object ? '}' : ']')) {
          ++at_;
          frames_.pop_back();
          break;  // an empty container is a complete value
        }
        if (object && !ParseKey()) return false;
        continue;  // its first value
      }
      case '"': {
        const std::uint32_t index = NewValue(JsonType::kString);
        if (!ParseString()) return false;
        values_[index].text_ = last_string_.view;
        values_[index].text_offset_ = last_string_.offset;
        values_[index].text_length_ = last_string_.length;
        break;
      }
      case 't':
        if (!ParseLiteral("true", JsonType::kBoolean, true)) return false;
        break;
      case 'f':
        if (!ParseLiteral("false", JsonType::kBoolean, false)) return false;
        break;
      case 'n':
        if (!ParseLiteral("null", JsonType::kNull, false)) return false;
        break;
      default:
        if (!ParseNumber()) return false;
        break;
    }
    // A value ended: close the containers it completes, or go on to the next.
    while (true) {
      if (frames_.size() == outer) return true;
      SkipSpace();
      if (AtEnd()) return false;
      const bool object = values_[frames_.back().first].type_ == JsonType::kObject;
      const char c = text_[at_++];
      if (c == ',') {
        SkipSpace();
        if (object && !ParseKey()) return false;
        break;
      }
      if (c != (object ? '}' : ']')) return false;
      frames_.pop_back();
    }
  }
}

// "key" : (and the whitespace around), leaving the key for the member's value.
bool JsonParser::ParseKey() {
  if (AtEnd() || text_[at_] != '"' || !ParseString()) return false;
  pending_key_ = last_string_;
  SkipSpace();
  if (!Expect(':')) return false;
  SkipSpace();
  return true;
}

// A string at text_[at_] ('"') into last_string_: viewed in the text when it
// has no escapes, else unescaped onto the end of unescaped_.
bool JsonParser::ParseString() {
  ++at_;
  const std::size_t start = at_;
  // The common case: printable ASCII up to the closing quote.
  while (!AtEnd()) {
    const unsigned char c = Peek();
    if (c == '"') {
      last_string_ = {text_.substr(start, at_ - start)};
      ++at_;
      return true;
    }
    if (c == '\\' || c < 0x20 || c >= 0x80) break;
    ++at_;
  }
  bool escaped = false;
  std::size_t offset = 0;
  std::size_t copied_to = start;  // the text before this is in unescaped_, once escaped
  while (!AtEnd()) {
    const unsigned char c = Peek();
    if (c == '"') {
      if (escaped) {
        unescaped_.insert(unescaped_.end(), text_.begin() + copied_to, text_.begin() + at_);
        last_string_ = {{},
                        static_cast<std::uint32_t>(offset),
                        static_cast<std::uint32_t>(unescaped_.size() - offset)};
      } else {
        last_string_ = {text_.substr(start, at_ - start)};
      }
      ++at_;
      return true;
    }
    if (c < 0x20) return false;
    if (c == '\\') {
      if (!escaped) {
        escaped = true;
        offset = unescaped_.size();
      }
      unescaped_.insert(unescaped_.end(), text_.begin() + copied_to, text_.begin() + at_);
      if (!ParseEscape()) return false;
      copied_to = at_;
    } else if (c >= 0x80) {
      if (!ParseUtf8()) return false;
    } else {
      ++at_;
    }
  }
  return false;  // cut before its closing quote
}

// One escape at text_[at_] ('\\'), its bytes appended to unescaped_.
bool JsonParser::ParseEscape() {
  ++at_;
  if (AtEnd()) return false;
  const char c = text_[at_++];
  char plain = 0;
  switch (c) {
    case '"':
    case '\\':
    case '/':
      plain = c;
      break;
    case 'b':
      plain = '\b';
      break;
    case 'f':
      plain = '\f';
      break;
    case 'n':
      plain = '\n';
      break;
    case 'r':
      plain = '\r';
      break;
    case 't':
      plain = '\t';
      break;
    case 'u': {
      const int first = ParseHex4();
      if (first < 0) return false;
      std::uint32_t code_point = static_cast<std::uint32_t>(first);
      if (code_point >= 0xD800 && code_point <= 0xDBFF) {
        // A high surrogate must be followed by an escaped low one.
        if (!Expect('\\') || !Expect('u')) return false;
        const int second = ParseHex4();
        if (second < 0xDC00 || second > 0xDFFF) return false;
        code_point = 0x10000 + ((code_point - 0xD800) << 10) +
                     (static_cast<std::uint32_t>(second) - 0xDC00);
      } else if (code_point >= 0xDC00 && code_point <= 0xDFFF) {
        return false;
      }
      AppendUtf8(unescaped_, code_point);
      return true;
    }
    default:
      return false;
  }
  unescaped_.push_back(plain);
  return true;
}

int JsonParser::ParseHex4() {
  if (text_.size() - at_ < 4) return -1;
  int value = 0;
  for (int i = 0; i < 4; ++i) {
    const char c = text_[at_++];
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return -1;
    }
    value = value << 4 | digit;
  }
  return value;
}

// A multi-byte UTF-8 character at text_[at_], well-formed as RFC 3629 says
// (no overlong forms, no surrogates, nothing past U+10FFFF).
bool JsonParser::ParseUtf8() {
  const unsigned char lead = Peek();
  for (const Utf8Lead& rule : kUtf8Leads) {
    if (lead < rule.first || lead > rule.last) continue;
    if (text_.size() - at_ <= rule.continuation) return false;
    for (std::size_t i = 1; i <= rule.continuation; ++i) {
      const auto byte = static_cast<unsigned char>(text_[at_ + i]);
      const bool second = i == 1;
      if (byte < (second ? rule.low : 0x80) || byte > (second ? rule.high : 0xBF)) return false;
    }
    at_ += rule.continuation + 1;
    return true;
  }
  return false;  // a continuation byte, or a lead byte no sequence begins with
}

bool JsonParser::ParseLiteral(std::string_view word, JsonType type, bool value) {
  if (!text_.substr(at_).starts_with(word)) return false;
  at_ += word.size();
  values_[NewValue(type)].boolean_ = value;
  return true;
}

// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, read as nlohmann reads it.
bool JsonParser::ParseNumber() {
  const std::size_t start = at_;
  const bool negative = Expect('-');
  if (AtEnd() || !IsDigit(Peek())) return false;
  if (Peek() == '0') {
    ++at_;
  } else {
    while (!AtEnd() && IsDigit(Peek())) ++at_;
  }
  const std::size_t integral_end = at_;
  bool fraction = false;
  auto digits = [this] {
    const std::size_t from = at_;
    while (!AtEnd() && IsDigit(Peek())) ++at_;
    return at_ > from;
  };
  if (Expect('.')) {
    if (!digits()) return false;
    fraction = true;
  }
  if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
    ++at_;
    if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++at_;
    if (!digits()) return false;
    fraction = true;
  }
  JsonValue& value = values_[NewValue(JsonType::kFloat)];
  if (!fraction) {
    std::uint64_t magnitude = 0;
    const std::size_t digits_start = start + (negative ? 1 : 0);
    if (Accumulate(text_.substr(digits_start, integral_end - digits_start), magnitude)) {
      if (!negative) {
        value.type_ = JsonType::kUnsigned;
        value.unsigned_ = magnitude;
        return true;
      }
      if (magnitude <= std::uint64_t{1} << 63) {  // strtoll's range
        value.type_ = JsonType::kInteger;
        value.integer_ = magnitude == std::uint64_t{1} << 63
                             ? INT64_MIN
                             : -static_cast<std::int64_t>(magnitude);
        return true;
      }
    }
  }
  // A fraction, an exponent, or an integer too big: a double, which must be finite.
  const std::string token(text_.substr(start, at_ - start));
  value.float_ = std::strtod(token.c_str(), nullptr);
  return std::isfinite(value.float_);
}

bool JsonDocument::Parse(std::string_view text) {
  values_.clear();
  unescaped_.clear();
  last_member_ = JsonValue::kNone;
  JsonParser parser(text, values_, unescaped_, frames_);
  if (!parser.ParseText()) {
    values_.clear();
    return false;
  }
  Link();
  return true;
}

void JsonDocument::StartObject() {
  values_.clear();
  unescaped_.clear();
  values_.emplace_back();
  values_.back().type_ = JsonType::kObject;
  last_member_ = JsonValue::kNone;
}

bool JsonDocument::AddMember(std::string_view key_text, std::string_view value_text) {
  const std::size_t values_before = values_.size();
  const std::size_t unescaped_before = unescaped_.size();
  auto undo = [&] {
    values_.resize(values_before);
    unescaped_.resize(unescaped_before);
    Link();
    return false;
  };
  JsonParser key_parser(key_text, values_, unescaped_, frames_);
  if (!key_parser.ParseText() || values_[values_before].type_ != JsonType::kString) return undo();
  const JsonValue key = values_[values_before];
  values_.resize(values_before);  // only its text is kept, as the member's key
  const auto index = static_cast<std::uint32_t>(values_.size());
  JsonParser value_parser(value_text, values_, unescaped_, frames_);
  if (!value_parser.ParseText()) return undo();
  JsonValue& member = values_[index];
  member.key_ = key.text_;
  member.key_offset_ = key.text_offset_;
  member.key_length_ = key.text_length_;
  if (last_member_ == JsonValue::kNone) {
    values_[0].first_index_ = index;
  } else {
    values_[last_member_].next_index_ = index;
  }
  last_member_ = index;
  Link();
  return true;
}

const JsonValue& JsonDocument::Root() const { return values_.empty() ? kNullValue : values_[0]; }

// Turns indices and offsets into pointers and views, for every value: the
// vectors may have moved since the last time.
void JsonDocument::Link() {
  auto pointer = [this](std::uint32_t index) -> const JsonValue* {
    return index == JsonValue::kNone ? nullptr : &values_[index];
  };
  auto unescaped = [this](std::uint32_t offset, std::uint32_t length) {
    return std::string_view(unescaped_.data() + offset, length);
  };
  for (JsonValue& value : values_) {
    value.first_ = pointer(value.first_index_);
    value.next_ = pointer(value.next_index_);
    if (value.text_offset_ != JsonValue::kNone) {
      value.text_ = unescaped(value.text_offset_, value.text_length_);
    }
    if (value.key_offset_ != JsonValue::kNone) {
      value.key_ = unescaped(value.key_offset_, value.key_length_);
    }
  }
}

}  // namespace infrared::genai
