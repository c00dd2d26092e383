#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

// Server-Sent Events (text/event-stream), as the WHATWG HTML standard's
// EventSource section parses them. LLM APIs stream their responses this way.
namespace infrared::protocols::sse {

// One dispatched event.
struct Event {
  std::string type;  // the "event:" field; empty means the default type, "message"
  std::string data;  // the "data:" lines joined by '\n'; "[DONE]" is data like any other
  // The stream's last event id when this event was dispatched: set by an "id:"
  // line of this event or of an earlier one (the spec keeps it across events).
  std::string id;
  std::uint64_t end_ns = 0;  // timestamp of the Feed that held the blank line ending it
  // data is an exact prefix of what was sent: it reached max_event_bytes, or a
  // data line was longer than max_line_bytes (then nothing after it is kept).
  bool data_truncated = false;
  bool operator==(const Event&) const = default;
};

struct Limits {
  std::size_t max_event_bytes = 1 << 20;  // of an event's data, joining '\n's included
  std::size_t max_line_bytes = 1 << 20;   // of one line, its line end excluded
};

// Cumulative counters of one stream.
struct Stats {
  std::uint64_t events = 0;            // dispatched
  std::uint64_t comments = 0;          // lines beginning with ':' (keep-alives)
  std::uint64_t discarded_events = 0;  // the stream ended inside an event or a line (spec: dropped)
  std::uint64_t truncated_events = 0;  // dispatched with data_truncated
  // Data bytes dropped: beyond max_event_bytes, or after an oversized data line.
  std::uint64_t truncated_bytes = 0;
  std::uint64_t oversized_lines = 0;  // lines over max_line_bytes, discarded
  std::uint64_t boms = 0;             // leading byte order marks skipped
  bool operator==(const Stats&) const = default;
};

}  // namespace infrared::protocols::sse
