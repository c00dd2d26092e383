#include "agent/core/http_capture.h"

#include <chrono>
#include <variant>

#include "agent/core/workloads.h"
#include "agent/genai/detect.h"

namespace infrared::core {
namespace {

constexpr int kPollTimeoutMs = 100;
constexpr std::size_t kSpanBatch = 256;
constexpr std::uint64_t kExpireEveryNs = 1'000'000'000;

genai::Gateways GatewaysOf(const Config& config) {
  genai::Gateways gateways;
  for (const std::string& pair : config.genai_gateways) {
    const std::size_t equals = pair.find('=');
    gateways.hosts.emplace_back(pair.substr(0, equals), pair.substr(equals + 1));
  }
  return gateways;
}

}  // namespace

HttpCapture::HttpCapture(const Config& config, Logger& logger, telemetry::SelfMetrics& self)
    : config_(config),
      logger_(logger),
      self_(self),
      sock_events_{&self.EventCounter("sock_open"), &self.EventCounter("sock_data"),
                   &self.EventCounter("sock_close"), &self.EventCounter("sock_library")},
      selected_executables_(config.capture_executables.begin(), config.capture_executables.end()) {}

HttpCapture::~HttpCapture() { Stop(); }

std::unique_ptr<HttpCapture> HttpCapture::Create(const Config& config, Logger& logger,
                                                 telemetry::MetricRegistry& registry,
                                                 telemetry::SelfMetrics& self,
                                                 process::ProcessTable& table, OtlpExport* otlp,
                                                 std::string& error) {
  std::unique_ptr<HttpCapture> capture(new HttpCapture(config, logger, self));
  std::optional<semantics::RouteMatcher> routes;
  if (!config.http_route_patterns.empty()) {
    routes = semantics::RouteMatcher::Create(config.http_route_patterns, error);
    if (!routes) return nullptr;
  }
  if (!config.spans_output.empty()) {
    capture->writer_ = console::SpanWriter::Open(config.spans_output, error);
    if (!capture->writer_) return nullptr;
  }
  capture->otlp_ = otlp;
  if (capture->writer_ || otlp) {
    capture->spans_ = std::make_unique<telemetry::SpanQueue>(config.spans_queue_size);
  }
  HttpCapture* raw = capture.get();
  if (config.genai_enabled) {
    std::optional<genai::PriceTable> prices = genai::LoadPrices(config.genai_prices_file, error);
    if (!prices) return nullptr;
    semantics::GenAiObserver::Options options;
    options.gateways = GatewaysOf(config);
    options.reader.capture_content = config.capture_content;
    options.content_max_bytes = config.capture_content_max_bytes;
    options.on_body_problem = [raw](const std::string& problem) {
      raw->self_.Dropped("genai_body", problem);
    };
    for (const char* problem : {"truncated", "capped", "unsupported_encoding", "decode_error"}) {
      self.Dropped("genai_body", problem, 0);
    }
    capture->genai_ =
        std::make_unique<semantics::GenAiObserver>(registry, std::move(*prices), options);
  }
  capture->observer_ =
      std::make_unique<semantics::HttpObserver>(semantics::HttpObserver::Dependencies{
          .registry = registry,
          .calls = capture->genai_.get(),
          .spans = capture->spans_.get(),
          .ids = capture->ids_,
          .process = [&table](std::uint32_t pid) { return table.FindIdentity(pid); },
          .to_unix_ns = [raw](std::uint64_t ns) { return raw->to_unix_(ns); },
          .on_span_dropped = [raw] { raw->self_.Dropped("spans", "queue_full"); },
          .on_llm_call = [&table](std::uint32_t pid) { table.MarkLlmCaller(pid); },
          // In a pod the host name is the pod's: the node's name is the host's.
          .host_name = NodeName(config),
          .routes = std::move(routes),
          // Series that never expire keep their routes' places for good.
          .route_idle_ns = config.metrics_series_idle_seconds == 0
                               ? ~std::uint64_t{0}
                               : std::uint64_t{config.metrics_series_idle_seconds} * 1'000'000'000,
          .on_route_folded = [raw] { raw->self_.Dropped("http", "route_over_cap"); },
      });
  net::TrackerLimits limits;
  limits.max_connections = config.http_max_connections;
  limits.idle_ns = std::uint64_t{config.http_connection_idle_seconds} * 1'000'000'000;
  if (capture->genai_) {
    // LLM calls keep long bodies: their usage comes at the end of the response.
    limits.parser.full_body_capture_bytes = config.genai_max_body_bytes;
    limits.parser.follows_closely = [gateways = GatewaysOf(config)](std::string_view method,
                                                                    std::string_view target) {
      return genai::DetectCall(method, target, "", {}, gateways).has_value();
    };
  }
  capture->tracker_ = std::make_unique<net::ConnTracker>(
      limits, *capture->observer_, *capture, [raw](const char* reason, std::uint64_t count) {
        raw->self_.Dropped("conn_tracker", reason, static_cast<double>(count));
      });
  capture->probes_ = loader::SockProbes::Create(
      config, logger, [raw](const void* data, std::size_t size) { raw->OnRecord(data, size); },
      error);
  if (!capture->probes_) return nullptr;
  if (config.http_tls) {
    std::unique_ptr<loader::TlsProbes> tls_probes =
        loader::TlsProbes::Create(config, logger, *capture->probes_, error);
    if (!tls_probes) return nullptr;
    capture->tls_ = std::make_unique<TlsCapture>(std::move(tls_probes), logger, self);
    capture->tls_->AttachHostLibraries();
  }
  for (const char* reason : {"table_full", "connection_expired", "request_lost", "response_lost",
                             "exchange_lost", "pending_overflow", "stream_gap", "parser_resync"}) {
    self.Dropped("conn_tracker", reason, 0);
  }
  self.Dropped("http", "route_over_cap", 0);
  for (auto decode_error :
       {net::SockDecodeError::kTruncated, net::SockDecodeError::kUnknownType,
        net::SockDecodeError::kBadLength, net::SockDecodeError::kBadDirection}) {
    self.Dropped("sock_ringbuf", net::SockDecodeErrorName(decode_error), 0);
  }
  if (capture->spans_) self.Dropped("spans", "queue_full", 0);
  if (capture->writer_) self.Dropped("spans", "write_failed", 0);
  return capture;
}

void HttpCapture::OnRecord(const void* data, std::size_t size) {
  std::visit(
      [this](const auto& event) {
        using Event = std::decay_t<decltype(event)>;
        if constexpr (std::is_same_v<Event, net::OpenEvent>) {
          sock_events_[kOpen]->Inc();
          tracker_->OnOpen(event);
        } else if constexpr (std::is_same_v<Event, net::DataEvent>) {
          sock_events_[kData]->Inc();
          tracker_->OnData(event);
        } else if constexpr (std::is_same_v<Event, net::CloseEvent>) {
          sock_events_[kClose]->Inc();
          tracker_->OnClose(event);
        } else if constexpr (std::is_same_v<Event, net::LibraryEvent>) {
          sock_events_[kLibrary]->Inc();
          if (tls_) tls_->Enqueue(event.pid);
        } else {
          self_.Dropped("sock_ringbuf", net::SockDecodeErrorName(event));
        }
      },
      net::DecodeSockEvent(data, size));
}

void HttpCapture::Start() {
  if (tls_) tls_->Start();
  poller_ = std::thread([this] { PollLoop(); });
  if (spans_) exporter_ = std::thread([this] { ExportLoop(); });
}

void HttpCapture::Stop() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  if (tls_) tls_->Stop();
  if (spans_) spans_->Close();
  if (exporter_.joinable()) exporter_.join();
}

