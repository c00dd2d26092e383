#pragma once

// Bodies coded with the real zlib, brotli and zstd encoders, 200 MiB bombs in
// each coding, and a decode loop that checks what must always hold, for
// body_decoder_test.cc and body_decoder_stream_test.cc.

#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "agent/genai/body_decoder.h"

namespace infrared::genai::decoder_test {

using Status = BodyDecoder::Status;

constexpr int kZlibBits = MAX_WBITS;
constexpr int kRawBits = -MAX_WBITS;
constexpr int kGzipBits = MAX_WBITS + 16;

// zlib's deflate in one call; window_bits picks the wrapper (kZlibBits, kRawBits,
// kGzipBits). Z_SYNC_FLUSH leaves the stream open, ending on a byte boundary.
inline std::string Deflate(std::string_view data, int window_bits, int flush = Z_FINISH) {
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

inline std::string Brotli(std::string_view data) {
  std::size_t size = BrotliEncoderMaxCompressedSize(data.size());
  std::string out(size, '\0');
  EXPECT_TRUE(BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, data.size(),
                                    reinterpret_cast<const std::uint8_t*>(data.data()), &size,
                                    reinterpret_cast<std::uint8_t*>(out.data())));
  out.resize(size);
  return out;
}

inline std::string Zstd(std::string_view data, bool checksum = false) {
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

inline std::string Repeat(const std::string& piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

inline std::string LittleEndian32(uLong value) {
  std::string out;
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>(value >> shift));
  return out;
}

// One sync-flushed raw deflate MiB of zeros, repeated (its matches reach back
// only into zeros), wrapped with checksums combined from the one MiB's.
inline std::string DeflateBomb(int window_bits) {
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
inline std::string BrotliBomb() {
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
inline std::string Payload() {
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
inline std::vector<std::size_t> Chunks(Split split, std::size_t total) {
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

inline Decoded Decode(Encoding encoding, std::string_view input, std::size_t cap,
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

}  // namespace infrared::genai::decoder_test
