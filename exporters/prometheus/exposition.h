#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/telemetry/metric_family.h"

namespace infrared::prometheus {

enum class ExpositionFormat {
  kText004,        // text/plain; version=0.0.4
  kOpenMetrics100  // application/openmetrics-text; version=1.0.0
};

// Picks the format from an HTTP Accept header: OpenMetrics when the header
// accepts application/openmetrics-text (honouring q-values, q=0 refuses it, and
// a version other than 1.0.0 is not accepted), otherwise text 0.0.4.
ExpositionFormat NegotiateFormat(std::string_view accept_header);

// The Content-Type header value for a format, with charset=utf-8.
std::string ContentType(ExpositionFormat format);

// Renders families. Families that share a name are merged (HELP/TYPE once; the
// first HELP wins). Invalid metric or label names are not rendered (they are
// programming errors upstream) but never crash. Label values are escaped
// (backslash, double quote, newline) and invalid UTF-8 is replaced with U+FFFD,
// so the output is always valid. OpenMetrics output ends with "# EOF\n".
std::string Render(const std::vector<telemetry::MetricFamily>& families, ExpositionFormat format);

// Escapes a label value for both formats and repairs invalid UTF-8.
std::string EscapeLabelValue(std::string_view value);

// Makes a byte string valid UTF-8, replacing each invalid sequence with U+FFFD.
std::string SanitizeUtf8(std::string_view bytes);

}  // namespace infrared::prometheus
