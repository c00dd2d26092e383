#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace infrared::genai {

// What one codec call did.
struct CodecStep {
  std::size_t consumed = 0;
  std::size_t produced = 0;
  bool error = false;
};

class BodyCodec {
 public:
  virtual ~BodyCodec() = default;
  // Decodes from `input` into at most `room` (>= 1) bytes at `out`. Called with
  // no input to drain output the codec holds from earlier input.
  virtual CodecStep Run(const std::uint8_t* input, std::size_t input_size, std::uint8_t* out,
                        std::size_t room) = 0;
  // The stream's end marker has been read, and nothing has begun after it.
  virtual bool AtEnd() const = 0;
  // At most how many bytes `input_size` more input can yield; a codec that
  // cannot tell says SIZE_MAX. Keeps a pass-through codec from growing its
  // output by a whole step for every small input.
  virtual std::size_t MaxOutput(std::size_t /*input_size*/) const { return SIZE_MAX; }
};

// zstd's codec (agent/genai/zstd_codec.cc); nullptr when it cannot allocate.
std::unique_ptr<BodyCodec> MakeZstdCodec();

}  // namespace infrared::genai
