#include "agent/genai/body_decoder.h"

#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace infrared::genai {
namespace {

using Status = BodyDecoder::Status;

constexpr int kZlibBits = MAX_WBITS;
constexpr int kRawBits = -MAX_WBITS;
constexpr int kGzipBits = MAX_WBITS + 16;

// zlib's deflate in one call; window_bits picks the wrapper (kZlibBits, kRawBits,
// kGzipBits). Z_SYNC_FLUSH leaves the stream open, ending on a byte boundary.
std::string Deflate(std::string_view data, int window_bits, int flush = Z_FINISH) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, data.size()) + 16, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, flush), flush == Z_FINISH ? Z_STREAM_END : Z_OK);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string Brotli(std::string_view data) {
  std::size_t size = BrotliEncoderMaxCompressedSize(data.size());
  std::string out(size, '\0');
  EXPECT_TRUE(BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, data.size(),
                                    reinterpret_cast<const std::uint8_t*>(data.data()), &size,
                                    reinterpret_cast<std::uint8_t*>(out.data())));
  out.resize(size);
  return out;
}

std::string Zstd(std::string_view data, bool checksum = false) {
  ZSTD_CCtx* context = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, checksum ? 1 : 0);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const std::size_t size =
      ZSTD_compress2(context, out.data(), out.size(), data.data(), data.size());
  EXPECT_FALSE(ZSTD_isError(size));
  ZSTD_freeCCtx(context);
  out.resize(size);
  return out;
}

// Bombs: 200 MiB of zeros, built without compressing 200 MiB where the format
// allows it, so that the test's time goes to decoding.
constexpr std::size_t kBombPiece = std::size_t{1} << 20;
constexpr int kBombPieces = 200;

std::string Repeat(const std::string& piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

std::string LittleEndian32(uLong value) {
  std::string out;
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>(value >> shift));
  return out;
}

// One sync-flushed raw deflate MiB of zeros, repeated (its matches reach back
// only into zeros), wrapped with checksums combined from the one MiB's.
std::string DeflateBomb(int window_bits) {
  const std::string zeros(kBombPiece, '\0');
  const std::string body =
      Repeat(Deflate(zeros, kRawBits, Z_SYNC_FLUSH), kBombPieces) + std::string("\x03\x00", 2);
  const auto* data = reinterpret_cast<const Bytef*>(zeros.data());
  const uLong piece_crc = crc32(0, data, static_cast<uInt>(zeros.size()));
  const uLong piece_adler = adler32(1, data, static_cast<uInt>(zeros.size()));
  uLong crc = piece_crc;
  uLong adler = piece_adler;
  for (int i = 1; i < kBombPieces; ++i) {
    crc = crc32_combine(crc, piece_crc, static_cast<z_off_t>(zeros.size()));
    adler = adler32_combine(adler, piece_adler, static_cast<z_off_t>(zeros.size()));
  }
  if (window_bits == kRawBits) return body;
  if (window_bits == kZlibBits) {
    std::string trailer = LittleEndian32(adler);
    return "\x78\xda" + body + std::string(trailer.rbegin(), trailer.rend());
  }
  return std::string("\x1f\x8b\x08\0\0\0\0\0\0\xff", 10) + body + LittleEndian32(crc) +
         LittleEndian32(kBombPiece * kBombPieces);
}

// Brotli streams cannot be joined, so this one compresses all 200 MiB, quickly (quality 1).
std::string BrotliBomb() {
  const std::string zeros(kBombPiece, '\0');
  BrotliEncoderState* state = BrotliEncoderCreateInstance(nullptr, nullptr, nullptr);
  BrotliEncoderSetParameter(state, BROTLI_PARAM_QUALITY, 1);
  std::string out;
  for (int i = 0; i <= kBombPieces; ++i) {
    const BrotliEncoderOperation operation =
        i < kBombPieces ? BROTLI_OPERATION_PROCESS : BROTLI_OPERATION_FINISH;
    std::size_t available_in = i < kBombPieces ? zeros.size() : 0;
    const auto* next_in = reinterpret_cast<const std::uint8_t*>(zeros.data());
    do {
      std::size_t available_out = 0;
      EXPECT_TRUE(BrotliEncoderCompressStream(state, operation, &available_in, &next_in,
                                              &available_out, nullptr, nullptr));
      std::size_t size = 0;
      const std::uint8_t* taken = BrotliEncoderTakeOutput(state, &size);
      out.append(reinterpret_cast<const char*>(taken), size);
    } while (available_in > 0 || BrotliEncoderHasMoreOutput(state) ||
             (operation == BROTLI_OPERATION_FINISH && !BrotliEncoderIsFinished(state)));
  }
  BrotliEncoderDestroyInstance(state);
  return out;
}

