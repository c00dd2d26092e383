#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/core/clock.h"
#include "agent/core/exchange_pipeline.h"
#include "agent/net/conn_tracker.h"
#include "agent/process/process_table.h"
#include "agent/telemetry/metric_registry.h"
#include "agent/telemetry/self_metrics.h"
#include "agent/telemetry/span_queue.h"
#include "agent/telemetry/trace_context.h"

namespace infrared::bench {

// The agent's own core::ExchangePipeline, built from the default Config as
// HttpCapture builds it, handed ring-buffer records by the caller instead of
// by the ring-buffer poller. Decisions meant for the kernel (skip, follow
// closely) are counted; spans are taken as the export thread would.
class Pipeline : public net::ConnDecisions {
 public:
  struct Options {
    // Spans are built and queued (spans.output or OTLP configured); the caller
    // drains them with DrainSpans, standing in for the export thread.
    bool spans = false;
  };

  // What one run saw, beyond the registry's metrics.
  struct Tally {
    std::uint64_t records = 0;
    std::uint64_t skips = 0;
    std::uint64_t follow_closely = 0;
    std::uint64_t spans = 0;
  };

  // What the registry says the run produced (read at the end, not per event).
  struct Outcome {
    std::uint64_t exchanges = 0;   // HTTP exchanges reported, client and server
    std::uint64_t unanswered = 0;  // of which without a response
    std::uint64_t llm_calls = 0;
    std::uint64_t decode_errors = 0;  // records that did not decode
  };

  // `table` answers the HTTP observer's process lookups; it must outlive the
  // pipeline. nullptr with `error` set when the price table cannot be loaded.
  static std::unique_ptr<Pipeline> Create(process::ProcessTable& table, Options options,
                                          std::string& error);
  ~Pipeline() override;

  // The tracker limits the agent derives from the default Config.
  static net::TrackerLimits DefaultTrackerLimits();

  // One record of the socket ring buffer.
  void OnRecord(const void* data, std::size_t size) {
    ++tally_.records;
    exchanges_->OnRecord(data, size);
  }
  // What the agent's poller does after each drain: `now_ns` is the last
  // record's timestamp (the capture's clock, not the machine's).
  void AfterBatch(std::uint64_t now_ns) { exchanges_->AfterDrain(now_ns); }
  // Takes every queued span, as the export thread would; returns how many.
  std::size_t DrainSpans();

  void Skip(const net::ConnId& conn) override;
  void FollowClosely(const net::ConnId& conn) override;

  const Tally& tally() const { return tally_; }
  Outcome outcome();
  telemetry::MetricRegistry& registry() { return registry_; }
  const net::ConnTracker& tracker() const { return exchanges_->tracker(); }

 private:
  Pipeline();

  telemetry::MetricRegistry registry_;
  telemetry::SelfMetrics self_;
  core::MonotonicToUnix to_unix_{0};
  telemetry::RandomIdGenerator ids_{9};
  std::unique_ptr<telemetry::SpanQueue> spans_;
  std::unique_ptr<core::ExchangePipeline> exchanges_;
  std::vector<telemetry::Span> batch_;
  Tally tally_;
};

}  // namespace infrared::bench
