// zstd for BodyDecoder: frames read the same way however the body is cut
// (see the comments below on what the library does differently otherwise).
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>

#include "agent/genai/body_codec.h"

namespace infrared::genai {
namespace {

// RFC 9659 limits an HTTP zstd window to 8 MiB; a frame claiming a larger one
// would otherwise make the decoder allocate it.
constexpr int kZstdWindowLogMax = 23;
// The longest zstd frame header (RFC 8878: magic, descriptor, window, dictionary
// id and content size); zstd.h names it only in its unstable part.
constexpr std::size_t kZstdFrameHeaderMax = 18;

// zstd, whose frames may follow one another (the library starts the next one).
class ZstdCodec final : public BodyCodec {
 public:
  static std::unique_ptr<BodyCodec> Create() {
    ZSTD_DCtx* context = ZSTD_createDCtx();
    if (context == nullptr) return nullptr;
    std::unique_ptr<BodyCodec> codec(new ZstdCodec(context));
    if (ZSTD_isError(ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, kZstdWindowLogMax))) {
      return nullptr;
    }
    return codec;
  }
  ~ZstdCodec() override { ZSTD_freeDCtx(context_); }
  ZstdCodec(const ZstdCodec&) = delete;
  ZstdCodec& operator=(const ZstdCodec&) = delete;

  CodecStep Run(const std::uint8_t* input, std::size_t input_size, std::uint8_t* out,
                std::size_t room) override {
    if ((!started_ || at_end_) && input_size > 0) StartFrame();
    if (started_ && header_size_ < HeaderSize()) return ReadHeader(input, input_size, out, room);
    return Decode(input, input_size, out, room);
  }
  bool AtEnd() const override { return at_end_; }

 private:
  explicit ZstdCodec(ZSTD_DCtx* context) : context_(context) {}

  void StartFrame() {
    started_ = true;
    at_end_ = false;
    header_size_ = 0;
    content_size_ = 0;
    frame_output_ = 0;
  }

  // The library gets each frame's header whole, from a call of its own, after
  // its magic number has been checked here. Fed a header in pieces, it would
  // look for a pre-1.0 "legacy" frame (whose old decoders should not be
  // reachable from hostile bodies) at the start of the piece that made the
  // header bad; and fed a whole frame in one call, it would decode it in one
  // pass, with checks of its own. Either way the split of the body would decide
  // how it is read.
  CodecStep ReadHeader(const std::uint8_t* input, std::size_t input_size, std::uint8_t* out,
                       std::size_t room) {
    std::size_t taken = 0;
    while (header_size_ < HeaderSize()) {
      if (!IsMagicSoFar()) return {taken, 0, true};
      if (taken == input_size) return {taken, 0, false};
      const std::size_t take = std::min(input_size - taken, HeaderSize() - header_size_);
      std::copy_n(input + taken, take, header_.data() + header_size_);
      header_size_ += take;
      taken += take;
    }
    if (!IsMagicSoFar()) return {taken, 0, true};
    const CodecStep step = Decode(header_.data(), header_size_, out, room);
    // The call sees the frame's header alone, so it takes it whole and yields nothing.
    if (step.error || step.consumed != header_size_ || step.produced != 0) return {taken, 0, true};
    content_size_ = ZSTD_getFrameContentSize(header_.data(), header_size_);  // skippable: 0
    return {taken, 0, content_size_ == ZSTD_CONTENTSIZE_ERROR};
  }

  CodecStep Decode(const std::uint8_t* input, std::size_t input_size, std::uint8_t* out,
                   std::size_t room) {
    ZSTD_inBuffer in{input, input_size, 0};
    ZSTD_outBuffer decoded{out, room, 0};
    const std::size_t hint = ZSTD_decompressStream(context_, &decoded, &in);
    if (ZSTD_isError(hint)) return {in.pos, decoded.pos, true};
    // A call that moved nothing says nothing about where the stream stands.
    if (in.pos > 0 || decoded.pos > 0) at_end_ = hint == 0;
    frame_output_ += decoded.pos;
    if (HasSizeItDeclared()) return {in.pos, decoded.pos, false};
    at_end_ = false;  // a frame that lied about its size did not end well
    return {in.pos, decoded.pos, true};
  }

  // The library, streaming, does not check a frame's declared content size
  // when its last block is empty (zstd 1.5.4). False when the frame has
  // yielded more than it declared, or ended short of it.
  bool HasSizeItDeclared() const {
    if (header_size_ < HeaderSize() || content_size_ == ZSTD_CONTENTSIZE_UNKNOWN) return true;
    return at_end_ ? frame_output_ == content_size_ : frame_output_ <= content_size_;
  }

  // The current frame header's length (RFC 8878, 3.1.1.1), as far as the bytes
  // held so far tell it: a frame's first five bytes, a skippable one's eight.
  std::size_t HeaderSize() const {
    constexpr std::size_t kMagicSize = 4;
    if (header_size_ <= kMagicSize) return kMagicSize + 1;
    if ((header_[0] & 0xf0) == 0x50) return kSkippableHeaderSize;
    constexpr std::size_t kDictionaryIdSizes[] = {0, 1, 2, 4};
    constexpr std::size_t kContentSizeSizes[] = {0, 2, 4, 8};
    const std::uint8_t descriptor = header_[kMagicSize];
    const bool single_segment = (descriptor & 0x20) != 0;
    const std::size_t content_size_flag = descriptor >> 6;
    return kMagicSize + 1 + (single_segment ? 0 : 1) + kDictionaryIdSizes[descriptor & 3] +
           (single_segment && content_size_flag == 0 ? 1 : kContentSizeSizes[content_size_flag]);
  }

  // The held bytes begin a zstd frame's magic number (0xFD2FB528) or a skippable
  // frame's (0x184D2A5?), little-endian. Legacy frames' magic numbers are refused.
  bool IsMagicSoFar() const {
    constexpr std::uint8_t kFrame[] = {0x28, 0xb5, 0x2f, 0xfd};
    constexpr std::uint8_t kSkippable[] = {0x50, 0x2a, 0x4d, 0x18};
    const bool skippable = (header_[0] & 0xf0) == 0x50;
    for (std::size_t i = 0; i < std::min<std::size_t>(header_size_, 4); ++i) {
      if (i == 0 && skippable) continue;  // its low four bits are free
      if (header_[i] != (skippable ? kSkippable[i] : kFrame[i])) return false;
    }
    return true;
  }

  static constexpr std::size_t kSkippableHeaderSize = 8;

  ZSTD_DCtx* context_;
  bool started_ = false;
  bool at_end_ = false;
  // The current frame's header, held until it is whole.
  std::array<std::uint8_t, kZstdFrameHeaderMax> header_{};
  std::size_t header_size_ = 0;
  // The current frame's declared content size, once its header is read.
  unsigned long long content_size_ = 0;
  std::uint64_t frame_output_ = 0;
};

}  // namespace

std::unique_ptr<BodyCodec> MakeZstdCodec() { return ZstdCodec::Create(); }

}  // namespace infrared::genai
