#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/protocols/sse/types.h"

namespace infrared::protocols::sse {

// Turns the bytes of one event stream, in pieces of any size, into events.
// Bytes are not checked as UTF-8: fields are matched as bytes and values kept
// as sent, so the consumer decides what to do with invalid text.
class Parser {
 public:
  explicit Parser(Limits limits = {});

  // The next bytes of the stream, all carried by one chunk stamped `timestamp_ns`.
  void Feed(std::string_view bytes, std::uint64_t timestamp_ns);
  // The stream ended. An event without its blank line is discarded, as the spec
  // says, and counted; nothing is dispatched, so the time is not used. The
  // parser then starts afresh (a new stream may begin with a byte order mark).
  void Finish(std::uint64_t timestamp_ns);
  // The events completed so far; they are held only until taken.
  std::vector<Event> TakeEvents();

  const Stats& stats() const { return stats_; }
  // Bytes held for the line and the event being assembled, events not yet
  // taken excluded: never above max_event_bytes + 3 * max_line_bytes.
  std::size_t BufferedBytes() const;

 private:
  std::string_view SkipBom(std::string_view bytes, std::uint64_t timestamp_ns);
  void Consume(std::string_view bytes, std::uint64_t timestamp_ns);
  void Hold(std::string_view piece);
  void EndLine(std::string_view piece, std::uint64_t timestamp_ns);
  void OnLine(std::string_view line, std::uint64_t timestamp_ns);
  void OnOversizedLine(std::string_view prefix);
  void AppendData(std::string_view value);
  void Dispatch(std::uint64_t timestamp_ns);

  Limits limits_;
  bool at_start_ = true;         // no byte decided yet: a byte order mark may come
  std::size_t bom_matched_ = 0;  // its bytes seen so far
  bool skip_lf_ = false;         // the last line ended in CR: a LF next is part of that end
  std::string line_;             // a line whose end has not arrived
  bool discarding_ = false;      // inside a line over max_line_bytes
  // The event being assembled (the spec's buffers).
  std::string type_;
  std::string data_;
  bool has_data_ = false;  // a data line was seen, though data_ may be empty
  bool truncated_ = false;
  std::string last_id_;
  std::vector<Event> events_;
  Stats stats_;
};

}  // namespace infrared::protocols::sse
