#include "agent/protocols/http1/parse.h"

#include <algorithm>
#include <array>
#include <utility>

#include "agent/protocols/http1/head.h"

namespace infrared::protocols::http1 {
namespace {

using internal::Fields;
using internal::kVersionPrefix;

constexpr std::array<std::string_view, 9> kKnownMethods = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};

template <typename Message>
void ApplyFields(Fields& fields, Message& message, ParseStats& stats) {
  message.headers = std::move(fields.headers);
  message.headers_truncated = fields.dropped > 0;
  message.connection_close = fields.close || (message.version_minor == 0 && !fields.keep_alive);
  stats.dropped_headers += fields.dropped;
}

// Ending is the parser's protected type; deduced here, so it is never named.
template <typename Ending, typename Message>
void ApplyEnding(Ending&& ending, Message& message) {
  message.body = std::move(ending.body);
  message.body_size = ending.body_size;
  message.body_truncated = message.body.size() < message.body_size;
  message.incomplete = ending.incomplete;
  message.start_ns = ending.start_ns;
  message.end_ns = ending.end_ns;
  message.first_body_ns = ending.first_body_ns;
  message.arrivals = std::move(ending.arrivals);
}

}  // namespace

StreamKind Classify(std::string_view first_bytes) {
  if (first_bytes.empty()) return StreamKind::kUnknown;
  if (first_bytes.starts_with(kVersionPrefix)) return StreamKind::kResponse;
  bool could_be = kVersionPrefix.starts_with(first_bytes);
  for (std::string_view method : kKnownMethods) {
    const std::string_view rest = first_bytes.substr(std::min(method.size(), first_bytes.size()));
    if (!first_bytes.starts_with(method.substr(0, first_bytes.size()))) continue;
    if (rest.empty()) {
      could_be = true;
    } else if (rest.front() == ' ') {
      return StreamKind::kRequest;
    }
  }
  return could_be ? StreamKind::kUnknown : StreamKind::kNotHttp;
}

std::vector<Request> RequestParser::TakeRequests() { return std::exchange(done_, {}); }

std::vector<std::string> RequestParser::TakeHeadMethods() {
  return std::exchange(head_methods_, {});
}

std::vector<bool> RequestParser::TakeHeadCloseness() { return std::exchange(head_closeness_, {}); }

RequestParser::BodyPlan RequestParser::OnHead(std::string_view head) {
  current_ = Request{};
  internal::ParseRequestLine(internal::NextLine(head), current_);
  Fields fields = internal::ParseFields(head, limits().max_headers);
  ApplyFields(fields, current_, mutable_stats());
  head_methods_.push_back(current_.method);
  const bool closely =
      limits().follows_closely && limits().follows_closely(current_.method, current_.target);
  head_closeness_.push_back(closely);
  // RFC 9112 §6.3: a request without a length or chunked coding has no body;
  // invalid framing would be rejected by a server, so no body is assumed.
  if (fields.transfer_encoding) {
    current_.chunked = fields.chunked;
    return {fields.chunked ? Framing::kChunked : Framing::kNone, 0, closely};
  }
  if (fields.content_length && !fields.content_length_invalid) {
    return {Framing::kLength, *fields.content_length, closely};
  }
  return {Framing::kNone, 0, closely};
}

void RequestParser::OnEnd(Ending ending) {
  ApplyEnding(std::move(ending), current_);
  done_.push_back(std::exchange(current_, {}));
}

void ResponseParser::PushRequestMethod(std::string_view method, bool closely,
                                       std::uint64_t count) {
  if (count == 0) return;
  if (methods_.size() >= kMaxPendingMethods) {
    methods_.pop_front();
    ++mutable_stats().dropped_methods;
  }
  methods_.push_back({std::string(method), closely, count});
}

void ResponseParser::DropRequestMethods(std::uint64_t count) {
  while (count > 0 && !methods_.empty()) {
    const std::uint64_t used = std::min(count, methods_.front().count);
    methods_.front().count -= used;
    count -= used;
    if (methods_.front().count == 0) methods_.pop_front();
  }
}

std::vector<Response> ResponseParser::TakeResponses() { return std::exchange(done_, {}); }

ResponseParser::BodyPlan ResponseParser::OnHead(std::string_view head) {
  current_ = Response{};
  internal::ParseStatusLine(internal::NextLine(head), current_);
  Fields fields = internal::ParseFields(head, limits().max_headers);
  ApplyFields(fields, current_, mutable_stats());

  const int status = current_.status_code;
  const bool interim = status >= 100 && status < 200 && status != 101;
  const std::string method = methods_.empty() ? "GET" : methods_.front().method;
  const bool closely = !methods_.empty() && methods_.front().closely;
  // An interim response precedes the final one to the same request.
  if (!interim) DropRequestMethods(1);
  if (status == 101 || (method == "CONNECT" && status >= 200 && status < 300)) {
    current_.tunnel = true;
    return {Framing::kTunnel, 0};
  }
  if (interim || method == "HEAD" || status == 204 || status == 304) return {Framing::kNone, 0};
  if (fields.transfer_encoding && fields.chunked) {
    current_.chunked = true;
    return {Framing::kChunked, 0, closely, closely};
  }
  // RFC 9112 §6.3: another coding, an invalid length or none: read until close.
  if (!fields.transfer_encoding && fields.content_length && !fields.content_length_invalid) {
    return {Framing::kLength, *fields.content_length, closely, closely};
  }
  current_.close_delimited = true;
  return {Framing::kUntilClose, 0, closely, closely};
}

void ResponseParser::OnEnd(Ending ending) {
  ApplyEnding(std::move(ending), current_);
  done_.push_back(std::exchange(current_, {}));
}

}  // namespace infrared::protocols::http1
