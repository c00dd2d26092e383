#include "agent/core/http_capture.h"

#include <chrono>

#include "agent/core/workloads.h"

namespace infrared::core {
namespace {

constexpr int kPollTimeoutMs = 100;
constexpr std::size_t kSpanBatch = 256;

}  // namespace

HttpCapture::HttpCapture(const Config& config, Logger& logger, telemetry::SelfMetrics& self)
    : config_(config),
      logger_(logger),
      self_(self),
      selected_executables_(config.capture_executables.begin(), config.capture_executables.end()) {}

HttpCapture::~HttpCapture() { Stop(); }

std::unique_ptr<HttpCapture> HttpCapture::Create(const Config& config, Logger& logger,
                                                 telemetry::MetricRegistry& registry,
                                                 telemetry::SelfMetrics& self,
                                                 process::ProcessTable& table, OtlpExport* otlp,
                                                 std::string& error) {
  std::unique_ptr<HttpCapture> capture(new HttpCapture(config, logger, self));
  capture->otlp_ = otlp;
  if (!config.spans_output.empty() || otlp) {
    capture->spans_ = std::make_unique<telemetry::SpanQueue>(config.spans_queue_size);
  }
  HttpCapture* raw = capture.get();
  capture->pipeline_ = ExchangePipeline::Create(
      config,
      ExchangePipeline::Dependencies{
          .registry = registry,
          .self = self,
          .table = table,
          .decisions = *capture,
          .spans = capture->spans_.get(),
          .ids = capture->ids_,
          .to_unix_ns = [raw](std::uint64_t ns) { return raw->to_unix_(ns); },
          .on_library =
              [raw](std::uint32_t pid) {
                if (raw->tls_) raw->tls_->Enqueue(pid);
              },
          // In a pod the host name is the pod's: the node's name is the host's.
          .host_name = NodeName(config),
      },
      error);
  if (!capture->pipeline_) return nullptr;
  if (!config.spans_output.empty()) {
    capture->writer_ = console::SpanWriter::Open(config.spans_output, error);
    if (!capture->writer_) return nullptr;
  }
  capture->probes_ = loader::SockProbes::Create(
      config, logger,
      [raw](const void* data, std::size_t size) { raw->pipeline_->OnRecord(data, size); },
      error);
  if (!capture->probes_) return nullptr;
  if (config.http_tls) {
    std::unique_ptr<loader::TlsProbes> tls_probes =
        loader::TlsProbes::Create(config, logger, *capture->probes_, error);
    if (!tls_probes) return nullptr;
    capture->tls_ = std::make_unique<TlsCapture>(std::move(tls_probes), logger, self);
    capture->tls_->AttachHostLibraries();
  }
  if (capture->writer_) self.Dropped("spans", "write_failed", 0);
  return capture;
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
  std::vector<infrared_sock_open_event> parked_opens;
  std::vector<infrared_sock_close_event> parked;
  while (!stop_.load()) {
    parked_opens.clear();
    parked.clear();
    // Both before the drain: the opens are handed on ahead of it (they precede
    // their connections' events), the closes after it (they follow them). The
    // closes first: an open parked before a close taken here is taken too.
    probes_->TakeParkedCloses(parked);
    probes_->TakeParkedOpens(parked_opens);
    for (const infrared_sock_open_event& open : parked_opens) {
      pipeline_->OnRecord(&open, sizeof(open));
    }
    int handled = probes_->Poll(kPollTimeoutMs);
    if (handled >= 0) handled = probes_->Consume();
    if (handled < 0 && handled != -EINTR) {
      logger_.Error("http", "polling the socket ring buffer failed", {{"errno", -handled}});
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollTimeoutMs));
    }
    for (const infrared_sock_close_event& close : parked) {
      pipeline_->OnRecord(&close, sizeof(close));
    }
    pipeline_->AfterDrain(MonotonicToUnix::NowMonotonicNs());
    const net::ConnTracker& tracker = pipeline_->tracker();
    tracked_connections_ = tracker.Size();
    idle_connections_ = tracker.Dormant();
    const net::ConnTracker::Counts& counts = tracker.counts();
    http_connections_ = counts.http_connections;
    not_http_connections_ = counts.not_http_connections;
    garbage_bytes_ = counts.garbage_bytes;
    // The requests the kernel counted on connections refused a place join
    // those the tracker counted from their bytes copied before it was told.
    if (counts.refused_connections > 0) {
      const std::uint64_t untracked = probes_->Counter(INFRARED_SOCK_COUNT_UNTRACKED_REQUESTS);
      if (untracked > untracked_requests_) {
        self_.Dropped("conn_tracker", "request_untracked",
                      static_cast<double>(untracked - untracked_requests_));
        untracked_requests_ = untracked;
      }
    }
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

void HttpCapture::CountOnly(const net::ConnId& conn) { probes_->CountOnly(conn); }

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
  calls.samples.push_back({{{"reason", "table_full"}},
                           static_cast<double>(counters[INFRARED_SOCK_COUNT_UNTRACKED_CALLS])});
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
  counter("infrared_tls_stream_walks",
          "Walks of the kernel's TLS stream map to find a stream to flag, on kernels that "
          "cannot run the agent's syscall program (each costs two syscalls a live stream).",
          probes_->TlsStreamWalks());
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

  telemetry::MetricFamily idle;
  idle.name = "infrared_idle_connections";
  idle.help =
      "TCP connections silent longer than http.connection_idle_seconds: no longer followed, "
      "their endpoints and loss counts kept until they resume or close.";
  idle.type = telemetry::MetricType::kGauge;
  idle.samples.push_back({{}, static_cast<double>(idle_connections_.load())});
  out.push_back(std::move(idle));

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
