#include "agent/protocols/ndjson/parse.h"

#include <algorithm>
#include <utility>

namespace infrared::protocols::ndjson {
namespace {

// JSON's whitespace (RFC 8259), LF aside: it never reaches a line's text.
bool IsBlank(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

}  // namespace

Parser::Parser(Limits limits) : limits_(limits) {}

void Parser::Feed(std::string_view bytes, std::uint64_t timestamp_ns) {
  while (!bytes.empty()) {
    const std::size_t end = bytes.find('\n');
    if (end == std::string_view::npos) {
      Hold(bytes);
      return;
    }
    Hold(bytes.substr(0, end));
    EndLine(timestamp_ns);
    bytes.remove_prefix(end + 1);
  }
}

void Parser::Finish(std::uint64_t timestamp_ns) {
  if ((!line_.empty() || dropped_ > 0) && EndLine(timestamp_ns)) ++stats_.unterminated_lines;
  line_ = {};  // EndLine moved it out or cleared it; this also drops a large capacity
}

std::vector<Line> Parser::TakeLines() { return std::exchange(lines_, {}); }

void Parser::Hold(std::string_view piece) {
  const std::size_t room = limits_.max_line_bytes - line_.size();
  line_.append(piece.substr(0, room));
  if (piece.size() <= room) return;
  const std::string_view rest = piece.substr(room);
  dropped_ += rest.size();
  dropped_cr_last_ = rest.back() == '\r';
  dropped_text_ = dropped_text_ || !IsBlank(rest);
}

// Emits the line assembled so far, if it is not blank; says whether it was.
bool Parser::EndLine(std::uint64_t timestamp_ns) {
  // The CR of a CRLF is the line's last byte, kept or dropped by the limit.
  if (dropped_ == 0) {
    if (line_.ends_with('\r')) line_.pop_back();
  } else if (dropped_cr_last_) {
    --dropped_;
  }
  const std::uint64_t dropped = std::exchange(dropped_, 0);
  const bool blank = !std::exchange(dropped_text_, false) && IsBlank(line_);
  dropped_cr_last_ = false;
  if (blank) {
    ++stats_.blank_lines;
    line_.clear();
    return false;
  }
  ++stats_.lines;
  if (dropped > 0) {
    ++stats_.truncated_lines;
    stats_.truncated_bytes += dropped;
  }
  lines_.push_back(Line{std::exchange(line_, {}), timestamp_ns, dropped > 0});
  return true;
}

}  // namespace infrared::protocols::ndjson
