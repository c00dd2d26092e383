#include "agent/net/tcp_fold.h"

#include <algorithm>
#include <utility>

#include "agent/net/tcp_records.h"

namespace infrared::net {
namespace {

using telemetry::HistogramSample;
using telemetry::Labels;
using telemetry::MetricFamily;
using telemetry::MetricType;

constexpr const char* kOther = "other";
constexpr const char* kUnknown = "unknown";

MetricFamily MakeFamily(const char* name, const char* help, const char* unit, MetricType type,
                        const std::vector<double>* bounds = nullptr) {
  MetricFamily family;
  family.name = name;
  family.help = help;
  family.unit = unit;
  family.type = type;
  if (bounds) family.bucket_bounds = *bounds;
  return family;
}

const char* OutcomeName(std::uint32_t outcome) {
  switch (outcome) {
    case INFRARED_TCP_ESTABLISHED:
      return "established";
    case INFRARED_TCP_REFUSED:
      return "refused";
    case INFRARED_TCP_TIMEOUT:
      return "timeout";
    default:
      return "reset";
  }
}

const char* DirectionName(std::uint8_t direction) {
  return direction == INFRARED_TCP_INBOUND ? "inbound" : "outbound";
}

}  // namespace

const std::vector<double>& TcpConnectBuckets() {
  static const std::vector<double> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                              0.01,   0.025,   0.05,   0.075, 0.1,    0.125,
                                              0.15,   0.2,     0.25,   0.5,   1,      2.5,
                                              5,      10,      30,     60,    130};
  return kBounds;
}

const std::vector<double>& TcpRttBuckets() {
  static const std::vector<double> kBounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                              0.005,   0.01,   0.025,   0.05,   0.075, 0.09,
                                              0.1,     0.11,   0.125,   0.15,   0.2,   0.25,
                                              0.5,     1,      2.5};
  return kBounds;
}

const std::vector<double>& TcpLifetimeBuckets() {
  static const std::vector<double> kBounds = {0.001, 0.01, 0.1, 0.5, 1,    5,    10,
                                              30,    60,   300, 900, 3600, 14400, 86400};
  return kBounds;
}

void TcpFolder::Histo::Observe(const std::vector<double>& bounds, double value) {
  if (buckets.empty()) buckets.assign(bounds.size() + 1, 0);
  std::size_t index = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  ++buckets[index];
  sum += value;
  ++count;
}

TcpFolder::TcpFolder(Limits limits, ResolveFn resolve, ClockFn now)
    : limits_(limits), resolve_(std::move(resolve)), now_(std::move(now)) {}

std::optional<TcpFolder::SeriesKey> TcpFolder::KeyOf(const infrared_tcp_sock& sock) {
  std::optional<TcpProcessNames> names;
  // tgid 0 (owner not known) is asked too: with a selection in force it is not reported.
  if (resolve_) names = resolve_(sock.tgid);
  if (names && !names->reported) return std::nullopt;
  std::string service = names ? names->service_name : kUnknown;
  if (names) {
    for (const auto& [name, value] : names->workload_labels) {
      service += '\0' + name + '=' + value;
    }
  }
  std::string executable = names ? names->executable_name : kUnknown;
  // Inbound connections are named by the local end: clients are unbounded.
  const bool inbound = sock.direction == INFRARED_TCP_INBOUND;
  std::string address = TcpAddressText(sock.family, inbound ? sock.local_addr : sock.remote_addr);
  std::string port = std::to_string(inbound ? sock.local_port : sock.remote_port);
  auto& peers = peers_[{service, executable}];
  auto peer = std::make_pair(address, port);
  if (!peers.contains(peer)) {
    if (peers.size() >= limits_.max_peers_per_process) {
      ++peers_folded_;
      address = kOther;
      port = kOther;
    } else {
      peers.insert(std::move(peer));
    }
  }
  return SeriesKey{std::move(service), std::move(executable), std::move(address), std::move(port),
                   DirectionName(sock.direction)};
}

