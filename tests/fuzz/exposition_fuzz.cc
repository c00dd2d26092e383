// Builds metric families from arbitrary bytes and renders them in both
// exposition formats: label values, help texts and names reach the exposition
// from processes we do not control, so whatever they hold the output must stay
// well-formed UTF-8 that a scraper can split into lines.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "exporters/prometheus/exposition.h"

namespace {

using infrared::prometheus::ExpositionFormat;
using infrared::telemetry::HistogramSample;
using infrared::telemetry::Labels;
using infrared::telemetry::MetricFamily;
using infrared::telemetry::MetricType;
using infrared::telemetry::Sample;

// Well-formed UTF-8 per the Unicode standard (no overlongs, surrogates or
// code points above U+10FFFF).
bool IsValidUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    int length = 0;
    unsigned char min = 0x80, max = 0xBF;
    if (c <= 0x7F) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      min = c == 0xE0 ? 0xA0 : 0x80;
      max = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      min = c == 0xF0 ? 0x90 : 0x80;
      max = c == 0xF4 ? 0x8F : 0xBF;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(length) > text.size()) return false;
    for (int k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + static_cast<std::size_t>(k)]);
      const unsigned char lo = k == 1 ? min : 0x80, hi = k == 1 ? max : 0xBF;
      if (next < lo || next > hi) return false;
    }
    i += static_cast<std::size_t>(length);
  }
  return true;
}

// Every line is a comment or starts with a metric name, and the output ends
// with a newline: an unescaped newline in a label value or help would break this.
bool LinesWellFormed(std::string_view text) {
  if (!text.empty() && text.back() != '\n') return false;
  std::size_t start = 0;
  while (start < text.size()) {
    const char c = text[start];
    const bool ok =
        c == '#' || c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!ok) return false;
    start = text.find('\n', start) + 1;
  }
  return true;
}

std::string Name(FuzzedDataProvider& fdp) {
  static const char* const kNames[] = {"process_cpu_time_seconds", "up", "a:b", "x_bytes",
                                       "process_context_switches"};
  if (fdp.ConsumeBool()) return kNames[fdp.ConsumeIntegralInRange<std::size_t>(0, 4)];
  return fdp.ConsumeRandomLengthString(24);
}

std::string LabelName(FuzzedDataProvider& fdp) {
  static const char* const kNames[] = {"le", "job", "a", "_x", "1bad", ""};
  if (fdp.ConsumeBool()) return kNames[fdp.ConsumeIntegralInRange<std::size_t>(0, 5)];
  return fdp.ConsumeRandomLengthString(12);
}

double Value(FuzzedDataProvider& fdp) {
  static const double kSpecial[] = {0.0,
                                    -0.0,
                                    1.0,
                                    100000.0,
                                    9007199254740992.0,
                                    9007199254740993.0,
                                    -9007199254740992.0,
                                    1e300,
                                    std::numeric_limits<double>::denorm_min(),
                                    std::numeric_limits<double>::infinity(),
                                    -std::numeric_limits<double>::infinity(),
                                    std::numeric_limits<double>::quiet_NaN()};
  if (fdp.ConsumeBool()) return kSpecial[fdp.ConsumeIntegralInRange<std::size_t>(0, 11)];
  return fdp.ConsumeFloatingPoint<double>();
}

Labels MakeLabels(FuzzedDataProvider& fdp) {
  Labels labels;
  const std::size_t count = fdp.ConsumeIntegralInRange<std::size_t>(0, 4);
  for (std::size_t i = 0; i < count; ++i) {
    std::string name = LabelName(fdp);
    labels.push_back({std::move(name), fdp.ConsumeRandomLengthString(32)});
  }
  return labels;
}

MetricFamily MakeFamily(FuzzedDataProvider& fdp) {
  static const char* const kUnits[] = {"", "seconds", "bytes"};
  MetricFamily family;
  family.name = Name(fdp);
  family.help = fdp.ConsumeRandomLengthString(48);
  family.unit = fdp.ConsumeBool() ? kUnits[fdp.ConsumeIntegralInRange<std::size_t>(0, 2)]
                                  : fdp.ConsumeRandomLengthString(8);
  family.type = static_cast<MetricType>(fdp.ConsumeIntegralInRange<int>(0, 2));
  const std::size_t bounds = fdp.ConsumeIntegralInRange<std::size_t>(0, 5);
  for (std::size_t i = 0; i < bounds; ++i) family.bucket_bounds.push_back(Value(fdp));
  const std::size_t samples = fdp.ConsumeIntegralInRange<std::size_t>(0, 4);
  for (std::size_t i = 0; i < samples; ++i) {
    Labels labels = MakeLabels(fdp);
    family.samples.push_back(Sample{std::move(labels), Value(fdp)});
  }
  const std::size_t histograms = fdp.ConsumeIntegralInRange<std::size_t>(0, 3);
  for (std::size_t i = 0; i < histograms; ++i) {
    HistogramSample histogram;
    histogram.labels = MakeLabels(fdp);
    // Mostly the right number of buckets, sometimes not.
    const std::size_t buckets = fdp.ConsumeBool() ? family.bucket_bounds.size() + 1
                                                  : fdp.ConsumeIntegralInRange<std::size_t>(0, 7);
    for (std::size_t b = 0; b < buckets; ++b) {
      histogram.bucket_counts.push_back(fdp.ConsumeIntegral<std::uint64_t>());
    }
    histogram.sum = Value(fdp);
    histogram.count = fdp.ConsumeIntegral<std::uint64_t>();
    family.histograms.push_back(std::move(histogram));
  }
  return family;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using infrared::prometheus::Render;
  using infrared::prometheus::SanitizeUtf8;
  FuzzedDataProvider fdp(data, size);

  const std::string raw = fdp.ConsumeRandomLengthString(256);
  const std::string clean = SanitizeUtf8(raw);
  if (!IsValidUtf8(clean)) __builtin_trap();
  // Valid input passes through untouched, so sanitizing twice changes nothing.
  if (IsValidUtf8(raw) && clean != raw) __builtin_trap();
  if (SanitizeUtf8(clean) != clean) __builtin_trap();

  std::vector<MetricFamily> families;
  const std::size_t count = fdp.ConsumeIntegralInRange<std::size_t>(0, 6);
  for (std::size_t i = 0; i < count && fdp.remaining_bytes() > 0; ++i) {
    families.push_back(MakeFamily(fdp));
  }

  const std::string text = Render(families, ExpositionFormat::kText004);
  if (!IsValidUtf8(text) || !LinesWellFormed(text)) __builtin_trap();

  const std::string openmetrics = Render(families, ExpositionFormat::kOpenMetrics100);
  if (!IsValidUtf8(openmetrics) || !LinesWellFormed(openmetrics)) __builtin_trap();
  constexpr std::string_view kEof = "# EOF\n";
  if (openmetrics.size() < kEof.size() ||
      std::string_view(openmetrics).substr(openmetrics.size() - kEof.size()) != kEof) {
    __builtin_trap();
  }
  return 0;
}
