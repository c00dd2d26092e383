#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/core/clock.h"
#include "agent/net/conn_tracker.h"
#include "agent/process/process_table.h"
#include "agent/semantics/genai_observer.h"
#include "agent/semantics/http_observer.h"
#include "agent/telemetry/metric_registry.h"
#include "agent/telemetry/self_metrics.h"
#include "agent/telemetry/span_queue.h"
#include "agent/telemetry/trace_context.h"

namespace infrared::bench {

// The userspace half of core::HttpCapture (agent/core/http_capture.cc) without
// BPF: the same objects, built from the default Config and wired the same way,
// handed ring-buffer records by the caller instead of by the ring-buffer poller.
// Decisions meant for the kernel (skip, follow closely) are counted.
// Keep in step with HttpCapture::Create, OnRecord and PollLoop.
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
    std::uint64_t decode_errors = 0;
    std::uint64_t exchanges = 0;
    std::uint64_t unanswered = 0;  // exchanges without a response (status 0)
    std::uint64_t llm_calls = 0;
    std::uint64_t skips = 0;
    std::uint64_t follow_closely = 0;
    std::uint64_t spans = 0;
  };

  // `table` answers the HTTP observer's process lookups; it must outlive the
  // pipeline. nullptr with `error` set when the price table cannot be loaded.
  static std::unique_ptr<Pipeline> Create(process::ProcessTable& table, Options options,
                                          std::string& error);
  ~Pipeline() override;

  // The tracker limits HttpCapture::Create derives from the default Config.
  static net::TrackerLimits DefaultTrackerLimits();

  // HttpCapture::OnRecord: one record of the socket ring buffer.
  void OnRecord(const void* data, std::size_t size);
  // What HttpCapture::PollLoop does after each batch of records: idle
  // connections are expired every second of capture time (`now_ns`, the last
  // record's timestamp: the capture's clock, not the machine's), gauges updated.
  void AfterBatch(std::uint64_t now_ns);
  // Takes every queued span, as the export thread would; returns how many.
  std::size_t DrainSpans();

  void Skip(const net::ConnId& conn) override;
  void FollowClosely(const net::ConnId& conn) override;

  const Tally& tally() const { return tally_; }
  telemetry::MetricRegistry& registry() { return registry_; }
  const net::ConnTracker& tracker() const { return *tracker_; }

 private:
  class Sink;
  class CountingCalls;

  Pipeline();

  telemetry::MetricRegistry registry_;
  telemetry::SelfMetrics self_;
  // infrared_events by source, kept as HttpCapture keeps them.
  enum { kOpen, kData, kClose, kLibrary };
  std::array<telemetry::Counter*, 4> sock_events_{};
  core::MonotonicToUnix to_unix_{0};
  telemetry::RandomIdGenerator ids_{9};
  std::unique_ptr<telemetry::SpanQueue> spans_;
  std::unique_ptr<semantics::GenAiObserver> genai_;
  std::unique_ptr<CountingCalls> calls_;
  std::unique_ptr<semantics::HttpObserver> observer_;
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<net::ConnTracker> tracker_;
  std::vector<telemetry::Span> batch_;
  std::uint64_t next_expiry_ns_ = 0;
  std::size_t tracked_connections_ = 0;
  Tally tally_;
};

}  // namespace infrared::bench
