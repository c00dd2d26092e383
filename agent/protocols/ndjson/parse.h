#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/protocols/ndjson/types.h"

namespace infrared::protocols::ndjson {

// Splits the bytes of one NDJSON stream, in pieces of any size, into lines.
// A line ends in LF; a CR just before it is part of the line end.
class Parser {
 public:
  explicit Parser(Limits limits = {});

  // The next bytes of the stream, all carried by one chunk stamped `timestamp_ns`.
  void Feed(std::string_view bytes, std::uint64_t timestamp_ns);
  // The stream ended: a last line without LF is emitted (stamped `timestamp_ns`,
  // when it was known to be complete) and the parser starts afresh.
  void Finish(std::uint64_t timestamp_ns);
  // The lines completed so far; they are held only until taken.
  std::vector<Line> TakeLines();

  const Stats& stats() const { return stats_; }
  // Bytes held for the line being assembled: never above max_line_bytes.
  std::size_t BufferedBytes() const { return line_.size(); }

 private:
  void Hold(std::string_view piece);
  bool EndLine(std::uint64_t timestamp_ns);

  Limits limits_;
  std::string line_;  // the first max_line_bytes bytes of the line being assembled
  // What was dropped of it beyond the limit: a count, whether its last byte was
  // a CR (then possibly the line end's) and whether any was not whitespace.
  std::uint64_t dropped_ = 0;
  bool dropped_cr_last_ = false;
  bool dropped_text_ = false;
  std::vector<Line> lines_;
  Stats stats_;
};

}  // namespace infrared::protocols::ndjson
