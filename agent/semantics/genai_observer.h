#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "agent/genai/call_reader.h"
#include "agent/genai/prices.h"
#include "agent/protocols/http1/stitcher.h"
#include "agent/semantics/http_observer.h"
#include "agent/telemetry/metric_registry.h"
#include "agent/telemetry/span.h"

namespace infrared::semantics {

// Turns HTTP exchanges that are LLM API calls into GenAI telemetry: the
// gen_ai_client_* metrics of the semantic conventions, the cost of each call
// from a price table, and the gen_ai.* attributes and name of its span.
// One thread (the capture's): not safe for concurrent use.
class GenAiObserver : public ClientCallObserver {
 public:
  struct Options {
    genai::Gateways gateways;
    genai::ReaderOptions reader;
    std::size_t content_max_bytes = 8192;  // per content attribute, when captured
    // What a call lost, as infrared_dropped_total's stage and reason:
    // genai_body/<CallRecord::body_problem> (a body read only in part: its usage
    // or finish may be missing), genai_stream/oversized_line, truncated_event
    // and unterminated_event (CallRecord::stream_losses, `count` of each), and
    // genai/model_over_cap (a call whose model is labelled "_other").
    std::function<void(const char* stage, const std::string& reason, std::uint64_t count)>
        on_dropped;
  };

  GenAiObserver(telemetry::MetricRegistry& registry, genai::PriceTable prices, Options options);

  // When the exchange is an LLM API call: reads it, records its metrics and,
  // when `span` is given, makes the HTTP span its GenAI span (name, gen_ai.*
  // attributes, error status).
  bool Observe(const protocols::http1::Exchange& exchange, const CallContext& context,
               telemetry::Span* span) override;

  // Model names seen beyond this many become "_other" in metric labels: a
  // client may send any string as a model.
  static constexpr std::size_t kMaxModels = 256;

 private:
  std::string ModelLabel(const std::string& model);
  void Dropped(const char* stage, const std::string& reason, std::uint64_t count) const;
  void Record(const genai::CallRecord& call, const CallContext& context,
              const std::optional<double>& cost);
  void Annotate(const genai::CallRecord& call, const std::optional<double>& cost,
                telemetry::Span& span) const;

  genai::PriceTable prices_;
  Options options_;
  std::set<std::string> models_;
  telemetry::HistogramFamily& duration_;
  telemetry::HistogramFamily& tokens_;
  telemetry::HistogramFamily& first_chunk_;
  telemetry::HistogramFamily& per_chunk_;
  telemetry::CounterFamily& cost_;
  telemetry::CounterFamily& unpriced_;
};

}  // namespace infrared::semantics
