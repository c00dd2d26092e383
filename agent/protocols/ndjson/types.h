#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

// Newline-delimited JSON (application/x-ndjson), one JSON value a line, as
// Ollama streams its responses. Lines are split here; JSON is parsed elsewhere.
namespace infrared::protocols::ndjson {

struct Line {
  std::string text;          // without its line end; never empty or only whitespace
  std::uint64_t end_ns = 0;  // timestamp of the Feed that held its LF (or of Finish)
  bool truncated = false;    // text is the line's first max_line_bytes bytes
  bool operator==(const Line&) const = default;
};

struct Limits {
  std::size_t max_line_bytes = 1 << 20;  // of one line, its line end excluded
};

// Cumulative counters of one stream.
struct Stats {
  std::uint64_t lines = 0;               // emitted
  std::uint64_t blank_lines = 0;         // empty or only whitespace, skipped
  std::uint64_t truncated_lines = 0;     // emitted with truncated
  std::uint64_t truncated_bytes = 0;     // dropped beyond max_line_bytes
  std::uint64_t unterminated_lines = 0;  // a last line without LF, emitted by Finish
  bool operator==(const Stats&) const = default;
};

}  // namespace infrared::protocols::ndjson
