#include "agent/telemetry/trace_context.h"

#include <gtest/gtest.h>

#include <optional>
#include <cstring>
#include <set>
#include <unordered_set>
#include <string>

namespace infrared::telemetry {
namespace {

// The example from the W3C Trace Context specification, section 3.2.
constexpr const char* kSpecExample = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TraceId SpecTraceId() {
  return {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
          0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
}

SpanId SpecParentId() { return {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}; }

TEST(ParseTraceparentTest, SpecExampleSampled) {
  const std::optional<TraceParent> parsed = ParseTraceparent(kSpecExample);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->trace_id, SpecTraceId());
  EXPECT_EQ(parsed->parent_id, SpecParentId());
  EXPECT_EQ(parsed->flags, 0x01);
}

TEST(ParseTraceparentTest, SpecExampleNotSampled) {
  const auto parsed = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->flags, 0x00);
}

TEST(ParseTraceparentTest, KeepsUnknownFlagBits) {
  const auto parsed = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->flags, 0xff);
}

TEST(ParseTraceparentTest, TrimsOptionalWhitespace) {
  const auto parsed =
      ParseTraceparent(" \t00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t ");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->trace_id, SpecTraceId());
}

TEST(ParseTraceparentTest, FutureVersionWithExtraFieldsAccepted) {
  const auto parsed = ParseTraceparent(
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->trace_id, SpecTraceId());
  EXPECT_EQ(parsed->parent_id, SpecParentId());
  EXPECT_EQ(parsed->flags, 0x01);
}

TEST(ParseTraceparentTest, FutureVersionOfExactLengthAccepted) {
  EXPECT_TRUE(
      ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").has_value());
}

struct InvalidCase {
  const char* why;
  const char* value;
};

class InvalidTraceparentTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidTraceparentTest, Rejected) {
  EXPECT_FALSE(ParseTraceparent(GetParam().value).has_value()) << GetParam().why;
}

INSTANTIATE_TEST_SUITE_P(
    W3c, InvalidTraceparentTest,
    ::testing::Values(
        InvalidCase{"empty", ""}, InvalidCase{"whitespace only", "  \t "},
        InvalidCase{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        InvalidCase{"uppercase trace id",
                    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"},
        InvalidCase{"uppercase parent id",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"},
        InvalidCase{"uppercase flags", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A"},
        InvalidCase{"uppercase version", "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        InvalidCase{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
        InvalidCase{"zero parent id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"},
        InvalidCase{"version 00 too long",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"},
        InvalidCase{"version 00 trailing dash",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-"},
        InvalidCase{"future version, no dash after flags",
                    "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"},
        InvalidCase{"too short", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"},
        InvalidCase{"short trace id", "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-011"},
        InvalidCase{"non-hex trace id", "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"},
        InvalidCase{"non-hex version", "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        InvalidCase{"underscore separators",
                    "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01"},
        InvalidCase{"space inside", "00-4bf92f3577b34da6a3ce929d0e0e4736 00f067aa0ba902b7-01"},
        InvalidCase{"newline around", "\n00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        InvalidCase{"plus sign in hex",
                    "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}));

TEST(FormatTraceparentTest, SpecExample) {
  EXPECT_EQ(FormatTraceparent(SpecTraceId(), SpecParentId(), 0x01), kSpecExample);
}

TEST(FormatTraceparentTest, RoundTripsThroughParse) {
  RandomIdGenerator ids(42);
  for (int flags = 0; flags < 256; flags += 17) {
    const TraceId trace_id = ids.NewTraceId();
    const SpanId span_id = ids.NewSpanId();
    const std::string header =
        FormatTraceparent(trace_id, span_id, static_cast<std::uint8_t>(flags));
    ASSERT_EQ(header.size(), 55u);
    const auto parsed = ParseTraceparent(header);
    ASSERT_TRUE(parsed.has_value()) << header;
    EXPECT_EQ(parsed->trace_id, trace_id);
    EXPECT_EQ(parsed->parent_id, span_id);
    EXPECT_EQ(parsed->flags, flags);
  }
}

TEST(SpanHexTest, LowercaseFixedWidth) {
  EXPECT_EQ(ToHex(SpecTraceId()), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ToHex(SpecParentId()), "00f067aa0ba902b7");
  EXPECT_EQ(ToHex(SpanId{}), "0000000000000000");
  EXPECT_TRUE(IsZero(SpanId{}));
  EXPECT_TRUE(IsZero(TraceId{}));
  EXPECT_FALSE(IsZero(SpecParentId()));
}

TEST(RandomIdGeneratorTest, SameSeedSameSequence) {
  RandomIdGenerator a(7);
  RandomIdGenerator b(7);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(a.NewTraceId(), b.NewTraceId());
    EXPECT_EQ(a.NewSpanId(), b.NewSpanId());
  }
}

TEST(RandomIdGeneratorTest, DifferentSeedsDiffer) {
  RandomIdGenerator a(1);
  RandomIdGenerator b(2);
  EXPECT_NE(a.NewTraceId(), b.NewTraceId());
}

TEST(RandomIdGeneratorTest, NeverZeroAndDistinct) {
  RandomIdGenerator ids(0);
  std::set<TraceId> trace_ids;
  std::set<SpanId> span_ids;
  for (int i = 0; i < 1000; ++i) {
    const TraceId trace_id = ids.NewTraceId();
    const SpanId span_id = ids.NewSpanId();
    EXPECT_FALSE(IsZero(trace_id));
    EXPECT_FALSE(IsZero(span_id));
    trace_ids.insert(trace_id);
    span_ids.insert(span_id);
  }
  EXPECT_EQ(trace_ids.size(), 1000u);
  EXPECT_EQ(span_ids.size(), 1000u);
}

TEST(RandomIdGeneratorTest, UsableThroughInterface) {
  RandomIdGenerator concrete(3);
  IdGenerator& ids = concrete;
  EXPECT_FALSE(IsZero(ids.NewTraceId()));
  EXPECT_FALSE(IsZero(ids.NewSpanId()));
}

TEST(RandomIdGeneratorTest, DefaultSeededFromRandomDevice) {
  RandomIdGenerator a;
  RandomIdGenerator b;
  EXPECT_NE(a.NewTraceId(), b.NewTraceId());
}

}  // namespace
}  // namespace infrared::telemetry

namespace infrared::telemetry {
namespace {

// Span ids must not collide: a million from one generator are all distinct.
TEST(IdUniquenessTest, AMillionSpanIdsAreDistinct) {
  RandomIdGenerator ids;
  std::unordered_set<std::uint64_t> seen;
  seen.reserve(1'000'000);
  for (int i = 0; i < 1'000'000; ++i) {
    SpanId id = ids.NewSpanId();
    std::uint64_t value = 0;
    std::memcpy(&value, id.data(), sizeof(value));
    ASSERT_TRUE(seen.insert(value).second) << "duplicate span id after " << i;
  }
}

}  // namespace
}  // namespace infrared::telemetry
