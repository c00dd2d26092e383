#include "agent/core/utf8.h"

#include <algorithm>

namespace infrared::core {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[i]);
    if (lead < 0x80) {
      out += bytes[i++];
      continue;
    }
    // Expected continuation count and the allowed range of the first one
    // (Unicode Table 3-7), which excludes overlongs, surrogates and > U+10FFFF.
    int needed = 0;
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      needed = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      needed = 2;
      if (lead == 0xE0) low = 0xA0;
      if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      needed = 3;
      if (lead == 0xF0) low = 0x90;
      if (lead == 0xF4) high = 0x8F;
    }
    std::size_t end = i + 1;
    int seen = 0;
    while (seen < needed && end < bytes.size()) {
      const auto next = static_cast<unsigned char>(bytes[end]);
      if (next < (seen == 0 ? low : 0x80) || next > (seen == 0 ? high : 0xBF)) break;
      ++end;
      ++seen;
    }
    if (needed > 0 && seen == needed) {
      out.append(bytes.substr(i, end - i));
    } else {
      out += kReplacement;
    }
    i = end;
  }
  return out;
}

std::string PrintableLine(std::string_view text) {
  std::string line = SanitizeUtf8(text);
  for (char& c : line) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return line;
}

std::string QuotedExcerpt(std::string_view text, std::size_t max_bytes) {
  std::size_t cut = std::min(text.size(), max_bytes);
  const bool shortened = cut < text.size();
  // Back off over continuation bytes (a character has at most 3) so the cut does
  // not split one.
  for (int back = 0; shortened && back < 3 && cut > 0; ++back) {
    if ((static_cast<unsigned char>(text[cut]) & 0xC0) != 0x80) break;
    --cut;
  }
  return "\"" + PrintableLine(text.substr(0, cut)) + (shortened ? "...\"" : "\"");
}

}  // namespace infrared::core
