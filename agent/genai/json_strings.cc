// JSON strings: escapes, \u sequences and surrogate pairs, and raw UTF-8
// checked as RFC 3629 says (JsonParser, json_parser.h).
#include <cstdint>
#include <string_view>
#include <vector>

#include "agent/genai/json_parser.h"

namespace infrared::genai {
namespace {

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

}  // namespace

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

}  // namespace infrared::genai
