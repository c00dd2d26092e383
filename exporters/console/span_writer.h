#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/telemetry/span.h"

namespace infrared::console {

// Writes spans as JSON lines, one span per line, shaped after OTLP/JSON:
//   {"traceId":"<32 hex>","spanId":"<16 hex>","parentSpanId":"<16 hex>|""",
//    "traceState":"...","flags":1,"name":"GET /users/{id}",
//    "kind":"SPAN_KIND_SERVER","startTimeUnixNano":"<decimal>",
//    "endTimeUnixNano":"<decimal>","attributes":{"http.request.method":"GET",
//    "http.response.status_code":200},"status":{"code":"STATUS_CODE_UNSET",
//    "message":""},"resource":{"service.name":"api"}}
// Every key is always present, in this order. Unlike OTLP/JSON, attributes are
// flat objects (key: value) for jq's sake; integers and doubles are JSON
// numbers (NaN and infinities as the strings "NaN", "Infinity", "-Infinity"),
// and duplicate keys are written as given. Strings are JSON-escaped and
// invalid UTF-8 becomes U+FFFD.
//
// Thread-safe. Each Write is one fwrite plus one fflush, so a line is never
// interleaved with another writer's and is visible at once (tail -f, pipes) at
// the price of a write(2) per span; prefer WriteBatch, which pays it once per
// batch.
class SpanWriter {
 public:
  // "stdout" writes to stdout; anything else is a file path opened for
  // append (created if missing). On failure returns null and sets `error` to
  // a sentence naming the path and the system's reason.
  static std::unique_ptr<SpanWriter> Open(const std::string& target, std::string& error);

  // Writes to `sink`, which the caller keeps open and closes after this dies.
  explicit SpanWriter(std::FILE* sink);
  ~SpanWriter();

  SpanWriter(const SpanWriter&) = delete;
  SpanWriter& operator=(const SpanWriter&) = delete;

  // Writes one line. False when the sink reported an error (disk full,
  // closed pipe): the caller counts the span as dropped.
  bool Write(const telemetry::Span& span);

  // Writes one line per span with a single fwrite and fflush. False as Write.
  bool WriteBatch(const std::vector<telemetry::Span>& spans);

  // The JSON object for `span`, without the newline.
  static std::string FormatJson(const telemetry::Span& span);

 private:
  SpanWriter(std::FILE* sink, bool owned);
  bool WriteLines(const std::string& lines);

  std::mutex mutex_;
  std::FILE* sink_;
  bool owned_;
};

}  // namespace infrared::console
