#include "agent/telemetry/trace_context.h"

#include <array>
#include <cstddef>
#include <cstring>

namespace infrared::telemetry {
namespace {

// Offsets in "vv-tttttttttttttttttttttttttttttttt-pppppppppppppppp-ff".
constexpr std::size_t kTraceIdOffset = 3;
constexpr std::size_t kParentIdOffset = 36;
constexpr std::size_t kFlagsOffset = 53;
constexpr std::size_t kVersion00Length = 55;

// Value of one lowercase hex digit, or -1 (uppercase is invalid in traceparent).
int LowerHexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes 2*N lowercase hex digits starting at `text[offset]` into `out`.
template <std::size_t N>
bool DecodeHex(std::string_view text, std::size_t offset, std::array<std::uint8_t, N>& out) {
  for (std::size_t i = 0; i < N; ++i) {
    const int high = LowerHexValue(text[offset + 2 * i]);
    const int low = LowerHexValue(text[offset + 2 * i + 1]);
    if (high < 0 || low < 0) return false;
    out[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return true;
}

std::string_view TrimOws(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

template <std::size_t N>
void FillNonZero(std::mt19937_64& engine, std::array<std::uint8_t, N>& out) {
  do {
    for (std::size_t i = 0; i < N; i += 8) {
      const std::uint64_t word = engine();
      std::memcpy(out.data() + i, &word, N - i < 8 ? N - i : 8);
    }
  } while (span_detail::IsZeroBytes(out));
}

// 256 bits from the device: a single 32-bit draw would give only 2^32
// distinct id sequences across a fleet of agents.
std::mt19937_64 EngineFromRandomDevice() {
  std::random_device device;
  std::seed_seq seeds{device(), device(), device(), device(),
                      device(), device(), device(), device()};
  return std::mt19937_64(seeds);
}

}  // namespace

std::optional<TraceParent> ParseTraceparent(std::string_view header_value) {
  const std::string_view value = TrimOws(header_value);
  if (value.size() < kVersion00Length) return std::nullopt;

  std::array<std::uint8_t, 1> version{};
  if (!DecodeHex(value, 0, version) || version[0] == 0xFF) return std::nullopt;
  if (version[0] == 0x00 && value.size() != kVersion00Length) return std::nullopt;
  // A later version may append fields, but only after another dash.
  if (value.size() > kVersion00Length && value[kVersion00Length] != '-') return std::nullopt;
  if (value[kTraceIdOffset - 1] != '-' || value[kParentIdOffset - 1] != '-' ||
      value[kFlagsOffset - 1] != '-') {
    return std::nullopt;
  }

  TraceParent parsed;
  std::array<std::uint8_t, 1> flags{};
  if (!DecodeHex(value, kTraceIdOffset, parsed.trace_id) ||
      !DecodeHex(value, kParentIdOffset, parsed.parent_id) ||
      !DecodeHex(value, kFlagsOffset, flags)) {
    return std::nullopt;
  }
  if (IsZero(parsed.trace_id) || IsZero(parsed.parent_id)) return std::nullopt;
  parsed.flags = flags[0];
  return parsed;
}

std::string FormatTraceparent(const TraceId& trace_id, const SpanId& span_id, std::uint8_t flags) {
  std::string out;
  out.reserve(kVersion00Length);
  out += "00-";
  out += ToHex(trace_id);
  out += '-';
  out += ToHex(span_id);
  out += '-';
  out += span_detail::ToHexBytes(std::array<std::uint8_t, 1>{flags});
  return out;
}

RandomIdGenerator::RandomIdGenerator() : engine_(EngineFromRandomDevice()) {}

RandomIdGenerator::RandomIdGenerator(std::uint64_t seed) : engine_(seed) {}

TraceId RandomIdGenerator::NewTraceId() {
  TraceId id;
  FillNonZero(engine_, id);
  return id;
}

SpanId RandomIdGenerator::NewSpanId() {
  SpanId id;
  FillNonZero(engine_, id);
  return id;
}

}  // namespace infrared::telemetry
