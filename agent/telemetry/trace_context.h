#pragma once

// W3C Trace Context level 1 (https://www.w3.org/TR/trace-context/): the
// traceparent header, and the ids the agent mints for spans it starts.

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "agent/telemetry/span.h"

namespace infrared::telemetry {

struct TraceParent {
  TraceId trace_id{};
  SpanId parent_id{};
  std::uint8_t flags = 0;  // all eight bits as sent; bit 0 = sampled

  friend bool operator==(const TraceParent&, const TraceParent&) = default;
};

// Parses a traceparent header value strictly:
//   version "-" trace-id "-" parent-id "-" trace-flags
// with lowercase hex only. Version 00 must be exactly 55 characters; versions
// 01..fe may be longer provided a '-' follows the flags (the extra fields are
// ignored, as the spec asks); version ff, all-zero trace ids and all-zero
// parent ids are invalid. Optional whitespace (space, tab) around the value is
// trimmed. Returns nullopt for anything else: the caller then starts a new
// trace, it never repairs a header.
std::optional<TraceParent> ParseTraceparent(std::string_view header_value);

// "00-<32 hex>-<16 hex>-<2 hex>", lowercase; always version 00.
std::string FormatTraceparent(const TraceId& trace_id, const SpanId& span_id, std::uint8_t flags);

// Source of fresh trace and span ids.
class IdGenerator {
 public:
  virtual ~IdGenerator() = default;
  // A random trace id; never all-zero.
  virtual TraceId NewTraceId() = 0;
  // A random span id; never all-zero.
  virtual SpanId NewSpanId() = 0;
};

// std::mt19937_64-backed ids. Not thread-safe: each thread that mints ids owns
// its generator (the pipeline is single-threaded). Not cryptographically
// strong, which W3C does not require; ids only need to be unlikely to collide.
class RandomIdGenerator : public IdGenerator {
 public:
  // Seeded with 256 bits from std::random_device.
  RandomIdGenerator();
  // Deterministic sequence, for tests.
  explicit RandomIdGenerator(std::uint64_t seed);

  TraceId NewTraceId() override;
  SpanId NewSpanId() override;

 private:
  std::mt19937_64 engine_;
};

}  // namespace infrared::telemetry
