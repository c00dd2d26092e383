#include "agent/genai/body_decoder.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>

#include "tests/unit/genai/body_decoder_fixture.h"

namespace infrared::genai {
namespace {

using namespace ::infrared::genai::decoder_test;  // NOLINT(build/namespaces): the shared fixture

class RoundTripTest : public ::testing::TestWithParam<std::tuple<CodingCase, Split>> {};

TEST_P(RoundTripTest, YieldsTheBodyWhateverTheSplit) {
  const auto& [coding, split] = GetParam();
  const std::string payload = Payload();
  const std::string encoded = coding.encode(payload);
  const Decoded decoded = Decode(coding.encoding, encoded, kNoCap, split);
  EXPECT_TRUE(decoded.output == payload);
  EXPECT_EQ(decoded.feed, Status::kOk);
  EXPECT_EQ(decoded.finish, Status::kOk);
  EXPECT_TRUE(decoded.complete);
  EXPECT_FALSE(decoded.truncated);
  EXPECT_EQ(decoded.consumed, encoded.size());
}

INSTANTIATE_TEST_SUITE_P(Codings, RoundTripTest,
                         ::testing::Combine(::testing::ValuesIn(kCodings),
                                            ::testing::Values(Split::kWhole, Split::kByteByByte,
                                                              Split::kRandom)),
                         [](const auto& test) {
                           return std::string(std::get<0>(test.param).name) + "_" +
                                  kSplitNames[static_cast<int>(std::get<1>(test.param))];
                         });

class CodedTest : public ::testing::TestWithParam<CodingCase> {};

// The compressed codings: identity has no end marker to be cut from.
class CompressedTest : public ::testing::TestWithParam<CodingCase> {};

// A cut stream decodes to a prefix without complaint; only Finish says it was cut.
TEST_P(CompressedTest, TruncatedStreamIsAPrefixAndFinishSaysSo) {
  const std::string payload = Payload();
  const std::string encoded = GetParam().encode(payload);
  for (std::size_t cut : {std::size_t{1}, encoded.size() / 2, encoded.size() - 1}) {
    SCOPED_TRACE(cut);
    const Decoded decoded =
        Decode(GetParam().encoding, encoded.substr(0, cut), kNoCap, Split::kRandom);
    EXPECT_EQ(decoded.feed, Status::kOk);
    EXPECT_EQ(payload.compare(0, decoded.output.size(), decoded.output), 0);
    EXPECT_FALSE(decoded.complete);
    EXPECT_EQ(decoded.finish, Status::kError);
    EXPECT_TRUE(decoded.truncated);
  }
}

TEST_P(CodedTest, CapStopsAtExactlyTheCap) {
  const std::string payload = Payload();
  const std::string encoded = GetParam().encode(payload);
  for (Split split : {Split::kWhole, Split::kRandom}) {
    // The body fits exactly: its trailer is still read, so it is complete.
    const Decoded fits = Decode(GetParam().encoding, encoded, payload.size(), split);
    EXPECT_EQ(fits.feed, Status::kOk);
    EXPECT_EQ(fits.finish, Status::kOk);
    EXPECT_TRUE(fits.complete);
    for (std::size_t cap :
         {std::size_t{0}, std::size_t{1}, std::size_t{16385}, payload.size() - 1}) {
      SCOPED_TRACE(cap);
      const Decoded capped = Decode(GetParam().encoding, encoded, cap, split);
      EXPECT_TRUE(capped.output == payload.substr(0, cap));
      EXPECT_EQ(capped.feed, Status::kCapped);
      EXPECT_EQ(capped.finish, Status::kCapped);
      EXPECT_FALSE(capped.complete);
      EXPECT_FALSE(capped.truncated);
    }
  }
}

TEST_P(CodedTest, EmptyBodyIsFine) {
  const Decoded decoded = Decode(GetParam().encoding, "", kNoCap);
  EXPECT_EQ(decoded.finish, Status::kOk);
  EXPECT_EQ(decoded.output, "");
  EXPECT_EQ(decoded.complete, GetParam().encoding == Encoding::kIdentity);
}

TEST_P(CodedTest, FeedAfterFinishIsAnError) {
  std::unique_ptr<BodyDecoder> decoder = BodyDecoder::Create(GetParam().encoding, kNoCap);
  std::string output;
  EXPECT_EQ(decoder->Feed(GetParam().encode("hello"), output), Status::kOk);
  EXPECT_EQ(decoder->Finish(output), Status::kOk);
  EXPECT_EQ(decoder->Finish(output), Status::kOk);
  EXPECT_EQ(decoder->Feed("more", output), Status::kError);
  EXPECT_EQ(output, "hello");
}

INSTANTIATE_TEST_SUITE_P(Codings, CodedTest, ::testing::ValuesIn(kCodings),
                         [](const auto& test) { return std::string(test.param.name); });
INSTANTIATE_TEST_SUITE_P(Codings, CompressedTest,
                         ::testing::Values(kCodings[1], kCodings[2], kCodings[3], kCodings[4],
                                           kCodings[5]),
                         [](const auto& test) { return std::string(test.param.name); });

// 200 MiB of zeros in at most a few hundred KB: decoding stops at the cap
// having read only the input the cap needed, and the rest costs nothing.
class BombTest : public ::testing::TestWithParam<CodingCase> {};

TEST_P(BombTest, CostsNoMoreThanTheCap) {
  constexpr std::size_t kCap = 1 << 20;
  const std::string bomb = GetParam().bomb();
  std::unique_ptr<BodyDecoder> decoder = BodyDecoder::Create(GetParam().encoding, kCap);
  std::string output;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(decoder->Feed(bomb, output), Status::kCapped);
  const std::uint64_t consumed = decoder->consumed();
  EXPECT_EQ(decoder->Feed(bomb, output), Status::kCapped);
  EXPECT_EQ(decoder->Finish(output), Status::kCapped);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(output, std::string(kCap, '\0'));
  EXPECT_EQ(decoder->consumed(), consumed);
  EXPECT_LT(consumed * 4, bomb.size()) << "read more of the bomb than the cap needs";
  RecordProperty("bomb_bytes", std::to_string(bomb.size()));
  RecordProperty("consumed_bytes", std::to_string(consumed));
  RecordProperty(
      "decode_us",
      std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()));
}

INSTANTIATE_TEST_SUITE_P(Codings, BombTest,
                         ::testing::Values(kCodings[1], kCodings[2], kCodings[3], kCodings[4],
                                           kCodings[5]),
                         [](const auto& test) { return std::string(test.param.name); });

TEST(BodyDecoderTest, EncodingNamesParseBack) {
  for (Encoding encoding : {Encoding::kIdentity, Encoding::kGzip, Encoding::kDeflate,
                            Encoding::kBrotli, Encoding::kZstd, Encoding::kUnsupported}) {
    EXPECT_EQ(ParseContentEncoding(EncodingName(encoding)), encoding) << EncodingName(encoding);
  }
}

TEST(BodyDecoderTest, UnsupportedHasNoDecoder) {
  EXPECT_EQ(BodyDecoder::Create(Encoding::kUnsupported, kNoCap), nullptr);
}

struct EncodingCase {
  const char* header;
  Encoding encoding;
};

class ParseContentEncodingTest : public ::testing::TestWithParam<EncodingCase> {};

TEST_P(ParseContentEncodingTest, Parses) {
  EXPECT_EQ(ParseContentEncoding(GetParam().header), GetParam().encoding) << GetParam().header;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseContentEncodingTest,
    ::testing::Values(
        EncodingCase{"", Encoding::kIdentity}, EncodingCase{"  ", Encoding::kIdentity},
        EncodingCase{"identity", Encoding::kIdentity},
        EncodingCase{"IDENTITY", Encoding::kIdentity}, EncodingCase{"gzip", Encoding::kGzip},
        EncodingCase{" GZip\t", Encoding::kGzip}, EncodingCase{"x-gzip", Encoding::kGzip},
        EncodingCase{"deflate", Encoding::kDeflate}, EncodingCase{"Deflate ", Encoding::kDeflate},
        EncodingCase{"br", Encoding::kBrotli}, EncodingCase{"BR", Encoding::kBrotli},
        EncodingCase{"zstd", Encoding::kZstd}, EncodingCase{" ZSTD", Encoding::kZstd},
        EncodingCase{"gzip, br", Encoding::kUnsupported},
        EncodingCase{"gzip,gzip", Encoding::kUnsupported},
        EncodingCase{"compress", Encoding::kUnsupported},
        EncodingCase{"x-compress", Encoding::kUnsupported},
        EncodingCase{"brotli", Encoding::kUnsupported}, EncodingCase{"gz", Encoding::kUnsupported},
        EncodingCase{"g zip", Encoding::kUnsupported}));

}  // namespace
}  // namespace infrared::genai
