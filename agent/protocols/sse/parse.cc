#include "agent/protocols/sse/parse.h"

#include <algorithm>
#include <utility>

namespace infrared::protocols::sse {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

// A line's field name and value: "name:value", one space after the colon
// dropped; a line without a colon is a name with an empty value.
struct Field {
  std::string_view name;
  std::string_view value;
};

Field SplitField(std::string_view line) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return Field{line, {}};
  std::string_view value = line.substr(colon + 1);
  if (value.starts_with(' ')) value.remove_prefix(1);
  return Field{line.substr(0, colon), value};
}

}  // namespace

Parser::Parser(Limits limits) : limits_(limits) {}

void Parser::Feed(std::string_view bytes, std::uint64_t timestamp_ns) {
  Consume(SkipBom(bytes, timestamp_ns), timestamp_ns);
}

void Parser::Finish(std::uint64_t /*timestamp_ns*/) {
  const bool partial_bom = at_start_ && bom_matched_ > 0;  // bytes of a line, as it turned out
  if (has_data_ || !type_.empty() || !line_.empty() || discarding_ || partial_bom) {
    ++stats_.discarded_events;
  }
  Parser fresh(limits_);
  fresh.events_ = std::move(events_);
  fresh.stats_ = stats_;
  *this = std::move(fresh);
}

std::vector<Event> Parser::TakeEvents() { return std::exchange(events_, {}); }

std::size_t Parser::BufferedBytes() const {
  return line_.size() + type_.size() + data_.size() + last_id_.size();
}

// The spec decodes the stream as UTF-8, which drops one leading BOM. Its bytes
// may arrive one Feed at a time; a prefix of it followed by anything else is
// ordinary content.
std::string_view Parser::SkipBom(std::string_view bytes, std::uint64_t timestamp_ns) {
  while (at_start_ && !bytes.empty()) {
    if (bytes.front() != kBom[bom_matched_]) {
      at_start_ = false;
      Consume(kBom.substr(0, std::exchange(bom_matched_, 0)), timestamp_ns);
      break;
    }
    bytes.remove_prefix(1);
    if (++bom_matched_ == kBom.size()) {
      at_start_ = false;
      bom_matched_ = 0;
      ++stats_.boms;
    }
  }
  return bytes;
}

// Lines end in CRLF, LF or CR. A CR ending one Feed and a LF beginning the
// next are one line end, so whether a LF follows a CR is remembered.
void Parser::Consume(std::string_view bytes, std::uint64_t timestamp_ns) {
  while (!bytes.empty()) {
    if (std::exchange(skip_lf_, false) && bytes.front() == '\n') {
      bytes.remove_prefix(1);
      continue;
    }
    // A plain scan: find_first_of calls memchr once per byte for a two-byte set.
    std::size_t end = 0;
    while (end < bytes.size() && bytes[end] != '\n' && bytes[end] != '\r') ++end;
    if (end == bytes.size()) {
      Hold(bytes);
      return;
    }
    skip_lf_ = bytes[end] == '\r';
    EndLine(bytes.substr(0, end), timestamp_ns);
    bytes.remove_prefix(end + 1);
  }
}

// Keeps the start of a line whose end is still to come, up to the line limit.
void Parser::Hold(std::string_view piece) {
  if (discarding_) return;
  if (line_.size() + piece.size() <= limits_.max_line_bytes) {
    line_.append(piece);
    return;
  }
  line_.append(piece.substr(0, limits_.max_line_bytes - line_.size()));
  OnOversizedLine(line_);
  line_.clear();
  discarding_ = true;
}

void Parser::EndLine(std::string_view piece, std::uint64_t timestamp_ns) {
  if (std::exchange(discarding_, false)) return;
  if (line_.empty() && piece.size() <= limits_.max_line_bytes) {
    OnLine(piece, timestamp_ns);  // the common case: the whole line is in this Feed
    return;
  }
  Hold(piece);
  if (std::exchange(discarding_, false)) return;
  OnLine(line_, timestamp_ns);
  line_.clear();
}

void Parser::OnLine(std::string_view line, std::uint64_t timestamp_ns) {
  if (line.empty()) {
    Dispatch(timestamp_ns);
    return;
  }
  if (line.front() == ':') {
    ++stats_.comments;
    return;
  }
  const Field field = SplitField(line);
  if (field.name == "data") {
    AppendData(field.value);
  } else if (field.name == "event") {
    type_.assign(field.value);
  } else if (field.name == "id") {
    if (field.value.find('\0') == std::string_view::npos) last_id_.assign(field.value);
  }
  // "retry" only advises a reconnecting client; other names are ignored (spec).
}

// A line over the limit is dropped, but a data line still makes its event
// exist: the event is dispatched, marked truncated, with the data before it.
void Parser::OnOversizedLine(std::string_view prefix) {
  ++stats_.oversized_lines;
  if (prefix.starts_with(':')) {
    ++stats_.comments;
  } else if (prefix.find(':') != std::string_view::npos && SplitField(prefix).name == "data") {
    has_data_ = true;
    truncated_ = true;
  }
}

// Joins data lines with '\n' as the spec does (it appends one after each line
// and removes the last), keeping an exact prefix within max_event_bytes.
void Parser::AppendData(std::string_view value) {
  const std::size_t separator = has_data_ ? 1 : 0;
  has_data_ = true;
  const std::size_t room = truncated_ ? 0 : limits_.max_event_bytes - data_.size();
  if (separator + value.size() <= room) {
    data_.append(separator, '\n');
    data_.append(value);
    return;
  }
  if (!truncated_) {
    data_.append(std::min(separator, room), '\n');
    data_.append(value.substr(0, room - std::min(separator, room)));
  }
  stats_.truncated_bytes += separator + value.size() - room;
  truncated_ = true;
}

void Parser::Dispatch(std::uint64_t timestamp_ns) {
  if (!has_data_) {  // spec: no data, no event; its type is forgotten
    type_.clear();
    return;
  }
  ++stats_.events;
  if (truncated_) ++stats_.truncated_events;
  events_.push_back(Event{std::exchange(type_, {}), std::exchange(data_, {}), last_id_,
                          timestamp_ns, truncated_});
  has_data_ = false;
  truncated_ = false;
}

}  // namespace infrared::protocols::sse
