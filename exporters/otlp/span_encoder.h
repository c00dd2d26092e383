#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/telemetry/span.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace infrared::otlp {

using ExportTraceServiceRequest =
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

// The InstrumentationScope every exported span carries: the agent itself.
struct ScopeInfo {
  std::string name = "infrared";
  std::string version;
};

// Maps the agent's spans into one OTLP export request. Spans whose resources
// have equal attribute lists (the same shared_ptr, or equal contents: keys,
// value types and values, in order) share one ResourceSpans holding one
// ScopeSpans, so one process's spans travel under one resource; a null
// resource counts as an empty one. ResourceSpans appear in the order their
// first span does, and spans keep their input order within a group.
//
// Strings (names, keys, values, trace_state) are made valid UTF-8 on the way,
// since OTLP receivers reject a whole request over one bad string.
ExportTraceServiceRequest EncodeSpans(const std::vector<telemetry::Span>& spans,
                                      const ScopeInfo& scope);

// The request in protobuf binary form: the body of an OTLP/HTTP POST with
// Content-Type application/x-protobuf.
std::string SerializeRequest(const ExportTraceServiceRequest& request);

// Reads an ExportTraceServiceResponse body (the reply to a 200). An empty body
// or one without partial_success means full success: rejected = 0 and message
// empty. False when the body is not a valid response; rejected and message
// are then left as zero and empty.
bool ParsePartialSuccess(std::string_view body, std::int64_t& rejected, std::string& message);

}  // namespace infrared::otlp
