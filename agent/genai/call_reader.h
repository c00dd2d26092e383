#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/genai/detect.h"
#include "agent/genai/types.h"
#include "agent/protocols/http1/stitcher.h"

namespace infrared::genai {

// Model names longer than this are cut (at a UTF-8 boundary). Real ones stay far
// below (a Bedrock inference-profile ARN is about 100 bytes); the text is the
// peer's, and as the gen_ai_*_model labels it would be in every scrape.
inline constexpr std::size_t kMaxModelBytes = 256;

struct ReaderOptions {
  bool capture_content = false;
  // Decoded bytes of one body at most (a decompression bomb stops there).
  std::size_t max_decoded_bytes = 8 << 20;
};

// Everything one LLM call says, read from its HTTP exchange.
struct CallRecord {
  CallShape shape;
  RequestFacts request;
  ResponseFacts response;
  bool streamed = false;  // the response was an event stream (SSE or NDJSON)
  // Streams: first response body byte since the first request byte.
  std::optional<double> time_to_first_chunk_seconds;
  // Streams: between consecutive chunks that carried output, each after the first.
  std::vector<double> time_per_output_chunk_seconds;
  // error.type: the provider's error type, else the status code (>= 400),
  // else "stream_incomplete" for a stream cut short; empty when it went well.
  std::string error_type;
  // Why the body could not be read in full, if it could not ("truncated",
  // "unsupported_encoding", "decode_error", "capped"); empty when it was.
  std::string body_problem;
  // What the event-stream framing lost of a streamed response (its parsers'
  // limits are 1 MiB a line and an SSE event's data).
  struct StreamLosses {
    std::uint64_t oversized_lines = 0;      // SSE: discarded; NDJSON: kept in part
    std::uint64_t truncated_events = 0;     // SSE events whose data was cut
    // SSE: the whole stream was read and ended inside one (the standard drops
    // it); not counted for a body cut short, which is said otherwise.
    std::uint64_t unterminated_events = 0;
  } stream_losses;
};

// Recognises an LLM call by its request; nullopt when the exchange is not one.
std::optional<CallShape> RecogniseCall(const protocols::http1::Exchange& exchange,
                                       const Gateways& gateways);

// Reads the request and response bodies (decoding Content-Encoding, SSE and
// NDJSON framing) into a CallRecord. Bounded by `options` and kMaxModelBytes;
// never throws.
CallRecord ReadCall(const CallShape& shape, const protocols::http1::Exchange& exchange,
                    const ReaderOptions& options);

}  // namespace infrared::genai
