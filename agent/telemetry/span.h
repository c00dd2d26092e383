#pragma once

// The agent's span model. It mirrors the OTLP trace data model field for field
// (opentelemetry/proto/trace/v1/trace.proto) so that an OTLP exporter maps it
// 1:1 and the console writer can use the OTLP/JSON field names.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace infrared::telemetry {

using TraceId = std::array<std::uint8_t, 16>;
using SpanId = std::array<std::uint8_t, 8>;

// Same order and meaning as OTLP's Span.SpanKind minus SPAN_KIND_UNSPECIFIED.
enum class SpanKind { kInternal, kServer, kClient, kProducer, kConsumer };

// Same order and meaning as OTLP's Status.StatusCode.
enum class StatusCode { kUnset, kOk, kError };

// OTLP AnyValue restricted to the kinds the agent produces: scalars, and
// arrays of strings (gen_ai.response.finish_reasons).
using StringArray = std::vector<std::string>;
using AttributeValue = std::variant<std::string, std::int64_t, double, bool, StringArray>;

struct Attribute {
  std::string key;
  AttributeValue value;
};

// What produced the spans: service.name, process.pid, host.name, k8s.*...
// Shared by every span of one process, hence held by shared_ptr in Span.
struct Resource {
  std::vector<Attribute> attributes;
};

struct Span {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_span_id{};       // all-zero = root span
  std::uint8_t trace_flags = 1;  // W3C trace-flags; bit 0 = sampled
  std::string trace_state;       // W3C tracestate header value, verbatim
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  std::uint64_t start_unix_ns = 0;
  std::uint64_t end_unix_ns = 0;
  std::vector<Attribute> attributes;
  StatusCode status = StatusCode::kUnset;
  std::string status_message;                // only meaningful with StatusCode::kError
  std::shared_ptr<const Resource> resource;  // may be null: no resource attributes
};

namespace span_detail {

template <std::size_t N>
std::string ToHexBytes(const std::array<std::uint8_t, N>& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * N, '0');
  for (std::size_t i = 0; i < N; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xF];
  }
  return out;
}

template <std::size_t N>
bool IsZeroBytes(const std::array<std::uint8_t, N>& bytes) {
  for (std::uint8_t byte : bytes) {
    if (byte != 0) return false;
  }
  return true;
}

}  // namespace span_detail

// Lowercase hex, 32 characters (the W3C and OTLP/JSON spelling).
inline std::string ToHex(const TraceId& id) { return span_detail::ToHexBytes(id); }
// Lowercase hex, 16 characters.
inline std::string ToHex(const SpanId& id) { return span_detail::ToHexBytes(id); }

// All-zero ids are invalid in W3C and OTLP; a zero parent id marks a root span.
inline bool IsZero(const TraceId& id) { return span_detail::IsZeroBytes(id); }
inline bool IsZero(const SpanId& id) { return span_detail::IsZeroBytes(id); }

}  // namespace infrared::telemetry
