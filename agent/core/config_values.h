#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/config.h"

namespace infrared::core {

// How a setting's text is checked, stored in Config and shown back.
enum class ValueKind { kListenAddress, kChoice, kInteger, kPowerOfTwo, kBool, kText, kList };

// One setting. config_keys.cc's table of these is the only place a key is described,
// so YAML, flags, --help and ConfigKeys() cannot drift apart.
struct KeySpec {
  std::string_view key;          // YAML key, "section.name"
  std::string_view placeholder;  // value name shown by --help
  std::string_view description;
  std::string_view accepted;  // finishes "expected ..." in errors and "Accepts ..." in --help
  ValueKind kind;
  std::string Config::*text = nullptr;               // kListenAddress, kChoice and kText
  std::uint32_t Config::*number = nullptr;           // kInteger and kPowerOfTwo
  bool Config::*boolean = nullptr;                   // kBool
  std::vector<std::string> Config::*list = nullptr;  // kList
  std::uint32_t min = 0;
  std::uint32_t max = 0;
  std::array<std::string_view, 4> choices = {};
  // kList: whether one element is accepted; kText: whether the value is (nullptr: any)
  bool (*element_ok)(std::string_view) = nullptr;
  std::string_view example = {};  // for "needs a value" errors; the default when empty
};

// Checks `text` against `spec` and stores it in `config`. A list's text is
// split at commas and its elements are added to the list ("" adds none). On
// failure returns false, leaves `config` unchanged and sets `rejected` to the
// value or list element that was refused.
bool SetValue(const KeySpec& spec, std::string_view text, Config& config, std::string& rejected);

// The value as --help and ConfigKeys() show it: lists comma-separated, and
// "none" for an empty list or text.
std::string ShownValue(const KeySpec& spec, const Config& config);

// List elements of http.route_patterns: non-empty, starting with '/'.
bool IsRouteTemplate(std::string_view text);

// List elements of capture.executables (names) and select.executables (globs):
// non-empty, without '/'.
bool IsExecutableName(std::string_view text);
// "key=value" with a non-empty key and no line breaks (an HTTP header).
bool IsHeaderPair(std::string_view text);
// An ECMAScript regular expression std::regex accepts.
bool IsRegex(std::string_view text);
// A label selector element: "key=value" with a non-empty key.
bool IsLabelPair(std::string_view text);
// Anything non-empty (container names, id prefixes, namespaces).
bool IsNonEmpty(std::string_view text);
// k8s.api: "auto", "off", or an http:// or https:// URL naming a host (IsHttpUrl).
bool IsKubeApi(std::string_view text);
// otlp.endpoint and otlp.traces_endpoint: empty, or an http:// or https:// URL
// naming a host.
bool IsOptionalHttpUrl(std::string_view text);

}  // namespace infrared::core
