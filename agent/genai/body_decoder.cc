#include "agent/genai/body_decoder.h"

#define ZLIB_CONST
#include <brotli/decode.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include "agent/core/text.h"
#include "agent/genai/body_codec.h"
#include "agent/protocols/http1/types.h"

namespace infrared::genai {

namespace {

// Output per codec call: bounds the work done between two looks at the cap.
constexpr std::size_t kStepBytes = 16 * 1024;
// zlib counts input in 32-bit fields, so larger inputs go in several calls.
constexpr std::size_t kMaxZlibInput = std::size_t{1} << 30;
// Stands in for the data of an empty input, which may be null.
constexpr std::uint8_t kNoByte = 0;

class IdentityCodec final : public BodyCodec {
 public:
  CodecStep Run(const std::uint8_t* input, std::size_t input_size, std::uint8_t* out,
                std::size_t room) override {
    const std::size_t size = std::min(input_size, room);
    std::copy_n(input, size, out);
    return {size, size, false};
  }
  bool AtEnd() const override { return false; }
  std::size_t MaxOutput(std::size_t input_size) const override { return input_size; }
};

// A zlib header: method 8, a window of at most 32 KiB, and a check making the
// first two bytes, big-endian, a multiple of 31 (RFC 1950).
bool IsZlibHeader(std::uint8_t first, std::uint8_t second) {
  return (first & 0x0f) == Z_DEFLATED && (first >> 4) <= 7 && ((first << 8) | second) % 31 == 0;
}

// gzip, whose members may follow one another, or deflate. "deflate" means the
// zlib format, but servers also send raw deflate under it, so the first two
// bytes decide which one this is.
class ZlibCodec final : public BodyCodec {
 public:
  static std::unique_ptr<BodyCodec> Create(bool gzip) {
    std::unique_ptr<ZlibCodec> codec(new ZlibCodec(gzip));
    if (inflateInit2(&codec->stream_, gzip ? MAX_WBITS + 16 : MAX_WBITS) != Z_OK) return nullptr;
    codec->initialised_ = true;
    return codec;
  }
  ~ZlibCodec() override {
    if (initialised_) inflateEnd(&stream_);
  }
  ZlibCodec(const ZlibCodec&) = delete;
  ZlibCodec& operator=(const ZlibCodec&) = delete;

  CodecStep Run(const std::uint8_t* input, std::size_t input_size, std::uint8_t* out,
                std::size_t room) override {
    if (at_end_) {
      if (input_size == 0) return {};
      if (!gzip_ || inflateReset(&stream_) != Z_OK) return {0, 0, true};
      at_end_ = false;
    }
    if (!wrapper_known_) {
      if (input_size == 0) return {};
      if (!held_ && input_size == 1) {
        held_ = input[0];
        return {1, 0, false};
      }
      wrapper_known_ = true;
      const bool zlib = held_ ? IsZlibHeader(*held_, input[0]) : IsZlibHeader(input[0], input[1]);
      if (!zlib && inflateReset2(&stream_, -MAX_WBITS) != Z_OK) return {0, 0, true};
    }
    if (!held_) return Inflate(input, input_size, out, room);
    // One header byte never yields output, so zlib takes the held byte whole.
    const std::uint8_t held = *held_;
    held_.reset();
    const CodecStep first = Inflate(&held, 1, out, room);
    if (first.error || first.consumed != 1 || first.produced != 0) return {0, 0, true};
    return Inflate(input, input_size, out, room);
  }
  bool AtEnd() const override { return at_end_; }

 private:
  explicit ZlibCodec(bool gzip) : gzip_(gzip), wrapper_known_(gzip) {}

  CodecStep Inflate(const std::uint8_t* input, std::size_t input_size, std::uint8_t* out,
                    std::size_t room) {
    const std::size_t offered = std::min(input_size, kMaxZlibInput);
    stream_.next_in = input;
    stream_.avail_in = static_cast<uInt>(offered);
    stream_.next_out = out;
    stream_.avail_out = static_cast<uInt>(room);
    const int result = inflate(&stream_, Z_NO_FLUSH);
    CodecStep step{offered - stream_.avail_in, room - stream_.avail_out, false};
    if (result == Z_STREAM_END) {
      at_end_ = true;
    } else if (result != Z_OK && result != Z_BUF_ERROR) {
      step.error = true;  // corrupt data, or a preset dictionary no server uses
    }
    return step;
  }

  z_stream stream_{};
  bool initialised_ = false;
  const bool gzip_;
  bool wrapper_known_;
  bool at_end_ = false;
  // Deflate's first byte, when it arrived alone and the wrapper is still unknown.
  std::optional<std::uint8_t> held_;
};

class BrotliCodec final : public BodyCodec {
 public:
  static std::unique_ptr<BodyCodec> Create() {
    BrotliDecoderState* state = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
    if (state == nullptr) return nullptr;
    return std::unique_ptr<BodyCodec>(new BrotliCodec(state));
  }
  ~BrotliCodec() override { BrotliDecoderDestroyInstance(state_); }
  BrotliCodec(const BrotliCodec&) = delete;
  BrotliCodec& operator=(const BrotliCodec&) = delete;

  CodecStep Run(const std::uint8_t* input, std::size_t input_size, std::uint8_t* out,
                std::size_t room) override {
    if (at_end_) return {0, 0, input_size > 0};  // brotli has no second stream
    std::size_t available_in = input_size;
    std::size_t available_out = room;
    const BrotliDecoderResult result =
        BrotliDecoderDecompressStream(state_, &available_in, &input, &available_out, &out, nullptr);
    CodecStep step{input_size - available_in, room - available_out,
                   result == BROTLI_DECODER_RESULT_ERROR};
    if (result == BROTLI_DECODER_RESULT_SUCCESS) {
      at_end_ = true;
      step.error = available_in > 0;
    }
    return step;
  }
  bool AtEnd() const override { return at_end_; }