TcpFolder::Series* TcpFolder::SeriesOf(const infrared_tcp_sock& sock, SeriesKey* key_out) {
  // A socket already counted open stays in the series it was counted in: its process's
  // names may change meanwhile (its container's name found, a selection admitting it),
  // and its bytes must not count in two series.
  auto open = open_.find({sock.sock_id, sock.open_ns});
  std::optional<SeriesKey> found = open != open_.end() ? open->second.key : KeyOf(sock);
  if (!found) return nullptr;
  SeriesKey& key = *found;
  auto it = series_.find(key);
  if (it == series_.end()) {
    if (series_.size() >= limits_.max_series) {
      ++series_dropped_;
      return nullptr;
    }
    it = series_.emplace(key, Series{}).first;
  }
  it->second.last_used_ns = Now();
  if (key_out) *key_out = std::move(key);
  return &it->second;
}

void TcpFolder::CountOpen(const infrared_tcp_sock& sock, const SeriesKey& series_key,
                          Series& series, bool closing) {
  const SockKey key{sock.sock_id, sock.open_ns};
  auto it = open_.find(key);
  if (it != open_.end()) {
    if (closing) open_.erase(it);
    return;
  }
  if (!closing) {
    // When full the open is counted at close instead.
    if (open_.size() >= limits_.max_open_sockets) {
      ++sockets_dropped_;
      return;
    }
    open_.emplace(key, OpenSock{.absent_scrapes = 0, .key = series_key});
  }
  ++series.folded.opened;
}

void TcpFolder::OnConnect(const infrared_tcp_record& record) {
  std::optional<SeriesKey> found = KeyOf(record.sock);
  if (!found) return;
  SeriesKey& histo_key = *found;
  std::get<4>(histo_key) = OutcomeName(record.outcome);  // connects are all outbound
  auto it = connects_.find(histo_key);
  if (it == connects_.end()) {
    if (connects_.size() >= limits_.max_series) {
      ++series_dropped_;
      return;
    }
    it = connects_.emplace(std::move(histo_key), Histo{}).first;
  }
  it->second.last_used_ns = Now();
  it->second.Observe(TcpConnectBuckets(), static_cast<double>(record.duration_ns) / 1e9);
}

void TcpFolder::OnClose(const infrared_tcp_record& record) {
  const infrared_tcp_sock& sock = record.sock;
  SeriesKey key;
  Series* series = SeriesOf(sock, &key);
  if (!series) return;
  CountOpen(sock, key, *series, /*closing=*/true);
  Counters& folded = series->folded;
  folded.bytes_sent += sock.bytes_sent;
  folded.bytes_received += sock.bytes_received;
  folded.retransmits += sock.retransmits;
  folded.resets_sent += sock.resets_sent;
  folded.resets_received += sock.resets_received;
  if (sock.srtt_us != 0) {
    series->rtt.Observe(TcpRttBuckets(), static_cast<double>(sock.srtt_us) / 1e6);
  }
  series->lifetime.Observe(TcpLifetimeBuckets(), static_cast<double>(record.duration_ns) / 1e9);
}

namespace {

// `service` as KeyOf made it: the service name, then "\0name=value" labels.
Labels SeriesLabels(const std::string& service, const std::string& executable,
                    const std::string& address, const std::string& port) {
  std::size_t end = service.find('\0');
  Labels labels = {{"service_name", service.substr(0, end)},
                   {"process_executable_name", executable}};
  while (end != std::string::npos) {
    const std::size_t start = end + 1;
    end = service.find('\0', start);
    const std::string pair = service.substr(start, end == std::string::npos ? end : end - start);
    const std::size_t equals = pair.find('=');
    labels.push_back({pair.substr(0, equals), pair.substr(equals + 1)});
  }
  labels.push_back({"server_address", address});
  labels.push_back({"server_port", port});
  return labels;
}

HistogramSample ToSample(Labels labels, const std::vector<std::uint64_t>& buckets, double sum,
                         std::uint64_t count, std::size_t bounds) {
  HistogramSample sample;
  sample.labels = std::move(labels);
  sample.bucket_counts = buckets.empty() ? std::vector<std::uint64_t>(bounds + 1, 0) : buckets;
  sample.sum = sum;
  sample.count = count;
  return sample;
}

}  // namespace

