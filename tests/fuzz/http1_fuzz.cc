// Drives one HTTP/1 connection with arbitrary traffic: the input is cut into
// chunks of either direction, each with a random count of bytes the kernel did
// not copy, and the connection may close at any point. Whatever arrives, the
// stitcher must not crash, must stay within its memory bounds, and must never
// let a credential value out.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/protocols/http1/parse.h"
#include "agent/protocols/http1/stitcher.h"

namespace {

using namespace infrared::protocols::http1;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

template <typename Message>
void CheckMessage(const Message& message, const ParserLimits& limits) {
  Check(message.body.size() <= limits.body_capture_bytes);
  Check(message.body.size() <= message.body_size);
  Check(message.body_truncated == (message.body.size() < message.body_size));
  Check(message.headers.size() <= limits.max_headers);
  Check(message.start_ns <= message.end_ns);
  for (const Header& header : message.headers) {
    if (IsSensitiveHeader(header.name)) Check(header.value == kRedacted);
    Check(header.name.size() + header.value.size() <= limits.max_head_bytes);
  }
}

void CheckExchanges(Stitcher& stitcher, const ParserLimits& limits) {
  for (const Exchange& exchange : stitcher.TakeExchanges()) {
    CheckMessage(exchange.request, limits);
    Check(!exchange.request.method.empty());
    Check(exchange.request.target.size() <= limits.max_head_bytes);
    if (exchange.response.status_code != 0) {
      CheckMessage(exchange.response, limits);
      Check(exchange.response.status_code < 100 || exchange.response.status_code >= 200 ||
            exchange.response.status_code == 101);  // interim ones never pair with a request
    }
  }
}

std::uint64_t Missing(FuzzedDataProvider& input) {
  switch (input.ConsumeIntegralInRange<int>(0, 7)) {
    case 0:
      return input.ConsumeIntegralInRange<std::uint64_t>(1, 64);
    case 1:
      return input.ConsumeIntegral<std::uint64_t>();  // huge, even near 2^64
    default:
      return 0;
  }
}

// Heads that put both directions straight into a body framing, so that the
// fuzzer spends its time inside bodies, chunk lines and trailers as well.
constexpr std::string_view kRequestHeads[] = {
    "",
    "POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "PUT /u HTTP/1.1\r\nContent-Length: 40\r\n\r\n",
};
constexpr std::string_view kResponseHeads[] = {
    "",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n",
    "HTTP/1.0 200 OK\r\n\r\n",
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  Classify(std::string_view(reinterpret_cast<const char*>(data), size < 16 ? size : 16));

  ParserLimits limits;
  if (input.ConsumeBool()) {  // small limits reach the caps with small inputs
    limits.max_head_bytes = input.ConsumeIntegralInRange<std::size_t>(0, 512);
    limits.max_headers = input.ConsumeIntegralInRange<std::size_t>(0, 8);
    limits.body_capture_bytes = input.ConsumeIntegralInRange<std::size_t>(0, 64);
  }
  const std::size_t max_buffered = 2 * (limits.max_head_bytes + RequestParser::kSlackBytes);

  Stitcher stitcher(limits);
  // Bare parsers see the same bytes, so each one's own bound can be checked.
  RequestParser requests(limits);
  ResponseParser responses(limits);
  const std::size_t max_one = limits.max_head_bytes + RequestParser::kSlackBytes;
  std::uint64_t now = 1;
  const std::string_view request_head = kRequestHeads[input.ConsumeIntegralInRange<int>(0, 2)];
  const std::string_view response_head = kResponseHeads[input.ConsumeIntegralInRange<int>(0, 3)];
  stitcher.OnRequestBytes(request_head, 0, now);
  requests.Feed(request_head, 0, now);
  stitcher.OnResponseBytes(response_head, 0, now);
  responses.Feed(response_head, 0, now);
  while (input.remaining_bytes() > 0) {
    const int action = input.ConsumeIntegralInRange<int>(0, 31);
    now += input.ConsumeIntegralInRange<std::uint64_t>(0, 1000);
    if (action == 0) {
      stitcher.OnClose(now);
      requests.Close(now);
      responses.Close(now);
      Check(stitcher.PendingRequests() == 0);
    } else {
      const std::string chunk =
          input.ConsumeBytesAsString(input.ConsumeIntegralInRange<std::size_t>(0, 256));
      const std::uint64_t missing = Missing(input);
      if (action % 2 == 1) {
        stitcher.OnRequestBytes(chunk, missing, now);
        requests.Feed(chunk, missing, now);
        requests.TakeHeadMethods();
        requests.TakeHeadCloseness();
        requests.TakeRequests();
      } else {
        stitcher.OnResponseBytes(chunk, missing, now);
        responses.Feed(chunk, missing, now);
        responses.TakeResponses();
      }
      Check(requests.BufferedBytes() <= max_one && responses.BufferedBytes() <= max_one);
    }
    Check(stitcher.BufferedBytes() <= max_buffered);
    Check(stitcher.PendingRequests() <= Stitcher::kMaxPendingRequests);
    CheckExchanges(stitcher, limits);
  }
  stitcher.OnClose(now + 1);
  CheckExchanges(stitcher, limits);
  return 0;
}
