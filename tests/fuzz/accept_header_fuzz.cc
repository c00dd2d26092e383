// Feeds arbitrary Accept headers to the exposition format negotiation, which
// reads what any scraper of the metrics port sends. Whatever the header, the
// answer is one of the two formats; a header that does not name OpenMetrics
// gets the text format; naming OpenMetrics at full weight afterwards always
// wins (ties go to it); and naming text/plain at full weight afterwards never
// turns a text answer into an OpenMetrics one.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "exporters/prometheus/exposition.h"

namespace {

using infrared::prometheus::ExpositionFormat;
using infrared::prometheus::NegotiateFormat;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

bool NamesOpenMetrics(std::string_view header) {
  std::string lower(header);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower.find("application/openmetrics-text") != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string header(reinterpret_cast<const char*>(data), size);
  const ExpositionFormat format = NegotiateFormat(header);
  Check(format == ExpositionFormat::kText004 || format == ExpositionFormat::kOpenMetrics100);
  Check(NegotiateFormat(header) == format);
  if (!NamesOpenMetrics(header)) Check(format == ExpositionFormat::kText004);
  Check(NegotiateFormat(header + ",application/openmetrics-text") ==
        ExpositionFormat::kOpenMetrics100);
  if (format == ExpositionFormat::kText004) {
    Check(NegotiateFormat(header + ",text/plain") == ExpositionFormat::kText004);
  }
  // An empty range (a trailing comma) is no preference at all.
  Check(NegotiateFormat(header + ",") == format);
  Check(!ContentType(format).empty());
  return 0;
}