 private:
  explicit BrotliCodec(BrotliDecoderState* state) : state_(state) {}

  BrotliDecoderState* state_;
  bool at_end_ = false;
};

// Content-Encoding names, each coding's canonical one first.
struct CodingName {
  const char* name;
  Encoding encoding;
};
constexpr CodingName kCodingNames[] = {
    {"identity", Encoding::kIdentity}, {"", Encoding::kIdentity},       {"gzip", Encoding::kGzip},
    {"x-gzip", Encoding::kGzip},       {"deflate", Encoding::kDeflate}, {"br", Encoding::kBrotli},
    {"zstd", Encoding::kZstd},
};

std::unique_ptr<BodyCodec> MakeCodec(Encoding encoding) {
  switch (encoding) {
    case Encoding::kIdentity:
      return std::make_unique<IdentityCodec>();
    case Encoding::kGzip:
      return ZlibCodec::Create(/*gzip=*/true);
    case Encoding::kDeflate:
      return ZlibCodec::Create(/*gzip=*/false);
    case Encoding::kBrotli:
      return BrotliCodec::Create();
    case Encoding::kZstd:
      return MakeZstdCodec();
    case Encoding::kUnsupported:
      break;
  }
  return nullptr;
}

}  // namespace

Encoding ParseContentEncoding(std::string_view header_value) {
  const std::string_view value = core::Trim(header_value);
  for (const CodingName& name : kCodingNames) {
    if (protocols::http1::EqualsIgnoreCase(value, name.name)) return name.encoding;
  }
  return Encoding::kUnsupported;  // another coding, or a list of them
}

const char* EncodingName(Encoding encoding) {
  for (const CodingName& name : kCodingNames) {
    if (name.encoding == encoding) return name.name;
  }
  return "unsupported";
}

std::unique_ptr<BodyDecoder> BodyDecoder::Create(Encoding encoding, std::size_t max_output_bytes) {
  std::unique_ptr<BodyCodec> codec = MakeCodec(encoding);
  if (codec == nullptr) return nullptr;
  return std::unique_ptr<BodyDecoder>(
      new BodyDecoder(std::move(codec), max_output_bytes, encoding != Encoding::kIdentity));
}

BodyDecoder::BodyDecoder(std::unique_ptr<BodyCodec> codec, std::size_t max_output_bytes,
                         bool has_end_marker)
    : codec_(std::move(codec)),
      max_output_bytes_(max_output_bytes),
      has_end_marker_(has_end_marker) {}

BodyDecoder::~BodyDecoder() = default;

BodyDecoder::Status BodyDecoder::Feed(std::string_view input, std::string& output) {
  if (finished_) return Status::kError;
  if (status_ != Status::kOk) return status_;
  const std::uint8_t* next =
      input.empty() ? &kNoByte : reinterpret_cast<const std::uint8_t*>(input.data());
  std::size_t left = input.size();
  while (true) {
    const std::size_t cap_room = std::min<std::uint64_t>(kStepBytes, max_output_bytes_ - produced_);
    if (cap_room == 0) return ProbePastCap(next, left);
    // At least one byte, so that an input-bounded codec still shows it has no more.
    const std::size_t room = std::min(cap_room, std::max<std::size_t>(1, codec_->MaxOutput(left)));
    // Decode straight into the caller's string; the unused tail is cut off after.
    const std::size_t old_size = output.size();
    output.resize(old_size + room);
    const CodecStep step =
        codec_->Run(next, left, reinterpret_cast<std::uint8_t*>(output.data() + old_size), room);
    output.resize(old_size + step.produced);
    next += step.consumed;
    left -= step.consumed;
    consumed_ += step.consumed;
    produced_ += step.produced;
    complete_ = codec_->AtEnd();
    if (step.error) return Stop(Status::kError);
    // Room to spare once the input is gone: the codec holds nothing more.
    if (left == 0 && step.produced < room) return Status::kOk;
    // Neither side moved: a stalled codec must not spin forever.
    if (step.consumed == 0 && step.produced == 0) return Stop(Status::kError);
  }
}

BodyDecoder::Status BodyDecoder::ProbePastCap(const std::uint8_t*& next, std::size_t& left) {
  while (true) {
    std::uint8_t scratch = 0;
    const CodecStep step = codec_->Run(next, left, &scratch, 1);
    next += step.consumed;
    left -= step.consumed;
    consumed_ += step.consumed;
    complete_ = codec_->AtEnd() && step.produced == 0;
    if (step.produced > 0) return Stop(Status::kCapped);
    if (step.error) return Stop(Status::kError);
    if (left == 0) return Status::kOk;  // only a trailer so far: the next Feed looks again
    if (step.consumed == 0) return Stop(Status::kError);
  }
}

BodyDecoder::Status BodyDecoder::Finish(std::string& /*output*/) {
  if (finished_) return status_;
  finished_ = true;
  if (status_ != Status::kOk) return status_;
  if (!has_end_marker_) {
    complete_ = true;  // identity ends where the HTTP framing says it does
  } else if (!complete_ && consumed_ > 0) {
    truncated_ = true;
    return Stop(Status::kError);
  }
  codec_.reset();
  return Status::kOk;
}

BodyDecoder::Status BodyDecoder::Stop(Status status) {
  status_ = status;
  codec_.reset();  // a codec's state can be large: free it as soon as it is done with
  return status;
}

}  // namespace infrared::genai
