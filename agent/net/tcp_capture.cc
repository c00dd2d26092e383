#include "agent/net/tcp_capture.h"

#include "agent/core/clock.h"

#include <algorithm>
#include <chrono>

#include "agent/net/tcp_records.h"

namespace infrared::net {
namespace {

// Records wait in the ring buffer (1 MiB, ~7000 records) at most this long.
constexpr auto kDrainInterval = std::chrono::milliseconds(50);

}  // namespace

TcpCapture::TcpCapture(telemetry::SelfMetrics& self, process::ProcessTable& table,
                       std::uint64_t series_idle_ns)
    : self_(self),
      folder_(TcpFolder::Limits{.series_idle_ns = series_idle_ns},
              [&table](std::uint32_t pid) -> std::optional<TcpProcessNames> {
        std::optional<process::ProcessEntry> entry = table.Find(pid);
        if (!entry) {
          // Unknown owners are "unknown", unless a selection is in force.
          if (!table.Selective()) return std::nullopt;
          TcpProcessNames unknown;
          unknown.reported = false;
          return unknown;
        }
        TcpProcessNames names{entry->service_name, entry->executable_name, {}, entry->reported};
        for (auto& [name, value] : process::WorkloadLabels(entry->workload)) {
          // The series key separates labels with NUL: API names could carry one (\u0000).
          std::replace(value.begin(), value.end(), '\0', '?');
          if (!value.empty()) names.workload_labels.emplace_back(name, std::move(value));
        }
        return names;
      },
              [] { return core::MonotonicToUnix::NowMonotonicNs(); }) {}

TcpCapture::~TcpCapture() { Stop(); }

std::unique_ptr<TcpCapture> TcpCapture::Create(core::Logger& logger, telemetry::SelfMetrics& self,
                                               process::ProcessTable& table,
                                               std::uint64_t series_idle_ns, std::string& error) {
  std::unique_ptr<TcpCapture> capture(new TcpCapture(self, table, series_idle_ns));
  TcpCapture* raw = capture.get();
  capture->probes_ = loader::TcpProbes::Create(
      logger, [raw](const void* data, std::size_t size) { raw->OnRecord(data, size); }, error);
  if (!capture->probes_) return nullptr;
  for (auto decode_error : {TcpDecodeError::kTruncated, TcpDecodeError::kUnknownType}) {
    self.Dropped("ringbuf", TcpDecodeErrorName(decode_error), 0);
  }
  return capture;
}

void TcpCapture::Start() {
  poller_ = std::thread([this] {
    while (!stop_.load()) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        probes_->Consume();
      }
      std::this_thread::sleep_for(kDrainInterval);
    }
  });
}

void TcpCapture::Stop() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
}

// Called with mutex_ held (from Consume).
void TcpCapture::OnRecord(const void* data, std::size_t size) {
  TcpDecodeError error{};
  std::optional<infrared_tcp_record> record = DecodeTcpRecord(data, size, error);
  if (!record) {
    self_.Dropped("ringbuf", TcpDecodeErrorName(error));
    return;
  }
  if (record->type == INFRARED_TCP_CONNECT) {
    folder_.OnConnect(*record);
  } else {
    folder_.OnClose(*record);
  }
}

void TcpCapture::Collect(std::vector<telemetry::MetricFamily>& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  // Records first, then the map: a socket closed in between is missing from
  // both for one scrape (counters hold their value), never counted twice.
  probes_->Consume();
  folder_.Collect(probes_->LiveSockets(), out);
  DropsLocked(out);
}

void TcpCapture::CollectDrops(std::vector<telemetry::MetricFamily>& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  DropsLocked(out);
}

void TcpCapture::DropsLocked(std::vector<telemetry::MetricFamily>& out) {
  static constexpr const char* kKernelReasons[INFRARED_TCP_DROP_COUNT] = {
      "ringbuf_full", "sock_map_full", "listen_map_full"};
  out.push_back(telemetry::DroppedFamily("tcp_kernel", kKernelReasons, probes_->Drops()));
  static constexpr const char* kFoldReasons[] = {"peer_over_cap", "series_full",
                                                 "open_set_full"};
  const std::uint64_t folds[] = {folder_.PeersFolded(), folder_.SeriesDropped(),
                                 folder_.SocketsDropped()};
  out.push_back(telemetry::DroppedFamily("tcp", kFoldReasons, folds));
}

}  // namespace infrared::net
