#include "agent/protocols/http1/framer.h"

#include <algorithm>
#include <utility>

#include "agent/protocols/http1/head.h"

namespace infrared::protocols::http1::internal {
namespace {

constexpr std::size_t kMaxMethodBytes = 20;
// A buffer that once held a big head is given back rather than kept per connection.
constexpr std::size_t kKeptCapacity = 4096;

// Methods are tokens; real ones are upper case, and insisting on it makes
// resynchronisation much less likely to lock onto text inside a body.
bool IsMethodChar(char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }
bool IsTargetChar(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte > 0x20 && byte != 0x7f;
}

}  // namespace

std::size_t FindHeadEnd(std::string_view buffer, std::size_t& scan_from) {
  for (std::size_t i = buffer.find('\n', scan_from); i != std::string_view::npos;
       i = buffer.find('\n', i + 1)) {
    if (i + 1 >= buffer.size()) {
      scan_from = i;
      return std::string_view::npos;
    }
    if (buffer[i + 1] == '\n') return i + 2;
    if (buffer[i + 1] == '\r') {
      if (i + 2 >= buffer.size()) {
        scan_from = i;
        return std::string_view::npos;
      }
      if (buffer[i + 2] == '\n') return i + 3;
    }
  }
  scan_from = buffer.size();
  return std::string_view::npos;
}

void StartLineMatcher::Reset() {
  part_ = request_ ? Part::kMethod : Part::kVersion;
  count_ = 0;
}

bool StartLineMatcher::CanBegin(char c) const {
  return request_ ? IsMethodChar(c) : c == kVersionPrefix[0];
}

Match StartLineMatcher::Step(char c) {
  switch (part_) {
    case Part::kMethod:
      if (IsMethodChar(c) && count_ < kMaxMethodBytes) {
        ++count_;
        return Match::kMaybe;
      }
      if (c != ' ' || count_ == 0) return Match::kNo;
      part_ = Part::kTarget;
      count_ = 0;
      return Match::kMaybe;
    case Part::kTarget:
      if (IsTargetChar(c)) {
        count_ = 1;
        return Match::kMaybe;
      }
      if (c != ' ' || count_ == 0) return Match::kNo;
      part_ = Part::kVersion;
      count_ = 0;
      return Match::kMaybe;
    case Part::kVersion:
      if (count_ < kVersionPrefix.size()) {
        if (c != kVersionPrefix[count_]) return Match::kNo;
        ++count_;
        return Match::kMaybe;
      }
      if (!IsDigit(c)) return Match::kNo;
      part_ = request_ ? Part::kRequestEol : Part::kStatusCode;
      count_ = 0;
      return Match::kMaybe;
    case Part::kRequestEol:
      if (c == '\n') return Match::kYes;
      if (c != '\r' || count_ != 0) return Match::kNo;
      count_ = 1;
      return Match::kMaybe;
    case Part::kStatusCode:
      if (count_ == 0 ? c != ' ' : !IsDigit(c)) return Match::kNo;
      if (++count_ == 4) part_ = Part::kStatusEnd;
      return Match::kMaybe;
    case Part::kStatusEnd:
      return c == ' ' || c == '\r' || c == '\n' ? Match::kYes : Match::kNo;
  }
  return Match::kNo;
}

MessageParser::MessageParser(bool request, ParserLimits limits)
    : limits_(limits), matcher_(request) {}

void MessageParser::Feed(std::string_view captured, std::uint64_t missing,
                         std::uint64_t timestamp_ns) {
  feed_offset_ = buffer_.size();
  std::size_t pos = 0;
  while (pos < captured.size() && phase_ != Phase::kStopped) {
    const std::string_view data = captured.substr(pos);
    switch (phase_) {
      case Phase::kHead:
        pos +=
            confirmed_ ? StepConfirmedHead(data, timestamp_ns) : StepCandidate(data, timestamp_ns);
        break;
      case Phase::kLengthBody:
      case Phase::kChunkData:
      case Phase::kUntilClose:
        pos += StepBody(data, timestamp_ns);
        break;
      case Phase::kChunkSize:
        pos += StepChunkLine(data, timestamp_ns);
        break;
      case Phase::kChunkDataEnd:
        pos += StepChunkDataEnd(data);
        break;
      case Phase::kTrailers:
        pos += StepTrailers(data, timestamp_ns);
        break;
      case Phase::kStopped:
        break;
    }
  }
  if (phase_ == Phase::kStopped) stats_.ignored_bytes += captured.size() - pos;
  if (missing > 0) OnGap(missing, timestamp_ns);
}

void MessageParser::Close(std::uint64_t /*timestamp_ns*/) {
  // end_ns stays the chunk of the last byte seen: the close itself carries none.
  switch (phase_) {
    case Phase::kUntilClose:
    case Phase::kTrailers:  // the body was complete; only trailers were cut
      Finish(false);
      break;
    case Phase::kLengthBody:
    case Phase::kChunkSize:
    case Phase::kChunkData:
    case Phase::kChunkDataEnd:
      Finish(true);
      break;
    case Phase::kHead:
      Skip(buffer_.size());
      break;
    case Phase::kStopped:
      break;
  }
  ResetHead();
  phase_ = Phase::kHead;
  skipping_ = false;
}

void MessageParser::Stop() {
  // A message whose body was still arriving is emitted as incomplete, so that
  // every parsed head still yields exactly one message.
  if (phase_ != Phase::kHead && phase_ != Phase::kStopped) Finish(true);
  ResetHead();
  ending_ = {};
  phase_ = Phase::kStopped;
}

// Bytes before a start line is confirmed go through the matcher: a run of bytes
// that cannot begin one is skipped at once, the rest go one at a time (the only
// per-byte path, and it sees only start lines and garbage).
std::size_t MessageParser::StepCandidate(std::string_view data, std::uint64_t ts) {
  std::size_t i = 0;
  while (i < data.size() && !confirmed_) {
    const char c = data[i++];
    if (buffer_.empty()) {
      // RFC 9112 §2.2: empty lines before a message are ignored.
      if (!skipping_ && (c == '\r' || c == '\n')) continue;
      if (!matcher_.CanBegin(c)) {
        // This byte and all that follow it up to one that can begin a start
        // line are garbage, skipped together (a lost body can be megabytes).
        std::size_t end = i;
        while (end < data.size() && !matcher_.CanBegin(data[end])) ++end;
        Skip(end - (i - 1));
        i = end;
        continue;
      }
      matcher_.Reset();
      matcher_.Step(c);
      ending_.start_ns = ts;
      feed_offset_ = 0;
      buffer_.push_back(c);
      continue;
    }
    // A candidate is under way: the matcher steps over as many bytes as it
    // takes to decide, and they join buffer_ in one append.
    const std::size_t from = i - 1;
    std::size_t end = from;
    Match match = Match::kMaybe;
    while (end < data.size()) {
      const char next = data[end++];
      if (buffer_.size() + (end - from) > limits_.max_head_bytes) {
        match = Match::kNo;
        break;
      }
      match = matcher_.Step(next);
      if (match != Match::kMaybe) break;
    }
    buffer_.append(data.substr(from, end - from));
    i = end;
    if (match == Match::kNo) {
      Rescan(ts);
    } else if (match == Match::kYes) {
      confirmed_ = true;
      skipping_ = false;
    }
  }
  return i;
}

// The candidate in buffer_ failed: find the next offset that could still begin
// a start line. Methods are at most kMaxMethodBytes, so only that many offsets
// can reach deep into a long target; the rescan stays linear in practice.
void MessageParser::Rescan(std::uint64_t ts) {
  for (std::size_t p = 1; p < buffer_.size(); ++p) {
    matcher_.Reset();
    Match match = Match::kMaybe;
    for (std::size_t q = p; q < buffer_.size() && match == Match::kMaybe; ++q) {
      match = matcher_.Step(buffer_[q]);
    }
    if (match == Match::kNo) continue;
    Skip(p);
    buffer_.erase(0, p);
    if (p >= feed_offset_) ending_.start_ns = ts;
    feed_offset_ = p >= feed_offset_ ? 0 : feed_offset_ - p;
    if (match == Match::kYes) {
      confirmed_ = true;
      skipping_ = false;
    }
    return;
  }
  Skip(buffer_.size());
  ResetHead();
}

std::size_t MessageParser::StepConfirmedHead(std::string_view data, std::uint64_t ts) {
  const std::size_t old_size = buffer_.size();
  const std::size_t take = std::min(data.size(), limits_.max_head_bytes + kSlackBytes - old_size);
  if (feed_offset_ == 0) {
    // The start line in buffer_ came from this Feed, just before `data`: a head
    // that ends in this Feed is read where it lies, without copying it.
    const std::string_view in_place(data.data() - old_size, old_size + take);
    const std::size_t end = FindHeadEnd(in_place, scan_from_);
    if (end != std::string_view::npos && end > old_size && end <= limits_.max_head_bytes) {
      const BodyPlan plan = OnHead(in_place.substr(0, end));
      ResetHead();
      StartBody(plan, ts);
      return end - old_size;
    }
  }
  buffer_.append(data.substr(0, take));
  const std::size_t end = FindHeadEnd(buffer_, scan_from_);
  const bool found = end != std::string_view::npos && end > old_size;
  if (!found && end == std::string_view::npos && buffer_.size() <= limits_.max_head_bytes) {
    return take;
  }
  if (!found || end > limits_.max_head_bytes) {
    // Too long to be a head we accept: its bytes are garbage, and what
    // follows is scanned for the next start line.
    ++stats_.oversized_heads;
    const std::size_t used = found ? end - old_size : take;
    Skip(old_size + used);
    ResetHead();
    return used;
  }
  buffer_.resize(end);
  const BodyPlan plan = OnHead(buffer_);
  ResetHead();
  StartBody(plan, ts);
  return end - old_size;
}

void MessageParser::OnGap(std::uint64_t missing, std::uint64_t ts) {
  stats_.gap_bytes = SaturatingAdd(stats_.gap_bytes, missing);
  switch (phase_) {
    case Phase::kHead:
      // A head with a hole cannot be parsed. A gap between messages may hide
      // the next head; either way the bytes after it are scanned.
      if (!buffer_.empty()) {
        Skip(buffer_.size());
        ResetHead();
      }
      return;
    case Phase::kLengthBody:
    case Phase::kChunkData: {
      const std::uint64_t in_body = std::min(missing, remaining_);
      ending_.body_size = SaturatingAdd(ending_.body_size, in_body);
      ending_.end_ns = ts;
      body_gap_ = true;
      remaining_ -= in_body;
      if (remaining_ > 0) return;
      if (phase_ == Phase::kLengthBody) {
        Finish(false);
        return;
      }
      phase_ = Phase::kChunkDataEnd;
      if (missing > in_body) LoseFraming();  // the next chunk-size line is in the gap
      return;
    }
    case Phase::kUntilClose:
      ending_.body_size = SaturatingAdd(ending_.body_size, missing);
      ending_.end_ns = ts;
      body_gap_ = true;
      return;
    case Phase::kChunkSize:
    case Phase::kChunkDataEnd:
      LoseFraming();
      return;
    case Phase::kTrailers:
      Finish(false);
      LoseSync();
      return;
    case Phase::kStopped:
      stats_.ignored_bytes = SaturatingAdd(stats_.ignored_bytes, missing);
      return;
  }
}

void MessageParser::Skip(std::uint64_t bytes) {
  if (bytes == 0) return;
  stats_.garbage_bytes = SaturatingAdd(stats_.garbage_bytes, bytes);
  LoseSync();
}

void MessageParser::LoseSync() {
  if (skipping_) return;
  skipping_ = true;
  ++stats_.resyncs;
}

void MessageParser::Finish(bool incomplete) {
  Ending ending = std::move(ending_);
  ending_ = {};
  ending.incomplete = incomplete;
  ++stats_.messages;
  if (incomplete) ++stats_.incomplete_messages;
  phase_ = Phase::kHead;
  remaining_ = 0;
  body_gap_ = false;
  ResetHead();
  OnEnd(std::move(ending));
}

// A chunked body lost its framing: emit what is known, then look for the next message.
void MessageParser::LoseFraming() {
  Finish(true);
  LoseSync();
}

void MessageParser::ResetHead() {
  if (buffer_.capacity() > kKeptCapacity) {
    std::string().swap(buffer_);
  } else {
    buffer_.clear();
  }
  confirmed_ = false;
  scan_from_ = 0;
  feed_offset_ = 0;
}

}  // namespace infrared::protocols::http1::internal