// How a test body is coded, and 200 MiB of zeros coded the same way.
struct CodingCase {
  const char* name;
  Encoding encoding;
  std::string (*encode)(std::string_view data);
  std::string (*bomb)();  // null for identity
};

constexpr CodingCase kCodings[] = {
    {"identity", Encoding::kIdentity, [](std::string_view data) { return std::string(data); },
     nullptr},
    {"gzip", Encoding::kGzip, [](std::string_view data) { return Deflate(data, kGzipBits); },
     [] { return DeflateBomb(kGzipBits); }},
    {"deflate_zlib", Encoding::kDeflate,
     [](std::string_view data) { return Deflate(data, kZlibBits); },
     [] { return DeflateBomb(kZlibBits); }},
    {"deflate_raw", Encoding::kDeflate,
     [](std::string_view data) { return Deflate(data, kRawBits); },
     [] { return DeflateBomb(kRawBits); }},
    {"br", Encoding::kBrotli, [](std::string_view data) { return Brotli(data); }, BrotliBomb},
    {"zstd", Encoding::kZstd, [](std::string_view data) { return Zstd(data); },
     [] { return Repeat(Zstd(std::string(kBombPiece, '\0')), kBombPieces); }},
};

// An SSE-like body, about 170 KB: larger than the decoder's 16 KiB steps.
std::string Payload() {
  std::string body;
  for (int i = 0; i < 4000; ++i) {
    body += "data: {\"id\":" + std::to_string(i) + ",\"delta\":\"token " +
            std::to_string(i * 7919 % 1000) + "\"}\n\n";
  }
  return body;
}

enum class Split { kWhole, kByteByByte, kRandom };

constexpr const char* kSplitNames[] = {"whole", "byte_by_byte", "random"};

// Chunk sizes covering `total` bytes; random ones (some empty) from a fixed seed.
std::vector<std::size_t> Chunks(Split split, std::size_t total) {
  if (split == Split::kWhole) return {total};
  std::vector<std::size_t> sizes;
  std::mt19937 random(1234);
  std::uniform_int_distribution<std::size_t> size(0, 3000);
  for (std::size_t at = 0; at < total;) {
    const std::size_t next = split == Split::kByteByByte ? 1 : std::min(size(random), total - at);
    sizes.push_back(next);
    at += next;
  }
  return sizes;
}

struct Decoded {
  std::string output;
  Status feed = Status::kOk;  // the first Feed status that was not kOk
  Status finish = Status::kOk;
  bool complete = false;
  bool truncated = false;
  std::uint64_t consumed = 0;
};

Decoded Decode(Encoding encoding, std::string_view input, std::size_t cap,
               Split split = Split::kWhole) {
  Decoded decoded;
  std::unique_ptr<BodyDecoder> decoder = BodyDecoder::Create(encoding, cap);
  EXPECT_NE(decoder, nullptr);
  if (decoder == nullptr) return decoded;
  std::size_t at = 0;
  std::size_t kept = 0;  // the output when a Feed first said kCapped or kError
  for (std::size_t size : Chunks(split, input.size())) {
    const Status status = decoder->Feed(input.substr(at, size), decoded.output);
    if (decoded.feed == Status::kOk) {
      decoded.feed = status;
      kept = decoded.output.size();
    }
    EXPECT_EQ(status, decoded.feed) << "a status must stick";
    EXPECT_TRUE(decoded.feed == Status::kOk || decoded.output.size() == kept);
    at += size;
  }
  decoded.finish = decoder->Finish(decoded.output);
  EXPECT_TRUE(decoded.feed == Status::kOk || decoded.finish == decoded.feed);
  decoded.complete = decoder->complete();
  decoded.truncated = decoder->truncated();
  decoded.consumed = decoder->consumed();
  EXPECT_EQ(decoder->produced(), decoded.output.size());
  EXPECT_LE(decoded.output.size(), cap);
  return decoded;
}

constexpr std::size_t kNoCap = std::size_t{1} << 40;

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
