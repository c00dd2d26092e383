// Streams that are not one clean body: corrupt ones (an error that sticks),
// gzip members and zstd frames one after another, a zstd frame whose size
// does not match, a legacy zstd magic, and both deflate flavours.
#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "agent/genai/body_decoder.h"
#include "tests/unit/genai/body_decoder_fixture.h"

namespace infrared::genai {
namespace {

using namespace ::infrared::genai::decoder_test;  // NOLINT(build/namespaces): the shared fixture

struct CorruptCase {
  const char* name;
  Encoding encoding;
  std::string input;
};

std::string FlipLastByte(std::string data) {
  data.back() = static_cast<char>(data.back() ^ 0x55);
  return data;
}

class CorruptTest : public ::testing::TestWithParam<CorruptCase> {};

TEST_P(CorruptTest, IsAnErrorThatSticks) {
  for (Split split : {Split::kWhole, Split::kByteByByte}) {
    const Decoded decoded = Decode(GetParam().encoding, GetParam().input, kNoCap, split);
    EXPECT_EQ(decoded.feed, Status::kError);
    EXPECT_EQ(decoded.finish, Status::kError);
    EXPECT_FALSE(decoded.truncated);
  }
}

const std::string kHello = "hello, hello, hello";

INSTANTIATE_TEST_SUITE_P(
    Table, CorruptTest,
    ::testing::Values(
        CorruptCase{"gzip_not_gzip", Encoding::kGzip, "not gzip at all"},
        CorruptCase{"gzip_bad_crc", Encoding::kGzip, FlipLastByte(Deflate(kHello, kGzipBits))},
        CorruptCase{"gzip_trailing_junk", Encoding::kGzip, Deflate(kHello, kGzipBits) + "junk!"},
        CorruptCase{"deflate_bad_block_type", Encoding::kDeflate, "\xff\xff\xff"},
        CorruptCase{"zlib_bad_block_type", Encoding::kDeflate, "\x78\x9c\xff\xff"},
        CorruptCase{"zlib_bad_adler", Encoding::kDeflate, FlipLastByte(Deflate(kHello, kZlibBits))},
        CorruptCase{"zlib_trailing_data", Encoding::kDeflate, Deflate(kHello, kZlibBits) + "x"},
        CorruptCase{"raw_trailing_data", Encoding::kDeflate, Deflate(kHello, kRawBits) + "x"},
        CorruptCase{"br_garbage", Encoding::kBrotli, "\xff\xff\xff\xff\xff\xff"},
        CorruptCase{"br_trailing_data", Encoding::kBrotli, Brotli(kHello) + "x"},
        CorruptCase{"zstd_bad_magic", Encoding::kZstd, "not zstd at all"},
        CorruptCase{"zstd_bad_checksum", Encoding::kZstd, FlipLastByte(Zstd(kHello, true))},
        CorruptCase{"zstd_trailing_junk", Encoding::kZstd, Zstd(kHello) + "junk!"},
        // A pre-1.0 frame header (magic 0xFD2FB525), which the library alone might take.
        CorruptCase{"zstd_legacy_frame", Encoding::kZstd, "\x25\xb5\x2f\xfd\x04\x68\x23\x00"}),
    [](const auto& test) { return std::string(test.param.name); });

// Streams that follow one another: gzip members (as `cat a.gz b.gz` makes) and zstd frames.
TEST(BodyDecoderTest, ConcatenatedGzipMembersAndZstdFrames) {
  const std::string first = Payload();
  const std::string second = "the second member";
  const struct {
    Encoding encoding;
    std::string input;
  } cases[] = {
      {Encoding::kGzip,
       Deflate(first, kGzipBits) + Deflate("", kGzipBits) + Deflate(second, kGzipBits)},
      {Encoding::kZstd, Zstd(first) + Zstd("") + Zstd(second, true)},
  };
  for (const auto& c : cases) {
    for (Split split : {Split::kWhole, Split::kByteByByte, Split::kRandom}) {
      const Decoded decoded = Decode(c.encoding, c.input, kNoCap, split);
      EXPECT_TRUE(decoded.output == first + second) << EncodingName(c.encoding);
      EXPECT_EQ(decoded.finish, Status::kOk);
      EXPECT_TRUE(decoded.complete);
    }
    // Cut inside the second stream: the first one's end does not count.
    const Decoded cut = Decode(c.encoding, c.input.substr(0, c.input.size() - 3), kNoCap);
    EXPECT_EQ(cut.finish, Status::kError);
    EXPECT_TRUE(cut.truncated);
  }
}

// zstd checks a frame's declared content size when it decodes the whole frame
// in one call, but not when it streams a frame ending in an empty block: the
// decoder checks it itself, so the split does not decide whether it is an error.
TEST(BodyDecoderTest, ZstdContentSizeIsCheckedWhateverTheSplit) {
  // Declares 5 bytes; a raw block "hello", then an empty last block.
  const std::string honest("\x28\xb5\x2f\xfd\x20\x05\x28\x00\x00hello\x01\x00\x00", 17);
  // Declares 32 bytes but holds two empty blocks; then a frame of 11 RLE bytes
  // (a fuzzer's find: fed in pieces, it used to decode as the second frame alone).
  const std::string short_frame(
      "\x28\xb5\x2f\xfd\x20\x20\x00\x00\x00\x01\x00\x00"
      "\x28\xb5\x2f\xfd\x00\x00\x5b\x00\x00\xa6",
      22);
  // Declares 2 bytes but its last block holds 5.
  const std::string long_frame("\x28\xb5\x2f\xfd\x20\x02\x29\x00\x00hello", 14);
  for (Split split : {Split::kWhole, Split::kByteByByte, Split::kRandom}) {
    const Decoded decoded = Decode(Encoding::kZstd, honest, kNoCap, split);
    EXPECT_EQ(decoded.output, "hello");
    EXPECT_EQ(decoded.finish, Status::kOk);
    EXPECT_TRUE(decoded.complete);
    for (const std::string& lying : {short_frame, long_frame}) {
      const Decoded wrong = Decode(Encoding::kZstd, lying, kNoCap, split);
      EXPECT_EQ(wrong.finish, Status::kError) << kSplitNames[static_cast<int>(split)];
      EXPECT_FALSE(wrong.truncated);
      EXPECT_FALSE(wrong.complete);
      EXPECT_LE(wrong.output.size(), 2u) << "output past the declared size";
    }
  }
}

// A zstd frame's first byte, then a legacy (v0.6) magic number: zstd, fed the
// header in pieces, looked for a legacy frame where the second piece began.
TEST(BodyDecoderTest, ZstdLegacyMagicIsRefusedWhereverTheBodyIsCut) {
  const std::string body("\x28\x26\xb5\x2f\xfd\x00\x00\x00", 8);
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    std::unique_ptr<BodyDecoder> decoder = BodyDecoder::Create(Encoding::kZstd, kNoCap);
    std::string output;
    decoder->Feed(std::string_view(body).substr(0, cut), output);
    decoder->Feed(std::string_view(body).substr(cut), output);
    EXPECT_EQ(decoder->Finish(output), Status::kError) << "cut at " << cut;
    EXPECT_FALSE(decoder->truncated()) << "cut at " << cut;
    EXPECT_EQ(output, "");
  }
}

// Both deflate flavours, with the two bytes that tell them apart fed apart.
TEST(BodyDecoderTest, DeflateIsZlibWrappedOrRaw) {
  const struct {
    const char* name;
    std::string input;
  } cases[] = {
      {"raw empty", std::string("\x03\x00", 2)},
      {"zlib empty", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)},
      {"raw", Deflate(kHello, kRawBits)},
      {"zlib", Deflate(kHello, kZlibBits)},
  };
  for (const auto& c : cases) {
    const std::string expected = c.input.size() > 8 ? kHello : "";
    for (Split split : {Split::kWhole, Split::kByteByByte}) {
      const Decoded decoded = Decode(Encoding::kDeflate, c.input, kNoCap, split);
      EXPECT_EQ(decoded.output, expected) << c.name;
      EXPECT_EQ(decoded.finish, Status::kOk) << c.name;
      EXPECT_TRUE(decoded.complete) << c.name;
    }
  }
}

}  // namespace
}  // namespace infrared::genai
