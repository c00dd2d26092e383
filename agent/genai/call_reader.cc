#include "agent/genai/call_reader.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <memory>
#include <string_view>

#include "agent/genai/body_decoder.h"
#include "agent/genai/extract.h"
#include "agent/protocols/ndjson/parse.h"
#include "agent/protocols/sse/parse.h"

namespace infrared::genai {
namespace {

using protocols::http1::BodyArrival;
using protocols::http1::Exchange;
using protocols::http1::FindHeader;
using protocols::http1::Header;

enum class Framing { kJson, kSse, kNdjson };

bool Contains(std::string_view text, std::string_view part) {
  return std::search(text.begin(), text.end(), part.begin(), part.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         }) != text.end();
}

Framing FramingOf(const Exchange& exchange, Api api, bool request_stream) {
  const std::string_view type = FindHeader(exchange.response.headers, "content-type");
  if (Contains(type, "text/event-stream")) return Framing::kSse;
  if (Contains(type, "ndjson")) return Framing::kNdjson;
  // Ollama streams by default, as NDJSON, whatever its Content-Type says.
  const bool ollama = api == Api::kOllamaChat || api == Api::kOllamaGenerate;
  if (ollama && request_stream && !Contains(type, "application/json")) return Framing::kNdjson;
  return Framing::kJson;
}

// Hands a body's bytes, decoded, to `sink` piece by piece with the time each
// piece arrived. `problem` says why not all of it could be decoded.
void DecodeBody(const protocols::http1::Response& message, std::uint64_t fallback_ns,
                std::size_t max_decoded, std::string& problem,
                const std::function<void(std::string_view, std::uint64_t)>& sink) {
  const Encoding encoding = ParseContentEncoding(FindHeader(message.headers, "content-encoding"));
  std::unique_ptr<BodyDecoder> decoder = BodyDecoder::Create(encoding, max_decoded);
  if (!decoder) {
    problem = "unsupported_encoding";
    return;
  }
  if (message.body_truncated) problem = "truncated";
  std::vector<BodyArrival> arrivals = message.arrivals;
  if (arrivals.empty()) arrivals.push_back({0, message.first_body_ns ? message.first_body_ns
                                                                      : fallback_ns});
  std::string out;
  BodyDecoder::Status status = BodyDecoder::Status::kOk;
  const std::string_view body = message.body;
  for (std::size_t i = 0; i < arrivals.size() && status == BodyDecoder::Status::kOk; ++i) {
    const std::uint64_t from = std::min<std::uint64_t>(arrivals[i].offset, body.size());
    const std::uint64_t to =
        i + 1 < arrivals.size() ? std::min<std::uint64_t>(arrivals[i + 1].offset, body.size())
                                : body.size();
    if (to <= from) continue;
    out.clear();
    status = decoder->Feed(body.substr(from, to - from), out);
    if (!out.empty()) sink(out, arrivals[i].timestamp_ns);
  }
  if (status == BodyDecoder::Status::kOk && !message.body_truncated) {
    out.clear();
    status = decoder->Finish(out);
    if (!out.empty()) sink(out, arrivals.back().timestamp_ns);
  }
  if (status == BodyDecoder::Status::kCapped) problem = "capped";
  if (status == BodyDecoder::Status::kError && problem.empty()) problem = "decode_error";
}

std::string DecodeRequestBody(const protocols::http1::Request& request, std::size_t max_decoded,
                              bool& cut) {
  const Encoding encoding = ParseContentEncoding(FindHeader(request.headers, "content-encoding"));
  std::unique_ptr<BodyDecoder> decoder = BodyDecoder::Create(encoding, max_decoded);
  cut = request.body_truncated;
  if (!decoder) {
    cut = true;
    return {};
  }
  std::string out;
  BodyDecoder::Status status = decoder->Feed(request.body, out);
  if (status == BodyDecoder::Status::kOk && !cut) status = decoder->Finish(out);
  if (status != BodyDecoder::Status::kOk) cut = true;
  return out;
}

// Reads an event stream: its facts, and when each output-bearing chunk ended.
ResponseFacts ReadStream(const Exchange& exchange, Api api, Framing framing,
                         const ReaderOptions& options, std::string& problem,
                         std::vector<std::uint64_t>& chunk_ends,
                         CallRecord::StreamLosses& losses) {
  StreamAccumulator stream(api, options.capture_content);
  auto note = [&](std::uint64_t before, std::uint64_t end_ns) {
    if (stream.content_chunks() > before) chunk_ends.push_back(end_ns);
  };
  std::uint64_t last_ns = exchange.response.end_ns;
  if (framing == Framing::kSse) {
    protocols::sse::Parser parser;
    DecodeBody(exchange.response, last_ns, options.max_decoded_bytes, problem,
               [&](std::string_view bytes, std::uint64_t ns) { parser.Feed(bytes, ns); });
    parser.Finish(last_ns);
    losses.oversized_lines = parser.stats().oversized_lines;
    losses.truncated_events = parser.stats().truncated_events;
    // An event the stream ended inside is lost to the standard's rule only when
    // the whole body was read: a cut body or stream is said otherwise
    // (genai_body, error.type stream_incomplete).
    if (problem.empty() && !exchange.response.incomplete) {
      losses.unterminated_events = parser.stats().discarded_events;
    }
    for (const protocols::sse::Event& event : parser.TakeEvents()) {
      const std::uint64_t before = stream.content_chunks();
      stream.OnSseEvent(event.type, event.data);
      note(before, event.end_ns);
    }
  } else {
    protocols::ndjson::Parser parser;
    DecodeBody(exchange.response, last_ns, options.max_decoded_bytes, problem,
               [&](std::string_view bytes, std::uint64_t ns) { parser.Feed(bytes, ns); });
    parser.Finish(last_ns);
    losses.oversized_lines = parser.stats().truncated_lines;
    for (const protocols::ndjson::Line& line : parser.TakeLines()) {
      const std::uint64_t before = stream.content_chunks();
      stream.OnJsonLine(line.text);
      note(before, line.end_ns);
    }
  }
  return stream.Finish();
}

// Cuts a model name to kMaxModelBytes, never inside a UTF-8 character.
void CapModel(std::string& model) {
  if (model.size() <= kMaxModelBytes) return;
  std::size_t end = kMaxModelBytes;
  while (end > 0 && (static_cast<unsigned char>(model[end]) & 0xC0) == 0x80) --end;
  model.resize(end);
}

double Seconds(std::uint64_t from_ns, std::uint64_t to_ns) {
  return to_ns > from_ns ? static_cast<double>(to_ns - from_ns) / 1e9 : 0.0;
}

std::string ErrorTypeOf(const Exchange& exchange, const CallRecord& record) {
  if (!record.response.error_type.empty()) return record.response.error_type;
  const int status = exchange.response.status_code;
  if (status == 0) return "no_response";
  if (status >= 400) return std::to_string(status);
  if (record.streamed && (record.response.stream_incomplete || exchange.response.incomplete)) {
    return "stream_incomplete";
  }
  return {};
}

}  // namespace