void HttpCapture::PollLoop() {
  std::uint64_t next_expiry = MonotonicToUnix::NowMonotonicNs() + kExpireEveryNs;
  std::vector<infrared_sock_open_event> parked_opens;
  std::vector<infrared_sock_close_event> parked;
  while (!stop_.load()) {
    parked_opens.clear();
    parked.clear();
    // Both before the drain: the opens are handed on ahead of it (they precede
    // their connections' events), the closes after it (they follow them).
    probes_->TakeParkedOpens(parked_opens);
    probes_->TakeParkedCloses(parked);
    for (const infrared_sock_open_event& open : parked_opens) OnRecord(&open, sizeof(open));
    int handled = probes_->Poll(kPollTimeoutMs);
    if (handled >= 0) handled = probes_->Consume();
    if (handled < 0 && handled != -EINTR) {
      logger_.Error("http", "polling the socket ring buffer failed", {{"errno", -handled}});
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollTimeoutMs));
    }
    for (const infrared_sock_close_event& close : parked) OnRecord(&close, sizeof(close));
    const std::uint64_t now = MonotonicToUnix::NowMonotonicNs();
    if (now >= next_expiry) {
      tracker_->Expire(now);
      next_expiry = now + kExpireEveryNs;
    }
    tracked_connections_ = tracker_->Size();
    const net::ConnTracker::Counts& counts = tracker_->counts();
    http_connections_ = counts.http_connections;
    not_http_connections_ = counts.not_http_connections;
    garbage_bytes_ = counts.garbage_bytes;
  }
}

