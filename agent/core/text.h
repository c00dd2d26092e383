#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace infrared::core {

// `text` without leading and trailing spaces, tabs and line breaks.
std::string_view Trim(std::string_view text);

// Percent-decodes `text` (as OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS
// are encoded); nullopt on a malformed escape. '+' is kept, as base64 holds it.
std::optional<std::string> PercentDecode(std::string_view text);

// An http:// or https:// URL (the scheme in any case) naming a host: what
// follows the scheme up to the first '/', '?' or '#' is neither empty nor a
// bare ":port", and nothing in it is a blank or a control character.
bool IsHttpUrl(std::string_view text);

}  // namespace infrared::core