std::optional<CallShape> RecogniseCall(const Exchange& exchange, const Gateways& gateways) {
  const auto& request = exchange.request;
  std::optional<CallShape> shape = DetectCall(request.method, request.target,
                                              FindHeader(request.headers, "host"), request.headers,
                                              gateways);
  if (shape && exchange.response.status_code != 0) {
    RefineWithResponse(*shape, exchange.response.headers);
  }
  return shape;
}

CallRecord ReadCall(const CallShape& shape, const Exchange& exchange,
                    const ReaderOptions& options) {
  CallRecord record;
  record.shape = shape;
  bool request_cut = false;
  const std::string request_body =
      DecodeRequestBody(exchange.request, options.max_decoded_bytes, request_cut);
  record.request = ParseRequest(shape.api, request_body, request_cut, options.capture_content);
  if (record.request.model.empty()) record.request.model = shape.path_model;

  if (exchange.response.status_code != 0) {
    const Framing framing = FramingOf(exchange, shape.api, record.request.stream);
    if (framing == Framing::kJson) {
      std::string body;
      DecodeBody(exchange.response, exchange.response.end_ns, options.max_decoded_bytes,
                 record.body_problem,
                 [&body](std::string_view bytes, std::uint64_t) { body.append(bytes); });
      record.response = ParseResponse(shape.api, exchange.response.status_code, body,
                                      options.capture_content);
    } else {
      record.streamed = true;
      std::vector<std::uint64_t> chunk_ends;
      record.response = ReadStream(exchange, shape.api, framing, options, record.body_problem,
                                   chunk_ends, record.stream_losses);
      if (exchange.response.first_body_ns != 0) {
        record.time_to_first_chunk_seconds =
            Seconds(exchange.request.start_ns, exchange.response.first_body_ns);
      }
      for (std::size_t i = 1; i < chunk_ends.size(); ++i) {
        record.time_per_output_chunk_seconds.push_back(Seconds(chunk_ends[i - 1], chunk_ends[i]));
      }
    }
  }
  // A request cut before its model (SDKs put it after long messages): the
  // model that answered stands in.
  if (record.request.model.empty()) record.request.model = record.response.model;
  CapModel(record.request.model);
  CapModel(record.response.model);
  record.error_type = ErrorTypeOf(exchange, record);
  return record;
}

}  // namespace infrared::genai
