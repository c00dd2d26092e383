#include "exporters/console/span_writer.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <variant>

#include "agent/core/utf8.h"

namespace infrared::console {
namespace {

using telemetry::Attribute;
using telemetry::AttributeValue;
using telemetry::Span;
using telemetry::SpanKind;
using telemetry::StatusCode;

void AppendJsonString(std::string& out, std::string_view raw) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : core::SanitizeUtf8(raw)) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20) {
          out += "\\u00";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xF];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// Shortest text that reads back as the same double, with a fraction or an
// exponent so that a reader sees a double, not an integer (a cost of 0 is 0.0);
// JSON has no NaN or infinities, so those are strings, as in the protobuf JSON
// mapping.
void AppendDouble(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "\"NaN\"";
  } else if (std::isinf(value)) {
    out += value > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    char buffer[32];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
    const std::string_view text(buffer, result.ptr - buffer);
    out += text;
    if (text.find_first_of(".e") == std::string_view::npos) out += ".0";
  }
}

void AppendValue(std::string& out, const AttributeValue& value) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          AppendJsonString(out, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          AppendDouble(out, v);
        } else if constexpr (std::is_same_v<T, telemetry::StringArray>) {
          out += '[';
          for (std::size_t i = 0; i < v.size(); ++i) {
            if (i > 0) out += ',';
            AppendJsonString(out, v[i]);
          }
          out += ']';
        } else {
          out += std::to_string(v);
        }
      },
      value);
}

void AppendAttributes(std::string& out, const std::vector<Attribute>& attributes) {
  out += '{';
  for (std::size_t i = 0; i < attributes.size(); ++i) {
    if (i > 0) out += ',';
    AppendJsonString(out, attributes[i].key);
    out += ':';
    AppendValue(out, attributes[i].value);
  }
  out += '}';
}

std::string_view KindName(SpanKind kind) {
  switch (kind) {
    case SpanKind::kInternal:
      return "SPAN_KIND_INTERNAL";
    case SpanKind::kServer:
      return "SPAN_KIND_SERVER";
    case SpanKind::kClient:
      return "SPAN_KIND_CLIENT";
    case SpanKind::kProducer:
      return "SPAN_KIND_PRODUCER";
    case SpanKind::kConsumer:
      return "SPAN_KIND_CONSUMER";
  }
  return "SPAN_KIND_UNSPECIFIED";
}

std::string_view StatusName(StatusCode code) {
  switch (code) {
    case StatusCode::kUnset:
      return "STATUS_CODE_UNSET";
    case StatusCode::kOk:
      return "STATUS_CODE_OK";
    case StatusCode::kError:
      return "STATUS_CODE_ERROR";
  }
  return "STATUS_CODE_UNSET";
}

// A key, a colon, and a string value, preceded by a comma unless first.
void AppendStringField(std::string& out, std::string_view key, std::string_view value) {
  if (out.size() > 1) out += ',';
  out += '"';
  out += key;
  out += "\":";
  AppendJsonString(out, value);
}

}  // namespace

std::unique_ptr<SpanWriter> SpanWriter::Open(const std::string& target, std::string& error) {
  if (target == "stdout") return std::unique_ptr<SpanWriter>(new SpanWriter(stdout, false));
  std::FILE* file = std::fopen(target.c_str(), "a");
  if (file == nullptr) {
    const std::string reason = std::generic_category().message(errno);
    error = "cannot open span output file \"" + target + "\" for appending: " + reason +
            "; check that its directory exists and is writable, or use \"stdout\".";
    return nullptr;
  }
  return std::unique_ptr<SpanWriter>(new SpanWriter(file, true));
}

SpanWriter::SpanWriter(std::FILE* sink) : SpanWriter(sink, false) {}

SpanWriter::SpanWriter(std::FILE* sink, bool owned) : sink_(sink), owned_(owned) {}

SpanWriter::~SpanWriter() {
  if (owned_) std::fclose(sink_);
}

bool SpanWriter::Write(const Span& span) {
  std::string line = FormatJson(span);
  line += '\n';
  return WriteLines(line);
}

bool SpanWriter::WriteBatch(const std::vector<Span>& spans) {
  if (spans.empty()) return true;
  std::string lines;
  for (const Span& span : spans) {
    lines += FormatJson(span);
    lines += '\n';
  }
  return WriteLines(lines);
}

bool SpanWriter::WriteLines(const std::string& lines) {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::size_t written = std::fwrite(lines.data(), 1, lines.size(), sink_);
  const bool flushed = std::fflush(sink_) == 0;
  return written == lines.size() && flushed;
}

std::string SpanWriter::FormatJson(const Span& span) {
  std::string out = "{";
  AppendStringField(out, "traceId", telemetry::ToHex(span.trace_id));
  AppendStringField(out, "spanId", telemetry::ToHex(span.span_id));
  AppendStringField(out, "parentSpanId",
                    telemetry::IsZero(span.parent_span_id) ? std::string()
                                                           : telemetry::ToHex(span.parent_span_id));
  AppendStringField(out, "traceState", span.trace_state);
  out += ",\"flags\":" + std::to_string(span.trace_flags);
  AppendStringField(out, "name", span.name);
  AppendStringField(out, "kind", KindName(span.kind));
  AppendStringField(out, "startTimeUnixNano", std::to_string(span.start_unix_ns));
  AppendStringField(out, "endTimeUnixNano", std::to_string(span.end_unix_ns));
  out += ",\"attributes\":";
  AppendAttributes(out, span.attributes);
  out += ",\"status\":{\"code\":\"";
  out += StatusName(span.status);
  out += "\",\"message\":";
  AppendJsonString(out, span.status_message);
  out += "},\"resource\":";
  if (span.resource) {
    AppendAttributes(out, span.resource->attributes);
  } else {
    out += "{}";
  }
  out += '}';
  return out;
}

}  // namespace infrared::console
