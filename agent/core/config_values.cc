#include "agent/core/config_values.h"

#include <algorithm>
#include <charconv>
#include <regex>

#include "agent/core/listen_address.h"
#include "agent/core/text.h"

namespace infrared::core {
namespace {

bool IsDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Digits only: signs, spaces, hex and suffixes are refused rather than guessed at.
bool ParseUint32(std::string_view text, std::uint64_t min, std::uint64_t max, std::uint32_t& out) {
  std::uint64_t value = 0;
  if (!IsDigits(text)) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return false;
  if (value < min || value > max) return false;
  out = static_cast<std::uint32_t>(value);
  return true;
}

// A flag's list value: "a,b" is two elements, "" none at all.
std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> items;
  if (text.empty()) return items;
  for (std::size_t start = 0;;) {
    std::size_t comma = text.find(',', start);
    items.emplace_back(text.substr(start, comma - start));
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

bool AddToList(const KeySpec& spec, std::string_view text, Config& config, std::string& rejected) {
  std::vector<std::string> items = SplitList(text);
  for (const std::string& item : items) {
    if (!spec.element_ok(item)) {
      rejected = item;
      return false;
    }
  }
  std::vector<std::string>& list = config.*spec.list;
  list.insert(list.end(), items.begin(), items.end());
  return true;
}

// SetValue for every kind but kList.
bool SetSingleValue(const KeySpec& spec, std::string_view text, Config& config) {
  std::uint32_t number = 0;
  switch (spec.kind) {
    case ValueKind::kListenAddress:
      if (!ParseListenAddress(text)) return false;
      break;
    case ValueKind::kChoice:
      if (text.empty() ||
          std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
        return false;
      }
      break;
    case ValueKind::kText:
      if (spec.element_ok && !spec.element_ok(text)) return false;
      break;
    // Only the two words: "yes", "on" and "1" are refused rather than guessed at.
    case ValueKind::kBool:
      if (text != "true" && text != "false") return false;
      config.*spec.boolean = text == "true";
      return true;
    case ValueKind::kPowerOfTwo:
    case ValueKind::kInteger:
      if (!ParseUint32(text, spec.min, spec.max, number)) return false;
      if (spec.kind == ValueKind::kPowerOfTwo && (number & (number - 1)) != 0) return false;
      config.*spec.number = number;
      return true;
    case ValueKind::kList:
      return false;
  }
  config.*spec.text = std::string(text);
  return true;
}

// Digits at `at` and on.
std::size_t DigitsAt(std::string_view text, std::size_t at) {
  std::size_t end = at;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  return end - at;
}

// True when `pattern` has a repetition count ("{n}", "{n,m}") or a
// back-reference ("\1") of more than five digits. The standard library reads
// such a number into a long unchecked (undefined past 19 digits: found by
// config_yaml_fuzz, and "a{4444444444444444444444}" then compiled to something
// else), and none that long can compile: a count over 99,999 exceeds its limit
// of 100,000 states.
bool HasOverlongNumber(std::string_view pattern) {
  constexpr std::size_t kMaxDigits = 5;
  bool in_class = false;  // within [...], where a brace is itself
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      if (DigitsAt(pattern, i + 1) > kMaxDigits) return true;
      ++i;  // the escaped character, a brace or bracket included, is itself
    } else if (c == '[') {
      in_class = true;
    } else if (c == ']') {
      in_class = false;
    } else if (c == '{' && !in_class) {
      const std::size_t low = DigitsAt(pattern, i + 1);
      const std::size_t comma = i + 1 + low;
      if (low > kMaxDigits) return true;
      if (comma < pattern.size() && pattern[comma] == ',' &&
          DigitsAt(pattern, comma + 1) > kMaxDigits) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

bool SetValue(const KeySpec& spec, std::string_view text, Config& config, std::string& rejected) {
  if (spec.kind == ValueKind::kList) return AddToList(spec, text, config, rejected);
  if (SetSingleValue(spec, text, config)) return true;
  rejected = std::string(text);
  return false;
}

std::string ShownValue(const KeySpec& spec, const Config& config) {
  std::string shown;
  switch (spec.kind) {
    case ValueKind::kInteger:
    case ValueKind::kPowerOfTwo:
      return std::to_string(config.*spec.number);
    case ValueKind::kBool:
      return config.*spec.boolean ? "true" : "false";
    case ValueKind::kList:
      for (const std::string& item : config.*spec.list) shown += (shown.empty() ? "" : ",") + item;
      break;
    case ValueKind::kListenAddress:
    case ValueKind::kChoice:
    case ValueKind::kText:
      shown = config.*spec.text;
      break;
  }
  return shown.empty() ? "none" : shown;
}

bool IsRouteTemplate(std::string_view text) { return !text.empty() && text[0] == '/'; }

bool IsExecutableName(std::string_view text) {
  return !text.empty() && text.find('/') == std::string_view::npos;
}

bool IsHeaderPair(std::string_view text) {
  std::size_t equals = text.find('=');
  return equals != std::string_view::npos && equals > 0 &&
         text.find_first_of("\r\n") == std::string_view::npos;
}

bool IsRegex(std::string_view text) {
  if (HasOverlongNumber(text)) return false;
  try {
    std::regex compiled{std::string(text)};
    return true;
  } catch (const std::regex_error&) {
    return false;
  }
}

bool IsLabelPair(std::string_view text) {
  std::size_t equals = text.find('=');
  return equals != std::string_view::npos && equals > 0;
}

bool IsNonEmpty(std::string_view text) { return !text.empty(); }

bool IsKubeApi(std::string_view text) { return text == "auto" || text == "off" || IsHttpUrl(text); }

bool IsOptionalHttpUrl(std::string_view text) { return text.empty() || IsHttpUrl(text); }

}  // namespace infrared::core
