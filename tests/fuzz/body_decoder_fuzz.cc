// Decodes one hostile body: the first byte picks the coding and a cap of at
// most 64 KiB, the second seeds where the rest is cut into chunks (empty ones
// too). Whatever the bytes, output never passes the cap, a status that leaves
// kOk sticks, and the chunks give what one whole Feed gives (but for the codec
// quirks named below).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "agent/genai/body_decoder.h"

namespace {

using infrared::genai::BodyDecoder;
using infrared::genai::Encoding;
using Status = BodyDecoder::Status;

constexpr Encoding kEncodings[] = {Encoding::kIdentity, Encoding::kGzip, Encoding::kDeflate,
                                   Encoding::kBrotli, Encoding::kZstd};
constexpr std::size_t kEncodingCount = std::size(kEncodings);
constexpr std::size_t kCapStep = 65535 / (255 / kEncodingCount);

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

struct Result {
  std::string output;
  Status feed = Status::kOk;
  Status finish = Status::kOk;
  bool complete = false;
  bool truncated = false;
};

// Seed 0 feeds the body whole; any other seed cuts it into chunks of up to 4 KiB.
Result Decode(Encoding encoding, std::size_t cap, std::string_view body, unsigned seed) {
  std::unique_ptr<BodyDecoder> decoder = BodyDecoder::Create(encoding, cap);
  Check(decoder != nullptr);
  Result result;
  std::minstd_rand random(seed);
  do {
    const std::size_t chunk =
        seed == 0 ? body.size()
                  : std::min<std::size_t>(body.size(), random() % (1u << (random() % 13)));
    const std::size_t before = result.output.size();
    const Status status = decoder->Feed(body.substr(0, chunk), result.output);
    // Once capped or failed, a Feed changes nothing.
    Check(result.feed == Status::kOk || (status == result.feed && result.output.size() == before));
    result.feed = status;
    body.remove_prefix(chunk);
    Check(result.output.size() <= cap);
    Check(decoder->produced() == result.output.size());
  } while (!body.empty());
  result.finish = decoder->Finish(result.output);
  result.complete = decoder->complete();
  result.truncated = decoder->truncated();
  Check(result.output.size() <= cap);
  Check(result.feed == Status::kOk || result.finish == result.feed);
  Check(!result.truncated || (result.finish == Status::kError && !result.complete));
  Check(result.finish != Status::kOk || result.complete || decoder->consumed() == 0);
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const Encoding encoding = kEncodings[data[0] % kEncodingCount];
  const std::size_t cap = data[0] / kEncodingCount * kCapStep;
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  const Result chunked = Decode(encoding, cap, body, data[1] + 1u);
  const Result whole = Decode(encoding, cap, body, 0);
  if (chunked.finish != Status::kError && whole.finish != Status::kError) {
    Check(chunked.finish == whole.finish);
    Check(chunked.output == whole.output);
    Check(chunked.complete == whole.complete);
    return 0;
  }
  // A codec may hold back output it decoded before finding corruption (brotli
  // does, within one call): against an error only prefixes compare, and a split
  // that let that output out first may have reached the cap instead.
  Check(chunked.finish == whole.finish || chunked.finish == Status::kCapped ||
        whole.finish == Status::kCapped);
  Check(chunked.truncated == whole.truncated || chunked.finish != whole.finish);
  const std::size_t common = std::min(chunked.output.size(), whole.output.size());
  Check(chunked.output.compare(0, common, whole.output, 0, common) == 0);
  return 0;
}
