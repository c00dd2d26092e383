#include "tests/bench/pipeline.h"

#include <chrono>

#include "agent/core/config.h"

namespace infrared::bench {
namespace {

constexpr std::size_t kSpanBatch = 256;  // as HttpCapture::ExportLoop

// The sum of a histogram family's counts over the series whose `label` is
// `value` (every series when `label` is empty).
std::uint64_t CountOf(const std::vector<telemetry::MetricFamily>& families,
                      std::string_view name, std::string_view label = {},
                      std::string_view value = {}) {
  std::uint64_t count = 0;
  for (const telemetry::MetricFamily& family : families) {
    if (family.name != name) continue;
    for (const telemetry::HistogramSample& sample : family.histograms) {
      bool wanted = label.empty();
      for (const telemetry::Label& l : sample.labels) {
        wanted = wanted || (l.name == label && l.value == value);
      }
      if (wanted) count += sample.count;
    }
  }
  return count;
}

}  // namespace

Pipeline::Pipeline() : self_(registry_, "bench") {}

Pipeline::~Pipeline() = default;

std::unique_ptr<Pipeline> Pipeline::Create(process::ProcessTable& table, Options options,
                                           std::string& error) {
  std::unique_ptr<Pipeline> pipeline(new Pipeline());
  Pipeline* raw = pipeline.get();
  const core::Config config;  // the defaults: genai on, no gateways, no routes
  if (options.spans) raw->spans_ = std::make_unique<telemetry::SpanQueue>(config.spans_queue_size);
  raw->exchanges_ = core::ExchangePipeline::Create(
      config,
      core::ExchangePipeline::Dependencies{
          .registry = raw->registry_,
          .self = raw->self_,
          .table = table,
          .decisions = *raw,
          .spans = raw->spans_.get(),
          .ids = raw->ids_,
          .to_unix_ns = [raw](std::uint64_t ns) { return raw->to_unix_(ns); },
          .on_library = {},  // the TLS capture's work is not part of this pipeline
          .host_name = "bench-host",
      },
      error);
  if (!raw->exchanges_) return nullptr;
  return pipeline;
}

net::TrackerLimits Pipeline::DefaultTrackerLimits() {
  return core::ExchangePipeline::TrackerLimitsOf(core::Config{});
}

std::size_t Pipeline::DrainSpans() {
  if (!spans_) return 0;
  std::size_t drained = 0;
  for (;;) {
    batch_.clear();
    const std::size_t popped = spans_->PopBatch(batch_, kSpanBatch, std::chrono::milliseconds(0));
    if (popped == 0) break;
    drained += popped;
  }
  tally_.spans += drained;
  return drained;
}

Pipeline::Outcome Pipeline::outcome() {
  const std::vector<telemetry::MetricFamily> families = registry_.Collect();
  Outcome outcome;
  for (const char* name : {"http_server_request_duration_seconds",
                           "http_client_request_duration_seconds"}) {
    outcome.exchanges += CountOf(families, name);
    outcome.unanswered += CountOf(families, name, "error_type", "no_response");
  }
  outcome.llm_calls = CountOf(families, "gen_ai_client_operation_duration_seconds");
  for (const telemetry::MetricFamily& family : families) {
    if (family.name != telemetry::kDroppedFamily) continue;
    for (const telemetry::Sample& sample : family.samples) {
      bool decoding = false;
      for (const telemetry::Label& l : sample.labels) {
        decoding = decoding || (l.name == "stage" && l.value == "sock_ringbuf");
      }
      if (decoding) outcome.decode_errors += static_cast<std::uint64_t>(sample.value);
    }
  }
  return outcome;
}

void Pipeline::Skip(const net::ConnId& /*conn*/) { ++tally_.skips; }

void Pipeline::FollowClosely(const net::ConnId& /*conn*/) { ++tally_.follow_closely; }

}  // namespace infrared::bench
