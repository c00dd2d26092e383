// Message bodies (Content-Length, chunked, until close) and trailers: the
// MessageParser's steps once a head is parsed (framer.h).
#include <algorithm>
#include <optional>
#include <string_view>

#include "agent/protocols/http1/framer.h"
#include "agent/protocols/http1/head.h"

namespace infrared::protocols::http1::internal {
namespace {

// chunk-size [ BWS ";" extensions ] CRLF; extensions are ignored.
std::optional<std::uint64_t> ParseChunkSize(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::uint64_t size = 0;
  std::size_t digits = 0;
  std::size_t i = 0;
  for (; i < line.size(); ++i) {
    const char c = line[i];
    int value = 0;
    if (IsDigit(c)) {
      value = c - '0';
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
      value = (c | 0x20) - 'a' + 10;
    } else {
      break;
    }
    if (size >> 60 != 0) return std::nullopt;  // would overflow 64 bits
    size = size << 4 | static_cast<std::uint64_t>(value);
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  std::string_view rest = Trim(line.substr(i));
  if (!rest.empty() && rest.front() != ';') return std::nullopt;
  return size;
}

}  // namespace

void MessageParser::StartBody(BodyPlan plan, std::uint64_t ts) {
  ending_.end_ns = ts;
  capture_bytes_ = plan.closely ? limits_.full_body_capture_bytes : limits_.body_capture_bytes;
  track_arrivals_ = plan.arrivals;
  switch (plan.framing) {
    case Framing::kLength:
      remaining_ = plan.length;
      if (remaining_ > 0) {
        phase_ = Phase::kLengthBody;
        return;
      }
      break;
    case Framing::kChunked:
      phase_ = Phase::kChunkSize;
      return;
    case Framing::kUntilClose:
      phase_ = Phase::kUntilClose;
      return;
    case Framing::kNone:
      break;
    case Framing::kTunnel:
      Finish(false);
      Stop();
      return;
  }
  Finish(false);
}

// The first body byte's chunk, and for closely followed messages each chunk
// that brought body bytes (one entry per timestamp, bounded).
void MessageParser::NoteArrival(std::uint64_t ts) {
  if (ending_.first_body_ns == 0) ending_.first_body_ns = ts;
  if (!track_arrivals_ || ending_.arrivals.size() >= ParserLimits::kMaxArrivals) return;
  if (!ending_.arrivals.empty() && ending_.arrivals.back().timestamp_ns == ts) return;
  ending_.arrivals.push_back({ending_.body_size, ts});
}

std::size_t MessageParser::StepBody(std::string_view data, std::uint64_t ts) {
  const std::size_t take =
      phase_ == Phase::kUntilClose
          ? data.size()
          : static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), remaining_));
  if (take > 0) NoteArrival(ts);
  ending_.body_size = SaturatingAdd(ending_.body_size, take);
  if (!body_gap_ && ending_.body.size() < capture_bytes_) {
    ending_.body.append(data.substr(0, std::min(take, capture_bytes_ - ending_.body.size())));
  }
  ending_.end_ns = ts;
  if (phase_ == Phase::kUntilClose) return take;
  remaining_ -= take;
  if (remaining_ == 0) {
    if (phase_ == Phase::kLengthBody) {
      Finish(false);
    } else {
      phase_ = Phase::kChunkDataEnd;
    }
  }
  return take;
}

std::size_t MessageParser::StepChunkLine(std::string_view data, std::uint64_t ts) {
  const std::size_t newline = data.find('\n');
  const std::size_t take = newline == std::string_view::npos ? data.size() : newline + 1;
  const std::size_t line_cap = std::min(kMaxChunkLineBytes, limits_.max_head_bytes + kSlackBytes);
  if (buffer_.size() + take > line_cap) {
    Skip(buffer_.size());
    LoseFraming();
    return 0;  // rescanned as the start of the next message
  }
  buffer_.append(data.substr(0, take));
  ending_.end_ns = ts;
  if (newline == std::string_view::npos) return take;
  const std::optional<std::uint64_t> size = ParseChunkSize(buffer_);
  const std::size_t line_bytes = buffer_.size();
  buffer_.clear();
  if (!size) {
    Skip(line_bytes);
    LoseFraming();
  } else if (*size == 0) {
    phase_ = Phase::kTrailers;
    buffer_.assign(1, '\n');  // so that an empty trailer section is found like a head's end
    scan_from_ = 0;
  } else {
    remaining_ = *size;
    phase_ = Phase::kChunkData;
  }
  return take;
}

std::size_t MessageParser::StepChunkDataEnd(std::string_view data) {
  const char c = data.front();
  if (c == '\r' && buffer_.empty()) {
    buffer_.push_back(c);
    return 1;
  }
  buffer_.clear();
  if (c == '\n') {
    phase_ = Phase::kChunkSize;
    return 1;
  }
  LoseFraming();
  return 0;  // rescanned as the start of the next message
}

std::size_t MessageParser::StepTrailers(std::string_view data, std::uint64_t ts) {
  const std::size_t old_size = buffer_.size();
  const std::size_t take = std::min(data.size(), limits_.max_head_bytes + kSlackBytes - old_size);
  buffer_.append(data.substr(0, take));
  ending_.end_ns = ts;
  const std::size_t end = FindHeadEnd(buffer_, scan_from_);
  if (end == std::string_view::npos) {
    if (buffer_.size() <= limits_.max_head_bytes) return take;
    Skip(buffer_.size());  // trailers are not kept, so only their length matters
    Finish(false);
    return take;
  }
  // Trailer fields are discarded: nothing downstream uses them.
  Finish(false);
  return end > old_size ? end - old_size : take;
}

}  // namespace infrared::protocols::http1::internal
