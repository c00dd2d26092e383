#include "agent/semantics/genai_observer.h"

#include <utility>
#include <vector>

namespace infrared::semantics {
namespace {

using telemetry::Attribute;

// Bucket boundaries the GenAI semantic conventions advise.
const std::vector<double> kDurationBuckets = {0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                              1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
const std::vector<double> kTokenBuckets = {1,      4,       16,      64,       256,
                                           1024,   4096,    16384,   65536,    262144,
                                           1048576, 4194304, 16777216, 67108864};
const std::vector<double> kFirstChunkBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                                0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0};
const std::vector<double> kPerChunkBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                              0.3,  0.4,   0.5,  0.75,  1.0, 2.5};

const std::vector<std::string> kCallLabels = {
    "gen_ai_operation_name",   "gen_ai_provider_name", "gen_ai_request_model",
    "gen_ai_response_model",   "server_address",       "service_name",
    "process_executable_name", "k8s_namespace_name",   "k8s_pod_name",
    "k8s_container_name",      "container_id"};

std::vector<std::string> With(std::vector<std::string> labels, const std::string& extra) {
  labels.push_back(extra);
  return labels;
}

std::string Cut(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  // Back off to a UTF-8 boundary so the cut text stays valid.
  std::size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

}  // namespace

GenAiObserver::GenAiObserver(telemetry::MetricRegistry& registry, genai::PriceTable prices,
                             Options options)
    : prices_(std::move(prices)),
      options_(std::move(options)),
      duration_(registry.AddHistogram("gen_ai_client_operation_duration_seconds",
                                      "Duration of LLM API calls this host's processes made, "
                                      "first request byte to last response byte.",
                                      With(kCallLabels, "error_type"), kDurationBuckets,
                                      "seconds")),
      tokens_(registry.AddHistogram(
          "gen_ai_client_token_usage",
          "Tokens per LLM API call, by type: input (cached and cache-creation tokens included) "
          "and output (reasoning included).",
          With(kCallLabels, "gen_ai_token_type"), kTokenBuckets)),
      first_chunk_(registry.AddHistogram(
          "gen_ai_client_operation_time_to_first_chunk_seconds",
          "Streamed LLM calls: first request byte to the first response body byte.", kCallLabels,
          kFirstChunkBuckets, "seconds")),
      per_chunk_(registry.AddHistogram(
          "gen_ai_client_operation_time_per_output_chunk_seconds",
          "Streamed LLM calls: time between consecutive output chunks, each after the first.",
          kCallLabels, kPerChunkBuckets, "seconds")),
      cost_(registry.AddCounter("gen_ai_client_cost_usd",
                                "Cost of LLM API calls in US dollars, from the price table.",
                                kCallLabels)),
      unpriced_(registry.AddCounter(
          "gen_ai_client_unpriced_operations",
          "LLM API calls whose model has no price in the table (their cost is not counted).",
          kCallLabels)) {
  // Models, workloads and providers come and go: their series leave when idle.
  for (telemetry::HistogramFamily* family : {&duration_, &tokens_, &first_chunk_, &per_chunk_}) {
    family->ExpireIdle();
  }
  cost_.ExpireIdle();
  unpriced_.ExpireIdle();
}


std::string GenAiObserver::ModelLabel(const std::string& model) {
  if (model.empty() || models_.count(model)) return model;
  if (models_.size() >= kMaxModels) return "_other";
  models_.insert(model);
  return model;
}

void GenAiObserver::Dropped(const char* stage, const std::string& reason,
                            std::uint64_t count) const {
  if (count > 0 && options_.on_dropped) options_.on_dropped(stage, reason, count);
}

bool GenAiObserver::Observe(const protocols::http1::Exchange& exchange, const CallContext& context,
                            telemetry::Span* span) {
  const std::optional<genai::CallShape> shape = genai::RecogniseCall(exchange, options_.gateways);
  if (!shape) return false;
  const genai::CallRecord call = genai::ReadCall(*shape, exchange, options_.reader);
  if (!call.body_problem.empty()) Dropped("genai_body", call.body_problem, 1);
  Dropped("genai_stream", "oversized_line", call.stream_losses.oversized_lines);
  Dropped("genai_stream", "truncated_event", call.stream_losses.truncated_events);
  Dropped("genai_stream", "unterminated_event", call.stream_losses.unterminated_events);
  std::optional<double> cost;
  const std::string& priced_model =
      call.response.model.empty() ? call.request.model : call.response.model;
  const std::optional<genai::Price> price = prices_.Find(shape->provider, priced_model);
  if (price) cost = genai::CostUsd(*price, call.response.usage);
  Record(call, context, cost);
  if (span) Annotate(call, cost, *span);
  return true;
}

void GenAiObserver::Record(const genai::CallRecord& call, const CallContext& context,
                           const std::optional<double>& cost) {
  std::string request_model = ModelLabel(call.request.model);
  std::string response_model = ModelLabel(call.response.model);
  if (request_model != call.request.model || response_model != call.response.model) {
    Dropped("genai", "model_over_cap", 1);
  }
  std::vector<std::string> labels = {call.shape.operation,
                                     call.shape.provider,
                                     std::move(request_model),
                                     std::move(response_model),
                                     context.server_address,
                                     context.service_name,
                                     context.executable_name};
  for (auto& [name, value] : process::WorkloadLabels(context.workload)) {
    labels.push_back(std::move(value));
  }
  const std::uint64_t now = context.end_ns;
  telemetry::ObserveAt(duration_, With(labels, call.error_type), now, context.duration_seconds);
  const genai::Usage& usage = call.response.usage;
  if (usage.input_tokens) {
    telemetry::ObserveAt(tokens_, With(labels, "input"), now,
                         static_cast<double>(*usage.input_tokens));
  }
  if (usage.output_tokens) {
    telemetry::ObserveAt(tokens_, With(labels, "output"), now,
                         static_cast<double>(*usage.output_tokens));
  }
  if (call.time_to_first_chunk_seconds) {
    telemetry::ObserveAt(first_chunk_, labels, now, *call.time_to_first_chunk_seconds);
  }
  if (!call.time_per_output_chunk_seconds.empty()) {  // one lookup for all of a stream's chunks
    per_chunk_.Update(labels, now, [&call](telemetry::Histogram& series) {
      for (double seconds : call.time_per_output_chunk_seconds) series.Observe(seconds);
    });
  }
  if (cost) {
    telemetry::IncAt(cost_, labels, now, *cost);
  } else {
    telemetry::IncAt(unpriced_, labels, now);
  }
}

void GenAiObserver::Annotate(const genai::CallRecord& call, const std::optional<double>& cost,
                             telemetry::Span& span) const {
  span.name = call.request.model.empty() ? call.shape.operation
                                         : call.shape.operation + " " + call.request.model;
  span.kind = telemetry::SpanKind::kClient;
  std::vector<Attribute>& a = span.attributes;
  a.push_back({"gen_ai.operation.name", call.shape.operation});
  a.push_back({"gen_ai.provider.name", call.shape.provider});
  if (!call.request.model.empty()) a.push_back({"gen_ai.request.model", call.request.model});
  if (call.request.max_tokens) a.push_back({"gen_ai.request.max_tokens", *call.request.max_tokens});
  if (call.request.temperature) {
    a.push_back({"gen_ai.request.temperature", *call.request.temperature});
  }
  if (call.request.top_p) a.push_back({"gen_ai.request.top_p", *call.request.top_p});
  const genai::ResponseFacts& response = call.response;
  if (!response.model.empty()) a.push_back({"gen_ai.response.model", response.model});
  if (!response.id.empty()) a.push_back({"gen_ai.response.id", response.id});
  if (!response.finish_reasons.empty()) {
    a.push_back({"gen_ai.response.finish_reasons", telemetry::StringArray(response.finish_reasons)});
  }
  auto count = [&a](const char* key, const std::optional<std::uint64_t>& value) {
    if (value) a.push_back({key, static_cast<std::int64_t>(*value)});
  };
  count("gen_ai.usage.input_tokens", response.usage.input_tokens);
  count("gen_ai.usage.output_tokens", response.usage.output_tokens);
  count("gen_ai.usage.cache_read.input_tokens", response.usage.cache_read_tokens);
  count("gen_ai.usage.cache_creation.input_tokens", response.usage.cache_creation_tokens);
  count("gen_ai.usage.reasoning.output_tokens", response.usage.reasoning_tokens);
  if (call.time_to_first_chunk_seconds) {
    a.push_back({"gen_ai.response.time_to_first_chunk", *call.time_to_first_chunk_seconds});
  }
  if (cost) a.push_back({"gen_ai.usage.cost", *cost});
  if (!call.request.input_messages.empty()) {
    a.push_back({"gen_ai.input.messages", Cut(call.request.input_messages,
                                               options_.content_max_bytes)});
  }
  if (!response.output_messages.empty()) {
    a.push_back({"gen_ai.output.messages", Cut(response.output_messages,
                                                options_.content_max_bytes)});
  }
  // The HTTP layer judged by status alone; the call's own verdict replaces it.
  std::erase_if(a, [](const Attribute& attribute) { return attribute.key == "error.type"; });
  if (!call.error_type.empty()) {
    a.push_back({"error.type", call.error_type});
    span.status = telemetry::StatusCode::kError;
  } else {
    span.status = telemetry::StatusCode::kUnset;
  }
}

}  // namespace infrared::semantics