void HttpCapture::ExportLoop() {
  std::vector<telemetry::Span> batch;
  for (;;) {
    batch.clear();
    std::size_t popped = spans_->PopBatch(batch, kSpanBatch, std::chrono::milliseconds(200));
    if (popped == 0) {
      if (spans_->Closed() && spans_->Size() == 0) return;
      continue;
    }
    if (writer_ && !writer_->WriteBatch(batch)) {
      self_.Dropped("spans", "write_failed", static_cast<double>(batch.size()));
    }
    if (otlp_) {
      for (telemetry::Span& span : batch) otlp_->Offer(std::move(span));
    }
  }
}

void HttpCapture::OnProcess(std::uint32_t pid, const std::string& executable_name) {
  if (!selected_executables_.empty() && selected_executables_.count(executable_name)) {
    probes_->Select(pid, true);
  }
  if (tls_) tls_->ExamineNow(pid);
}

void HttpCapture::OnExec(std::uint32_t pid, const std::string& filename) {
  if (tls_) tls_->Enqueue(pid, filename);
}

void HttpCapture::Skip(const net::ConnId& conn) { probes_->Skip(conn); }

void HttpCapture::FollowClosely(const net::ConnId& conn) { probes_->FollowClosely(conn); }

void HttpCapture::Collect(std::vector<telemetry::MetricFamily>& out) {
  static constexpr const char* kDrops[INFRARED_SOCK_DROP_COUNT] = {
      "ringbuf_full",      "conn_map_full", "iovec_limit",
      "payload_truncated", "io_map_full",   "selected_map_full", "tls_map_full"};
  out.push_back(telemetry::DroppedFamily("kernel_sock", kDrops, probes_->Drops()));

  auto counters = probes_->Counters();
  telemetry::MetricFamily calls;
  calls.name = "infrared_capture_skipped_calls";
  calls.help = "Socket reads and writes the kernel did not copy, by why.";
  calls.type = telemetry::MetricType::kCounter;
  calls.samples.push_back(
      {{{"reason", "not_http"}}, static_cast<double>(counters[INFRARED_SOCK_COUNT_SKIPPED_CALLS])});
  calls.samples.push_back({{{"reason", "not_selected"}},
                           static_cast<double>(counters[INFRARED_SOCK_COUNT_UNSELECTED_CALLS])});
  calls.samples.push_back(
      {{{"reason", "tls_ciphertext"}}, static_cast<double>(counters[INFRARED_SOCK_COUNT_TLS_CALLS])});
  out.push_back(std::move(calls));

  auto counter = [&out](const char* name, const char* help, std::uint64_t value) {
    telemetry::MetricFamily family;
    family.name = name;
    family.help = help;
    family.type = telemetry::MetricType::kCounter;
    family.samples.push_back({{}, static_cast<double>(value)});
    out.push_back(std::move(family));
  };
  counter("infrared_tls_calls", "TLS library calls whose plaintext was captured.",
          counters[INFRARED_SOCK_COUNT_TLS_DATA_CALLS]);
  counter("infrared_tls_socket_guesses",
          "TLS streams tied to their thread's last TLS socket call because the TLS call made no "
          "syscall itself (node); their endpoints may be wrong.",
          counters[INFRARED_SOCK_COUNT_TLS_FD_GUESSED]);
  if (tls_) tls_->Collect(out);

  telemetry::MetricFamily tracked;
  tracked.name = "infrared_tracked_connections";
  tracked.help = "TCP connections whose payloads the agent is following.";
  tracked.type = telemetry::MetricType::kGauge;
  tracked.samples.push_back({{}, static_cast<double>(tracked_connections_.load())});
  out.push_back(std::move(tracked));

  telemetry::MetricFamily decided;
  decided.name = "infrared_http_connections";
  decided.help = "Connections and TLS streams the agent decided do or do not carry HTTP/1.x.";
  decided.type = telemetry::MetricType::kCounter;
  decided.samples.push_back({{{"verdict", "http"}}, static_cast<double>(http_connections_.load())});
  decided.samples.push_back(
      {{{"verdict", "not_http"}}, static_cast<double>(not_http_connections_.load())});
  out.push_back(std::move(decided));
  counter("infrared_http_parser_skipped_bytes",
          "Bytes the HTTP parsers skipped as not HTTP while looking for a message start, counted "
          "when their connection ends.",
          garbage_bytes_.load());
}

}  // namespace infrared::core
