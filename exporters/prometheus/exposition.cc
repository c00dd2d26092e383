#include "exporters/prometheus/exposition.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "agent/core/utf8.h"

namespace infrared::prometheus {
namespace {

using telemetry::Labels;
using telemetry::MetricFamily;
using telemetry::MetricType;

// Integers up to 2^53 are exact in a double, so printing them as integers loses nothing.
constexpr double kMaxExactInteger = 9007199254740992.0;

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsValidMetricName(std::string_view name) {
  if (name.empty() || !(IsNameStart(name[0]) || name[0] == ':')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsNameStart(c) || IsDigit(c) || c == ':'; });
}

bool IsValidLabelName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return IsNameStart(c) || IsDigit(c); });
}

std::string ShortestDouble(double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

// Sample values: integral values print as plain integers (to_chars alone would
// print 100000 as "1e+05"), everything else in shortest round-trip form.
std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) <= kMaxExactInteger) {
    return std::to_string(static_cast<std::int64_t>(value));
  }
  return ShortestDouble(value);
}

// OpenMetrics wants `le` to be a canonical float ("1.0", not "1"); text 0.0.4
// parses either, so one spelling serves both formats.
std::string FormatBound(double bound) {
  std::string text = FormatValue(bound);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

// HELP escaping: text 0.0.4 escapes backslash and newline; OpenMetrics also
// escapes the double quote.
std::string EscapeHelp(std::string_view help, bool openmetrics) {
  const std::string clean = SanitizeUtf8(help);
  std::string out;
  out.reserve(clean.size());
  for (char c : clean) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && openmetrics) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// Same-named input families, merged. Members of a different type than the
// first cannot be merged into one TYPE and are dropped.
struct FamilyGroup {
  std::vector<const MetricFamily*> members;
  std::size_t series = 0;
};

std::vector<FamilyGroup> GroupByName(const std::vector<MetricFamily>& families) {
  std::vector<FamilyGroup> groups;
  std::unordered_map<std::string_view, std::size_t> index_by_name;
  for (const MetricFamily& family : families) {
    if (!IsValidMetricName(family.name)) continue;
    auto [it, inserted] = index_by_name.try_emplace(family.name, groups.size());
    if (inserted) groups.emplace_back();
    FamilyGroup& group = groups[it->second];
    if (!group.members.empty() && group.members.front()->type != family.type) continue;
    group.members.push_back(&family);
    group.series +=
        family.type == MetricType::kHistogram ? family.histograms.size() : family.samples.size();
  }
  return groups;
}

// `name="value",...` without braces. Invalid and repeated label names are
// dropped; so is `le` on histograms, where it would clash with the bucket label.
// Empty values are left out: Prometheus reads an empty label as an absent one,
// and hosts outside Kubernetes would otherwise carry four empty k8s labels.
std::string FormatLabels(const Labels& labels, bool drop_le) {
  std::string out;
  std::vector<std::string_view> seen;
  for (const auto& label : labels) {
    if (!IsValidLabelName(label.name) || (drop_le && label.name == "le")) continue;
    if (std::find(seen.begin(), seen.end(), label.name) != seen.end()) continue;
    seen.push_back(label.name);
    if (label.value.empty()) continue;
    if (!out.empty()) out += ',';
    out += label.name;
    out += "=\"";
    out += EscapeLabelValue(label.value);
    out += '"';
  }
  return out;
}

void WriteLine(std::string& out, std::string_view name, std::string_view labels,
               std::string_view extra_label, std::string_view value) {
  out += name;
  if (!labels.empty() || !extra_label.empty()) {
    out += '{';
    out += labels;
    if (!labels.empty() && !extra_label.empty()) out += ',';
    out += extra_label;
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

bool HasUsableBounds(const MetricFamily& family) {
  const auto& bounds = family.bucket_bounds;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) return false;
  }
  return true;
}

// Buckets come in non-cumulative and leave cumulative. +Inf and _count are
// both the bucket total, so they always agree as the formats require.
void WriteHistograms(std::string& out, const MetricFamily& family) {
  if (!HasUsableBounds(family)) return;
  const std::string bucket_name = family.name + "_bucket";
  const std::string sum_name = family.name + "_sum";
  const std::string count_name = family.name + "_count";
  for (const auto& histogram : family.histograms) {
    if (histogram.bucket_counts.size() != family.bucket_bounds.size() + 1) continue;
    const std::string labels = FormatLabels(histogram.labels, /*drop_le=*/true);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < family.bucket_bounds.size(); ++i) {
      cumulative += histogram.bucket_counts[i];
      WriteLine(out, bucket_name, labels, "le=\"" + FormatBound(family.bucket_bounds[i]) + "\"",
                std::to_string(cumulative));
    }
    cumulative += histogram.bucket_counts.back();
    const std::string total = std::to_string(cumulative);
    WriteLine(out, bucket_name, labels, "le=\"+Inf\"", total);
    WriteLine(out, sum_name, labels, "", FormatValue(histogram.sum));
    WriteLine(out, count_name, labels, "", total);
  }
}

std::string_view TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

