// One HTTP/1 connection of arbitrary traffic read as LLM calls, the way the
// agent reads them: the bytes before the first "\nHTTP/1." go client to
// server, the rest (from "HTTP/1.") server to client in pieces a millisecond
// apart; the exchanges the stitcher pairs are recognised as calls (with one
// operator gateway) and read, bodies decoded (Content-Encoding, chunks, SSE,
// NDJSON) with a small decode cap. Whatever the bytes: without content
// capture no prompt or output text is kept; reading twice gives the same
// record; model names stay within kMaxModelBytes; timings are not negative; a body problem is one
// of the documented ones; a failed status always has an error type.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/genai/call_reader.h"
#include "agent/protocols/http1/stitcher.h"
#include "tests/fuzz/traffic.h"

namespace {

using namespace infrared;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckModel(const std::string& model, const std::string& with_content) {
  Check(model == with_content);
  Check(model.size() <= genai::kMaxModelBytes);
}

bool SameFacts(const genai::CallRecord& a, const genai::CallRecord& b) {
  return a.request.model == b.request.model && a.request.stream == b.request.stream &&
         a.request.max_tokens == b.request.max_tokens && a.response.id == b.response.id &&
         a.response.model == b.response.model &&
         a.response.finish_reasons == b.response.finish_reasons &&
         a.response.usage.input_tokens == b.response.usage.input_tokens &&
         a.response.usage.output_tokens == b.response.usage.output_tokens &&
         a.response.usage.cache_read_tokens == b.response.usage.cache_read_tokens &&
         a.response.usage.reasoning_tokens == b.response.usage.reasoning_tokens &&
         a.response.error_type == b.response.error_type &&
         a.response.stream_incomplete == b.response.stream_incomplete && a.streamed == b.streamed &&
         a.error_type == b.error_type && a.body_problem == b.body_problem &&
         a.time_to_first_chunk_seconds == b.time_to_first_chunk_seconds &&
         a.time_per_output_chunk_seconds == b.time_per_output_chunk_seconds &&
         a.stream_losses.oversized_lines == b.stream_losses.oversized_lines &&
         a.stream_losses.truncated_events == b.stream_losses.truncated_events &&
         a.stream_losses.unterminated_events == b.stream_losses.unterminated_events;
}

void CheckCall(const protocols::http1::Exchange& exchange, const genai::CallShape& shape) {
  genai::ReaderOptions plain;
  plain.max_decoded_bytes = 64 << 10;
  genai::ReaderOptions content = plain;
  content.capture_content = true;
  const genai::CallRecord record = genai::ReadCall(shape, exchange, plain);
  Check(SameFacts(record, genai::ReadCall(shape, exchange, plain)));
  const genai::CallRecord full = genai::ReadCall(shape, exchange, content);
  Check(SameFacts(record, full));

  Check(record.request.input_messages.empty() && record.response.output_messages.empty());
  CheckModel(record.request.model, full.request.model);
  CheckModel(record.response.model, full.response.model);
  if (record.time_to_first_chunk_seconds) Check(*record.time_to_first_chunk_seconds >= 0);
  for (double seconds : record.time_per_output_chunk_seconds) Check(seconds >= 0);
  if (!record.streamed) {
    Check(!record.time_to_first_chunk_seconds && record.time_per_output_chunk_seconds.empty());
  }
  const std::string& problem = record.body_problem;
  Check(problem.empty() || problem == "truncated" || problem == "unsupported_encoding" ||
        problem == "decode_error" || problem == "capped");
  const int status = exchange.response.status_code;
  if (status == 0 || status >= 400) Check(!record.error_type.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto [request, response] = fuzz::SplitTraffic(data, size);

  protocols::http1::ParserLimits limits;
  limits.follows_closely = [](std::string_view method, std::string_view) {
    return method == "POST";
  };
  limits.full_body_capture_bytes = 64 << 10;
  protocols::http1::Stitcher stitcher(limits);
  std::uint64_t now_ns = 1'000'000'000;
  stitcher.OnRequestBytes(request, 0, now_ns);
  for (std::size_t at = 0; at < response.size(); at += 97) {
    now_ns += 1'000'000;
    stitcher.OnResponseBytes(response.substr(at, 97), 0, now_ns);
  }
  stitcher.OnClose(now_ns + 1'000'000);

  const genai::Gateways gateways{{{"gw.internal", "my-gateway"}}};
  for (const protocols::http1::Exchange& exchange : stitcher.TakeExchanges()) {
    const std::optional<genai::CallShape> shape = genai::RecogniseCall(exchange, gateways);
    if (shape) CheckCall(exchange, *shape);
  }
  return 0;
}