void TcpFolder::Collect(std::span<const infrared_tcp_sock> live,
                        std::vector<MetricFamily>& out) {
  std::map<SeriesKey, Counters> live_sums;
  std::map<SeriesKey, std::uint64_t> active;
  std::set<SockKey> present;
  for (const infrared_tcp_sock& sock : live) {
    if (sock.established_ns == 0) continue;  // still connecting
    SeriesKey key;
    Series* series = SeriesOf(sock, &key);
    if (!series) continue;
    present.insert({sock.sock_id, sock.open_ns});
    CountOpen(sock, key, *series, /*closing=*/false);
    Counters& sum = live_sums[key];
    sum.bytes_sent += sock.bytes_sent;
    sum.bytes_received += sock.bytes_received;
    sum.retransmits += sock.retransmits;
    sum.resets_sent += sock.resets_sent;
    sum.resets_received += sock.resets_received;
    ++active[key];
  }
  // A socket gone from the map whose close record never came (the ring buffer
  // was full) is forgotten after two scrapes: one scrape may simply have read
  // the map before the close record was handled.
  for (auto it = open_.begin(); it != open_.end();) {
    if (present.contains(it->first)) {
      it->second.absent_scrapes = 0;
      ++it;
    } else if (++it->second.absent_scrapes >= 2) {
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
  RemoveIdle();
  EmitFamilies(live_sums, active, out);
}

void TcpFolder::RemoveIdle() {
  const std::uint64_t now = Now();
  if (limits_.series_idle_ns == 0 || now <= limits_.series_idle_ns) return;
  const std::uint64_t cutoff = now - limits_.series_idle_ns;
  auto idle = [cutoff](const auto& entry) { return entry.second.last_used_ns < cutoff; };
  if (std::none_of(series_.begin(), series_.end(), idle) &&
      std::none_of(connects_.begin(), connects_.end(), idle)) {
    return;
  }
  // A series with a live socket was used at this scrape; one a remembered
  // open socket still counts in must stay too.
  std::set<SeriesKey> holding;
  for (const auto& [sock, open] : open_) holding.insert(open.key);
  const std::size_t removed =
      std::erase_if(series_,
                    [&](const auto& entry) { return idle(entry) && !holding.contains(entry.first); }) +
      std::erase_if(connects_, idle);
  if (removed == 0) return;
  // The peers still named by a series keep their places under the cap.
  peers_.clear();
  for (const auto& [key, series] : series_) {
    if (std::get<2>(key) != kOther) {
      peers_[{std::get<0>(key), std::get<1>(key)}].insert({std::get<2>(key), std::get<3>(key)});
    }
  }
  for (const auto& [key, histo] : connects_) {
    if (std::get<2>(key) != kOther) {
      peers_[{std::get<0>(key), std::get<1>(key)}].insert({std::get<2>(key), std::get<3>(key)});
    }
  }
}

void TcpFolder::EmitFamilies(const std::map<SeriesKey, Counters>& live_sums,
                             const std::map<SeriesKey, std::uint64_t>& active,
                             std::vector<MetricFamily>& out) {
  MetricFamily opened = MakeFamily("tcp_connections_opened",
                                   "TCP connections established, by process, peer and direction.",
                                   "", MetricType::kCounter);
  MetricFamily open_now = MakeFamily("tcp_connections_active",
                                     "TCP connections established and not yet closed.", "",
                                     MetricType::kGauge);
  MetricFamily sent = MakeFamily("tcp_bytes_sent", "Bytes the process sent on TCP connections.",
                                 "", MetricType::kCounter);
  MetricFamily received =
      MakeFamily("tcp_bytes_received", "Bytes the process received on TCP connections.", "",
                 MetricType::kCounter);
  MetricFamily retransmits = MakeFamily("tcp_retransmits", "TCP segments retransmitted.", "",
                                        MetricType::kCounter);
  MetricFamily resets = MakeFamily(
      "tcp_resets", "TCP resets sent and received on established connections, by reset.", "",
      MetricType::kCounter);
  MetricFamily rtt = MakeFamily("tcp_rtt_seconds",
                                "Smoothed round-trip time of TCP connections, taken at close.",
                                "seconds", MetricType::kHistogram, &TcpRttBuckets());
  MetricFamily lifetime =
      MakeFamily("tcp_connection_duration_seconds",
                 "How long TCP connections stayed open, from established to closed.", "seconds",
                 MetricType::kHistogram, &TcpLifetimeBuckets());
  MetricFamily connect = MakeFamily(
      "tcp_connect_duration_seconds",
      "Time from SYN sent to the end of the handshake of outbound TCP connects, by outcome.",
      "seconds", MetricType::kHistogram, &TcpConnectBuckets());

  static const Counters kNone;
  for (auto& [key, series] : series_) {
    auto sum_it = live_sums.find(key);
    const Counters& now = sum_it == live_sums.end() ? kNone : sum_it->second;
    Counters& reported = series.reported;
    const Counters& folded = series.folded;
    reported.opened = std::max(reported.opened, folded.opened);
    reported.bytes_sent = std::max(reported.bytes_sent, folded.bytes_sent + now.bytes_sent);
    reported.bytes_received =
        std::max(reported.bytes_received, folded.bytes_received + now.bytes_received);
    reported.retransmits = std::max(reported.retransmits, folded.retransmits + now.retransmits);
    reported.resets_sent = std::max(reported.resets_sent, folded.resets_sent + now.resets_sent);
    reported.resets_received =
        std::max(reported.resets_received, folded.resets_received + now.resets_received);

    const auto& [service, executable, address, port, direction] = key;
    Labels labels = SeriesLabels(service, executable, address, port);
    labels.push_back({"direction", direction});
    auto active_it = active.find(key);
    opened.samples.push_back({labels, static_cast<double>(reported.opened)});
    open_now.samples.push_back(
        {labels, static_cast<double>(active_it == active.end() ? 0 : active_it->second)});
    sent.samples.push_back({labels, static_cast<double>(reported.bytes_sent)});
    received.samples.push_back({labels, static_cast<double>(reported.bytes_received)});
    retransmits.samples.push_back({labels, static_cast<double>(reported.retransmits)});
    Labels reset_sent = labels;
    reset_sent.push_back({"reset", "sent"});
    resets.samples.push_back({std::move(reset_sent), static_cast<double>(reported.resets_sent)});
    Labels reset_received = labels;
    reset_received.push_back({"reset", "received"});
    resets.samples.push_back(
        {std::move(reset_received), static_cast<double>(reported.resets_received)});
    rtt.histograms.push_back(ToSample(labels, series.rtt.buckets, series.rtt.sum,
                                      series.rtt.count, TcpRttBuckets().size()));
    lifetime.histograms.push_back(ToSample(std::move(labels), series.lifetime.buckets,
                                           series.lifetime.sum, series.lifetime.count,
                                           TcpLifetimeBuckets().size()));
  }
  for (const auto& [key, histo] : connects_) {
    const auto& [service, executable, address, port, outcome] = key;
    Labels labels = SeriesLabels(service, executable, address, port);
    labels.push_back({"outcome", outcome});
    connect.histograms.push_back(ToSample(std::move(labels), histo.buckets, histo.sum,
                                          histo.count, TcpConnectBuckets().size()));
  }
  for (MetricFamily* family :
       {&connect, &opened, &open_now, &sent, &received, &retransmits, &resets, &rtt, &lifetime}) {
    out.push_back(std::move(*family));
  }
}

}  // namespace infrared::net
