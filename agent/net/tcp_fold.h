#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "agent/telemetry/metric_family.h"
#include "infrared/abi/tcp.h"

namespace infrared::net {

// Who a process is, as TCP metrics name it.
struct TcpProcessNames {
  std::string service_name;
  std::string executable_name;
  // k8s_namespace_name, k8s_pod_name, k8s_container_name, container_id: the
  // non-empty ones, in that order.
  std::vector<std::pair<std::string, std::string>> workload_labels;
  bool reported = true;  // false: select.* / exclude.* leave the process out
};

// Folds what the kernel reports per socket (connect and close records, and the
// live sockets of the tcp_socks map read at scrape) into per-process, per-peer
// series. Not thread-safe: the owner serialises calls. Bounded: at most
// max_peers_per_process distinct peers per process (the rest fold into
// server_address="other") and max_series series in all (the rest are dropped
// and counted).
class TcpFolder {
 public:
  struct Limits {
    std::size_t max_peers_per_process = 100;
    std::size_t max_series = 20000;
    std::size_t max_open_sockets = 65536;  // sockets remembered as already counted open
    // Series with no live connection and nothing new for this long are let go
    // (processes, pods and peers that are gone); 0: never.
    std::uint64_t series_idle_ns = 0;
  };
  using ResolveFn = std::function<std::optional<TcpProcessNames>(std::uint32_t pid)>;
  using ClockFn = std::function<std::uint64_t()>;  // monotonic ns

  TcpFolder(Limits limits, ResolveFn resolve, ClockFn now = nullptr);

  // An outbound connect finished (INFRARED_TCP_CONNECT).
  void OnConnect(const infrared_tcp_record& record);
  // An established connection closed (INFRARED_TCP_CLOSE): its final figures.
  void OnClose(const infrared_tcp_record& record);
  // Appends the tcp_* families, given the sockets alive in the kernel now.
  void Collect(std::span<const infrared_tcp_sock> live, std::vector<telemetry::MetricFamily>& out);

  // Connections whose peer was folded into "other" (over the per-process cap).
  std::uint64_t PeersFolded() const { return peers_folded_; }
  // Connections not reported at all: the series table or the socket set was full.
  std::uint64_t SeriesDropped() const { return series_dropped_; }
  std::uint64_t SocketsDropped() const { return sockets_dropped_; }

 private:
  // service (service_name, then each workload label as "\0name=value": names
  // read from C strings cannot hold a NUL), process_executable_name,
  // server_address, server_port, direction
  using SeriesKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;
  struct Counters {
    std::uint64_t opened = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t retransmits = 0;
    std::uint64_t resets_sent = 0;
    std::uint64_t resets_received = 0;
  };
  struct Histo {
    std::vector<std::uint64_t> buckets;  // not cumulative, bounds.size() + 1
    double sum = 0;
    std::uint64_t count = 0;
    std::uint64_t last_used_ns = 0;  // connects_ only
    void Observe(const std::vector<double>& bounds, double value);
  };
  struct Series {
    Counters folded;    // connections that ended, and opens already counted
    Counters reported;  // highest values exported, so counters never go back
    Histo rtt;
    Histo lifetime;
    std::uint64_t last_used_ns = 0;
  };
  using SockKey = std::pair<std::uint64_t, std::uint64_t>;  // sock address, open time
  struct OpenSock {
    int absent_scrapes = 0;  // consecutive scrapes that did not find it in the map
    SeriesKey key;           // the series it was counted open in
  };

  // The series of a socket, made on first use; nullptr when full.
  Series* SeriesOf(const infrared_tcp_sock& sock, SeriesKey* key_out = nullptr);
  // nullopt: the socket's process is not reported.
  std::optional<SeriesKey> KeyOf(const infrared_tcp_sock& sock);
  void EmitFamilies(const std::map<SeriesKey, Counters>& live_sums,
                    const std::map<SeriesKey, std::uint64_t>& active,
                    std::vector<telemetry::MetricFamily>& out);
  // Lets idle series go (Limits::series_idle_ns), and their peers' places.
  void RemoveIdle();
  std::uint64_t Now() const { return now_ ? now_() : 0; }
  // Counts the socket open once, whether first seen live or at its close.
  void CountOpen(const infrared_tcp_sock& sock, const SeriesKey& series_key, Series& series,
                 bool closing);

  Limits limits_;
  ResolveFn resolve_;
  ClockFn now_;
  std::map<SeriesKey, Series> series_;
  std::map<SeriesKey, Histo> connects_;  // the last element is the outcome
  std::map<std::pair<std::string, std::string>, std::set<std::pair<std::string, std::string>>>
      peers_;
  std::map<SockKey, OpenSock> open_;
  std::uint64_t peers_folded_ = 0;
  std::uint64_t series_dropped_ = 0;
  std::uint64_t sockets_dropped_ = 0;
};

// Bucket bounds of the tcp_* histograms, in seconds.
const std::vector<double>& TcpConnectBuckets();
const std::vector<double>& TcpRttBuckets();
const std::vector<double>& TcpLifetimeBuckets();

}  // namespace infrared::net
