// Feeds arbitrary bodies to the LLM body readers: the first byte picks the
// API and the flags, the rest is the body. It is read as a request, as a whole
// response, as SSE events and as NDJSON lines; its first line is also tried
// as a request target and Host. Nothing may crash, and every bound must hold.
// The body and each of its lines must also read as nlohmann::json reads them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "agent/genai/detect.h"
#include "agent/genai/extract.h"
#include "tests/unit/genai/json_same.h"

namespace {

using namespace infrared::genai;

constexpr int kApiCount = static_cast<int>(Api::kOllamaEmbed) + 1;

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckFacts(const ResponseFacts& facts) {
  Check(facts.finish_reasons.size() <= 16);
  Check(facts.error_type.size() <= 128);
  for (const std::optional<std::uint64_t>& count :
       {facts.usage.input_tokens, facts.usage.output_tokens, facts.usage.cache_read_tokens,
        facts.usage.cache_creation_tokens, facts.usage.reasoning_tokens}) {
    Check(!count || *count <= 3 * kMaxTokenCount);
  }
}

// The body as SSE (event:/data: lines, a blank line between events) and as
// NDJSON, into two accumulators.
void FeedStreams(Api api, bool capture, std::string_view body) {
  StreamAccumulator sse(api, capture);
  StreamAccumulator ndjson(api, capture);
  std::string_view type;
  std::uint64_t lines = 0;
  while (!body.empty()) {
    const std::size_t end = body.find('\n');
    const std::string_view line = body.substr(0, end);
    body = end == std::string_view::npos ? std::string_view{} : body.substr(end + 1);
    ++lines;
    Check(infrared::genai::testing::ParseDifference(line).empty());
    ndjson.OnJsonLine(line);
    if (line.starts_with("event:")) {
      type = line.substr(6);
    } else if (line.starts_with("data:")) {
      sse.OnSseEvent(type, line.substr(5));
    } else if (line.empty()) {
      type = {};
    }
  }
  for (const StreamAccumulator* stream : {&sse, &ndjson}) {
    const ResponseFacts facts = stream->Finish();
    CheckFacts(facts);
    Check(stream->content_chunks() <= lines);
    Check(facts.output_messages.size() <= kMaxStreamOutputBytes);
    if (!capture) Check(facts.output_messages.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Api api = static_cast<Api>(data[0] % kApiCount);
  const bool capture = (data[0] / kApiCount) % 2 == 1;
  const bool truncated = (data[0] / kApiCount / 2) % 2 == 1;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  Check(infrared::genai::testing::ParseDifference(body).empty());
  const RequestFacts request = ParseRequest(api, body, truncated, capture);
  Check(request.input_messages.size() <= body.size());
  Check(!request.max_tokens || *request.max_tokens >= 0);
  if (!capture) Check(request.input_messages.empty());

  const int status = truncated ? 429 : 200;
  const ResponseFacts response = ParseResponse(api, status, body, capture);
  CheckFacts(response);
  if (status >= 400) Check(!response.error_type.empty());

  FeedStreams(api, capture, body);

  const std::string_view first_line = body.substr(0, body.find('\n'));
  const std::vector<infrared::protocols::http1::Header> headers = {{"x-goog-api-key", "k"}};
  const Gateways gateways{{{"gw.internal:8080", "gateway"}}};
  if (std::optional<CallShape> shape =
          DetectCall("POST", first_line, first_line, headers, gateways)) {
    Check(!shape->provider.empty() && !shape->operation.empty());
    RefineWithResponse(*shape, headers);
  }
  return 0;
}