void WriteMetadata(std::string& out, const FamilyGroup& group, bool openmetrics) {
  const MetricFamily& head = *group.members.front();
  std::string_view help;
  std::string_view unit;
  for (const MetricFamily* member : group.members) {
    if (help.empty()) help = member->help;
    if (unit.empty()) unit = member->unit;
  }
  // Text 0.0.4 names a counter family after its samples; OpenMetrics without _total.
  const std::string name =
      head.type == MetricType::kCounter && !openmetrics ? head.name + "_total" : head.name;
  const std::string type_line = "# TYPE " + name + " " + std::string(TypeName(head.type)) + "\n";
  const std::string help_line =
      help.empty() ? "" : "# HELP " + name + " " + EscapeHelp(help, openmetrics) + "\n";
  if (!openmetrics) {
    out += help_line + type_line;
    return;
  }
  out += type_line;
  const std::string unit_suffix = "_" + std::string(unit);
  if (!unit.empty() && head.name.size() > unit_suffix.size() && head.name.ends_with(unit_suffix)) {
    out += "# UNIT " + name + " " + std::string(unit) + "\n";
  }
  out += help_line;
}

void WriteGroup(std::string& out, const FamilyGroup& group, bool openmetrics) {
  WriteMetadata(out, group, openmetrics);
  for (const MetricFamily* member : group.members) {
    if (member->type == MetricType::kHistogram) {
      WriteHistograms(out, *member);
      continue;
    }
    const std::string name =
        member->type == MetricType::kCounter ? member->name + "_total" : member->name;
    for (const auto& sample : member->samples) {
      WriteLine(out, name, FormatLabels(sample.labels, /*drop_le=*/false), "",
                FormatValue(sample.value));
    }
  }
}

std::string_view Trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct MediaRange {
  std::string type;  // lower-cased "type/subtype"
  double q = 1;
  std::optional<std::string> version;
};

// One element of an Accept header, e.g. `text/plain;version=0.0.4;q=0.5`.
// An unparsable q-value counts as 0: a garbled preference is no preference.
MediaRange ParseMediaRange(std::string_view text) {
  MediaRange range;
  std::size_t semicolon = text.find(';');
  range.type = Lower(Trim(text.substr(0, semicolon)));
  while (semicolon != std::string_view::npos) {
    text.remove_prefix(semicolon + 1);
    semicolon = text.find(';');
    const std::string_view param = text.substr(0, semicolon);
    const auto equals = param.find('=');
    if (equals == std::string_view::npos) continue;
    const std::string key = Lower(Trim(param.substr(0, equals)));
    std::string_view value = Trim(param.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (key == "q") {
      const auto result = std::from_chars(value.data(), value.data() + value.size(), range.q);
      if (result.ec != std::errc() || result.ptr != value.data() + value.size()) range.q = 0;
      range.q = std::clamp(range.q, 0.0, 1.0);
    } else if (key == "version") {
      range.version = std::string(value);
    }
  }
  return range;
}

}  // namespace

ExpositionFormat NegotiateFormat(std::string_view accept_header) {
  double openmetrics_q = 0;
  // The q that applies to text/plain comes from its most specific matching range.
  double text_exact = -1, text_any_subtype = -1, any_type = -1;
  while (!accept_header.empty()) {
    const auto comma = accept_header.find(',');
    const MediaRange range = ParseMediaRange(accept_header.substr(0, comma));
    accept_header = comma == std::string_view::npos ? "" : accept_header.substr(comma + 1);
    if (range.type == "application/openmetrics-text") {
      if (!range.version || *range.version == "1.0.0") {
        openmetrics_q = std::max(openmetrics_q, range.q);
      }
    } else if (range.type == "text/plain") {
      text_exact = std::max(text_exact, range.q);
    } else if (range.type == "text/*") {
      text_any_subtype = std::max(text_any_subtype, range.q);
    } else if (range.type == "*/*") {
      any_type = std::max(any_type, range.q);
    }
  }
  const double text_q = text_exact >= 0         ? text_exact
                        : text_any_subtype >= 0 ? text_any_subtype
                                                : std::max(any_type, 0.0);
  // Ties go to OpenMetrics: a client naming it at all is asking for it.
  return openmetrics_q > 0 && openmetrics_q >= text_q ? ExpositionFormat::kOpenMetrics100
                                                      : ExpositionFormat::kText004;
}

std::string ContentType(ExpositionFormat format) {
  switch (format) {
    case ExpositionFormat::kText004:
      return "text/plain; version=0.0.4; charset=utf-8";
    case ExpositionFormat::kOpenMetrics100:
      return "application/openmetrics-text; version=1.0.0; charset=utf-8";
  }
  return "text/plain; version=0.0.4; charset=utf-8";
}

std::string Render(const std::vector<telemetry::MetricFamily>& families, ExpositionFormat format) {
  const bool openmetrics = format == ExpositionFormat::kOpenMetrics100;
  std::string out;
  for (const FamilyGroup& group : GroupByName(families)) {
    // A family without series is only metadata, which linters flag as noise.
    if (group.series == 0) continue;
    WriteGroup(out, group, openmetrics);
  }
  if (openmetrics) out += "# EOF\n";
  return out;
}

std::string EscapeLabelValue(std::string_view value) {
  const std::string clean = SanitizeUtf8(value);
  std::string out;
  out.reserve(clean.size());
  for (char c : clean) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string SanitizeUtf8(std::string_view bytes) { return core::SanitizeUtf8(bytes); }

}  // namespace infrared::prometheus
