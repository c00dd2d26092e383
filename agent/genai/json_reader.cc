#include "agent/genai/json_reader.h"

#include <cmath>
#include <cstdlib>
#include <string>

#include "agent/genai/json_parser.h"

namespace infrared::genai {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }

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
