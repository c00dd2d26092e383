#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "agent/core/config.h"
#include "agent/net/conn_tracker.h"
#include "agent/process/process_table.h"
#include "agent/semantics/genai_observer.h"
#include "agent/semantics/http_observer.h"
#include "agent/telemetry/metric_registry.h"
#include "agent/telemetry/self_metrics.h"
#include "agent/telemetry/span_queue.h"
#include "agent/telemetry/trace_context.h"

namespace infrared::core {

// The userspace half of HTTP capture, without BPF: socket ring-buffer records
// decoded and handed to the connection tracker and its parsers, exchanges to
// the HTTP observer (metrics, spans) and client ones to the GenAI observer.
// HttpCapture feeds it from the kernel; the pipeline benchmark from a capture.
class ExchangePipeline {
 public:
  struct Dependencies {
    telemetry::MetricRegistry& registry;
    telemetry::SelfMetrics& self;
    // Answers the observer's process lookups and learns which call LLMs.
    process::ProcessTable& table;
    // Where the tracker's decisions for the kernel go (skip, follow closely).
    net::ConnDecisions& decisions;
    telemetry::SpanQueue* spans = nullptr;  // nullptr: spans are not built
    telemetry::IdGenerator& ids;
    std::function<std::uint64_t(std::uint64_t monotonic_ns)> to_unix_ns;
    // A process mapped a TLS library (the kernel saw it); may be empty.
    std::function<void(std::uint32_t pid)> on_library;
    std::string host_name;  // host.name on spans
  };

  // nullptr with `error` set when a route pattern is invalid or the price
  // table cannot be loaded. The dependencies must outlive the pipeline.
  static std::unique_ptr<ExchangePipeline> Create(const Config& config, Dependencies deps,
                                                  std::string& error);
  ~ExchangePipeline();
  ExchangePipeline(const ExchangePipeline&) = delete;
  ExchangePipeline& operator=(const ExchangePipeline&) = delete;

  // The tracker's limits under `config`.
  static net::TrackerLimits TrackerLimitsOf(const Config& config);

  // One record of the socket ring buffer.
  void OnRecord(const void* data, std::size_t size);
  // After each drain of the ring buffer: idle connections are expired once a
  // second of `now_ns` (monotonic, or a capture's own clock).
  void AfterDrain(std::uint64_t now_ns);

  const net::ConnTracker& tracker() const { return *tracker_; }

 private:
  explicit ExchangePipeline(Dependencies deps);

  Dependencies deps_;
  // infrared_events_total{source="sock_open"|"sock_data"|"sock_close"|"sock_library"|
  // "sock_tls_socket"}.
  enum { kOpen, kData, kClose, kLibrary, kTlsSocket };
  std::array<telemetry::Counter*, 5> sock_events_{};
  std::unique_ptr<semantics::GenAiObserver> genai_;
  std::unique_ptr<semantics::HttpObserver> observer_;
  std::unique_ptr<net::ConnTracker> tracker_;
  std::uint64_t next_expiry_ns_ = 0;
};

}  // namespace infrared::core
