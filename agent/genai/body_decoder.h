#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace infrared::genai {

// An HTTP Content-Encoding the agent can undo.
enum class Encoding { kIdentity, kGzip, kDeflate, kBrotli, kZstd, kUnsupported };

// The coding a Content-Encoding header value names: case-insensitive, blanks
// trimmed; "" and "identity" are kIdentity. A list of codings ("gzip, br") is
// kUnsupported: stacked codings are rare enough that the body is not worth
// decoding twice.
Encoding ParseContentEncoding(std::string_view header_value);

// "identity", "gzip", "deflate", "br", "zstd" or "unsupported", for logs and tests.
const char* EncodingName(Encoding encoding);

// One coding's decompressor, driven by BodyDecoder (defined in body_decoder.cc).
class BodyCodec;

// Decodes one captured body incrementally, however its bytes are split, and
// never yields more than max_output_bytes: a decompression bomb costs about
// max_output_bytes of work. Bodies are untrusted, so corrupt input is a status,
// never a crash or an exception.
class BodyDecoder {
 public:
  enum class Status {
    kOk,
    // Output reached max_output_bytes and more was coming: the rest of the body
    // is ignored without being decompressed.
    kCapped,
    // Corrupt input, data after the stream's end, or (from Finish) a stream cut
    // short: see truncated(). Later Feeds do nothing.
    kError,
  };

  // A decoder for `encoding`; nullptr for kUnsupported, or when the codec
  // library cannot allocate its state.
  static std::unique_ptr<BodyDecoder> Create(Encoding encoding, std::size_t max_output_bytes);

  ~BodyDecoder();
  BodyDecoder(const BodyDecoder&) = delete;
  BodyDecoder& operator=(const BodyDecoder&) = delete;

  // Decodes `input`, the body's next bytes, appending what it yields to
  // `output`. Gzip members and zstd frames may follow one another; any other
  // bytes after the end of the stream are an error. Once kCapped or kError, the
  // same status is returned and nothing is done.
  Status Feed(std::string_view input, std::string& output);

  // Ends the body; call it once, after the last Feed (a later Feed is kError).
  // Every codec yields its output during Feed, so nothing is appended today;
  // `output` is there for codecs that hold some back. Returns kOk when the
  // stream reached its end marker (identity: always; an empty body: also),
  // kCapped when capped, and kError when corrupt or when the stream was cut
  // short, which truncated() tells apart: the output is then a correct prefix.
  Status Finish(std::string& output);

  // Compressed bytes the codec has read (bytes ignored once capped are not counted).
  std::uint64_t consumed() const { return consumed_; }
  // Decoded bytes appended to outputs, at most max_output_bytes.
  std::uint64_t produced() const { return produced_; }
  // The stream reached its end marker (identity: once Finish is called).
  bool complete() const { return complete_; }
  // Finish found the stream cut short: no corruption seen, but no end marker.
  bool truncated() const { return truncated_; }

 private:
  BodyDecoder(std::unique_ptr<BodyCodec> codec, std::size_t max_output_bytes, bool has_end_marker);

  // Called at the cap: decodes on into a one-byte scratch buffer to learn
  // whether the stream holds more output (kCapped) or only its trailer (kOk).
  Status ProbePastCap(const std::uint8_t*& input, std::size_t& size);
  // Records a codec failure and frees its state early.
  Status Stop(Status status);

  std::unique_ptr<BodyCodec> codec_;
  std::size_t max_output_bytes_;
  bool has_end_marker_;
  Status status_ = Status::kOk;
  bool finished_ = false;
  bool complete_ = false;
  bool truncated_ = false;
  std::uint64_t consumed_ = 0;
  std::uint64_t produced_ = 0;
};

}  // namespace infrared::genai
