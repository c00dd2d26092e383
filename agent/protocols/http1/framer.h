#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "agent/protocols/http1/types.h"

namespace infrared::protocols::http1 {

// Counters of one direction. All are cumulative.
struct ParseStats {
  std::uint64_t messages = 0;             // messages emitted, interim 1xx included
  std::uint64_t incomplete_messages = 0;  // emitted without their end (see Request::incomplete)
  std::uint64_t garbage_bytes = 0;        // skipped while looking for a start line
  std::uint64_t resyncs = 0;              // runs of skipped bytes
  std::uint64_t gap_bytes = 0;            // bytes the kernel reported but did not copy
  std::uint64_t oversized_heads = 0;      // heads over max_head_bytes, skipped as garbage
  std::uint64_t dropped_headers = 0;      // header lines beyond max_headers
  std::uint64_t ignored_bytes = 0;        // after 101 / CONNECT 2xx: no longer HTTP
  std::uint64_t dropped_methods = 0;      // response side: method FIFO overflow
};

namespace internal {

enum class Match { kNo, kMaybe, kYes };

// a + b, or the largest value where that overflows.
inline std::uint64_t SaturatingAdd(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
             ? std::numeric_limits<std::uint64_t>::max()
             : a + b;
}
// The offset just past the blank line that ends a head ("\n\n" or "\n\r\n"),
// or npos. `scan_from` remembers where to resume so that a head arriving in
// many pieces is scanned once.
std::size_t FindHeadEnd(std::string_view buffer, std::size_t& scan_from);

// Decides, one byte at a time, whether bytes begin a plausible request line
// (METHOD SP target SP HTTP/1.x EOL) or status line (HTTP/1.x SP 3DIGIT).
class StartLineMatcher {
 public:
  explicit StartLineMatcher(bool request) : request_(request) { Reset(); }
  void Reset();
  Match Step(char c);
  // Whether `c` can be the first byte of a start line (Step after Reset would
  // not answer kNo).
  bool CanBegin(char c) const;

 private:
  enum class Part { kMethod, kTarget, kVersion, kRequestEol, kStatusCode, kStatusEnd };
  bool request_;
  Part part_ = Part::kMethod;
  std::size_t count_ = 0;
};

// The framing shared by both directions: finds heads, reads bodies by length,
// chunks or close, handles gaps, and skips garbage to the next start line.
// Subclasses parse heads and build the messages.
class MessageParser {
 public:
  virtual ~MessageParser() = default;

  // `captured` bytes of the stream followed by `missing` bytes that were not
  // copied, all carried by one chunk stamped `timestamp_ns`.
  void Feed(std::string_view captured, std::uint64_t missing, std::uint64_t timestamp_ns);
  // The stream ended: a close-delimited body completes, a body cut short is
  // emitted as incomplete, a partial head is discarded. The parser starts afresh.
  // end_ns stays the chunk of the last byte seen; the close time is not a byte's.
  void Close(std::uint64_t timestamp_ns);
  // Everything after this is not HTTP (an upgrade was agreed): bytes are counted
  // and ignored. A message still in its body is emitted as incomplete first.
  void Stop();
  bool stopped() const { return phase_ == Phase::kStopped; }

  // Bytes held between calls; never above max_head_bytes + kSlackBytes.
  std::size_t BufferedBytes() const { return buffer_.size(); }
  const ParseStats& stats() const { return stats_; }

  // A chunk-size line (with extensions) longer than this, or than the head
  // limit, breaks framing.
  static constexpr std::size_t kMaxChunkLineBytes = 1024;
  static constexpr std::size_t kSlackBytes = 4;

 protected:
  enum class Framing { kNone, kLength, kChunked, kUntilClose, kTunnel };
  struct BodyPlan {
    Framing framing = Framing::kNone;
    std::uint64_t length = 0;
    bool closely = false;  // capture up to full_body_capture_bytes; responses: arrivals too
    bool arrivals = false;
  };
  struct Ending {  // what the framing learnt about the message's body
    std::string body;
    std::uint64_t body_size = 0;
    bool incomplete = false;
    std::uint64_t start_ns = 0;
    std::uint64_t end_ns = 0;
    std::uint64_t first_body_ns = 0;
    std::vector<BodyArrival> arrivals;
  };

  MessageParser(bool request, ParserLimits limits);
  // Parses a complete head (start line, headers, blank line) into the message
  // under construction and says how its body is framed.
  virtual BodyPlan OnHead(std::string_view head) = 0;
  // The message under construction is complete.
  virtual void OnEnd(Ending ending) = 0;

  const ParserLimits& limits() const { return limits_; }
  ParseStats& mutable_stats() { return stats_; }

 private:
  enum class Phase {
    kHead,
    kLengthBody,
    kChunkSize,
    kChunkData,
    kChunkDataEnd,
    kTrailers,
    kUntilClose,
    kStopped
  };

  std::size_t StepCandidate(std::string_view data, std::uint64_t ts);
  std::size_t StepConfirmedHead(std::string_view data, std::uint64_t ts);
  std::size_t StepChunkLine(std::string_view data, std::uint64_t ts);
  std::size_t StepChunkDataEnd(std::string_view data);
  std::size_t StepTrailers(std::string_view data, std::uint64_t ts);
  std::size_t StepBody(std::string_view data, std::uint64_t ts);
  void OnGap(std::uint64_t missing, std::uint64_t ts);
  void NoteArrival(std::uint64_t ts);
  void StartBody(BodyPlan plan, std::uint64_t ts);
  void Rescan(std::uint64_t ts);
  void Skip(std::uint64_t bytes);
  void LoseSync();
  void Finish(bool incomplete);
  void LoseFraming();
  void ResetHead();

  ParserLimits limits_;
  StartLineMatcher matcher_;
  Phase phase_ = Phase::kHead;
  std::string buffer_;      // a head, a chunk-size line or trailers being assembled
  bool confirmed_ = false;  // buffer_ begins with a plausible start line
  bool skipping_ = false;   // inside a run of garbage
  std::size_t scan_from_ = 0;
  std::size_t feed_offset_ = 0;  // where this Feed's bytes begin in buffer_
  std::uint64_t remaining_ = 0;  // of the length body or the current chunk
  Ending ending_;
  bool body_gap_ = false;  // body capture stops at the first gap to stay a true prefix
  std::size_t capture_bytes_ = 0;  // of the current message's body
  bool track_arrivals_ = false;
  ParseStats stats_;
};

}  // namespace internal

}  // namespace infrared::protocols::http1
