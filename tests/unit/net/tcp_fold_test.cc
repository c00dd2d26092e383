#include "agent/net/tcp_fold.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "agent/net/tcp_records.h"

namespace infrared::net {
namespace {

using telemetry::MetricFamily;

infrared_tcp_sock Sock(std::uint64_t id, std::uint32_t tgid, std::uint8_t direction,
                       const char* remote, std::uint16_t remote_port, std::uint16_t local_port) {
  infrared_tcp_sock sock{};
  sock.sock_id = id;
  sock.open_ns = 1000 + id;
  sock.established_ns = 2000 + id;
  sock.tgid = tgid;
  sock.direction = direction;
  sock.family = AF_INET;
  inet_pton(AF_INET, remote, sock.remote_addr);
  inet_pton(AF_INET, "10.0.0.1", sock.local_addr);
  sock.remote_port = remote_port;
  sock.local_port = local_port;
  return sock;
}

infrared_tcp_record Record(std::uint32_t type, const infrared_tcp_sock& sock,
                           std::uint64_t duration_ns, std::uint32_t outcome = 0) {
  infrared_tcp_record record{};
  record.type = type;
  record.outcome = outcome;
  record.duration_ns = duration_ns;
  record.sock = sock;
  return record;
}

std::optional<TcpProcessNames> Names(std::uint32_t pid) {
  if (pid == 42) return TcpProcessNames{"checkout", "python3", {}, true};
  if (pid == 7) return TcpProcessNames{"nginx", "nginx", {}, true};
  // Two processes of the same name in two pods, and one left out by the selection.
  if (pid == 50 || pid == 51) {
    return TcpProcessNames{"worker",
                           "python3",
                           {{"k8s_namespace_name", "agents"},
                            {"k8s_pod_name", pid == 50 ? "worker-a" : "worker-b"},
                            {"container_id", std::string(64, pid == 50 ? 'a' : 'b')}},
                           true};
  }
  if (pid == 60) return TcpProcessNames{"sshd", "sshd", {}, false};
  return std::nullopt;
}

const MetricFamily* FamilyNamed(const std::vector<MetricFamily>& families, const std::string& name) {
  for (const MetricFamily& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

std::string Label(const telemetry::Labels& labels, const std::string& name) {
  for (const telemetry::Label& label : labels) {
    if (label.name == name) return label.value;
  }
  return "<absent>";
}

// The value of the family's sample whose labels include all of `match`.
std::optional<double> Value(const std::vector<MetricFamily>& families, const std::string& name,
                            const std::vector<std::pair<std::string, std::string>>& match) {
  const MetricFamily* family = FamilyNamed(families, name);
  if (!family) return std::nullopt;
  for (const telemetry::Sample& sample : family->samples) {
    bool all = true;
    for (const auto& [label, value] : match) all = all && Label(sample.labels, label) == value;
    if (all) return sample.value;
  }
  return std::nullopt;
}

std::vector<MetricFamily> Collect(TcpFolder& folder, const std::vector<infrared_tcp_sock>& live) {
  std::vector<MetricFamily> out;
  folder.Collect(live, out);
  return out;
}

TEST(TcpFoldTest, ConnectOutcomesGoToTheConnectHistogram) {
  TcpFolder folder({}, Names);
  infrared_tcp_sock sock = Sock(1, 42, INFRARED_TCP_OUTBOUND, "192.0.2.5", 443, 50000);
  folder.OnConnect(Record(INFRARED_TCP_CONNECT, sock, 100'000'000, INFRARED_TCP_ESTABLISHED));
  for (int i = 0; i < 3; ++i) {
    folder.OnConnect(Record(INFRARED_TCP_CONNECT, sock, 50'000, INFRARED_TCP_REFUSED));
  }
  std::vector<MetricFamily> out = Collect(folder, {});
  const MetricFamily* connect = FamilyNamed(out, "tcp_connect_duration_seconds");
  ASSERT_NE(connect, nullptr);
  ASSERT_EQ(connect->histograms.size(), 2u);
  for (const telemetry::HistogramSample& sample : connect->histograms) {
    EXPECT_EQ(Label(sample.labels, "service_name"), "checkout");
    EXPECT_EQ(Label(sample.labels, "process_executable_name"), "python3");
    EXPECT_EQ(Label(sample.labels, "server_address"), "192.0.2.5");
    EXPECT_EQ(Label(sample.labels, "server_port"), "443");
    if (Label(sample.labels, "outcome") == "established") {
      EXPECT_EQ(sample.count, 1u);
      EXPECT_DOUBLE_EQ(sample.sum, 0.1);
    } else {
      EXPECT_EQ(Label(sample.labels, "outcome"), "refused");
      EXPECT_EQ(sample.count, 3u);
    }
  }
  // A failed connect is not an opened connection.
  EXPECT_FALSE(Value(out, "tcp_connections_opened", {}).has_value());
}

TEST(TcpFoldTest, WorkloadLabelsSplitSeriesAndUnreportedProcessesAreLeftOut) {
  TcpFolder folder({}, Names);
  infrared_tcp_sock a = Sock(1, 50, INFRARED_TCP_OUTBOUND, "192.0.2.5", 443, 50000);
  infrared_tcp_sock b = Sock(2, 51, INFRARED_TCP_OUTBOUND, "192.0.2.5", 443, 50001);
  infrared_tcp_sock hidden = Sock(3, 60, INFRARED_TCP_OUTBOUND, "192.0.2.5", 443, 50002);
  a.bytes_sent = 10;
  b.bytes_sent = 20;
  hidden.bytes_sent = 40;
  folder.OnConnect(Record(INFRARED_TCP_CONNECT, hidden, 1000, INFRARED_TCP_ESTABLISHED));
  std::vector<MetricFamily> out = Collect(folder, {a, b, hidden});
  const MetricFamily* sent = FamilyNamed(out, "tcp_bytes_sent");
  ASSERT_NE(sent, nullptr);
  ASSERT_EQ(sent->samples.size(), 2u);
  EXPECT_EQ(Value(out, "tcp_bytes_sent", {{"k8s_pod_name", "worker-a"}}), 10);
  EXPECT_EQ(Value(out, "tcp_bytes_sent", {{"k8s_pod_name", "worker-b"}}), 20);
  for (const telemetry::Sample& sample : sent->samples) {
    EXPECT_EQ(Label(sample.labels, "service_name"), "worker");
    EXPECT_EQ(Label(sample.labels, "k8s_namespace_name"), "agents");
    EXPECT_EQ(Label(sample.labels, "k8s_container_name"), "<absent>");
    EXPECT_EQ(Label(sample.labels, "container_id").size(), 64u);
    EXPECT_EQ(Label(sample.labels, "server_port"), "443");
  }
  EXPECT_EQ(FamilyNamed(out, "tcp_connect_duration_seconds")->histograms.size(), 0u);
}

TEST(TcpFoldTest, ASocketStaysInItsSeriesWhenItsProcessIsRenamed) {
  std::string service = "python3";
  TcpFolder folder({}, [&service](std::uint32_t) -> std::optional<TcpProcessNames> {
    return TcpProcessNames{service, "python3", {}, true};
  });
  infrared_tcp_sock sock = Sock(1, 42, INFRARED_TCP_OUTBOUND, "192.0.2.5", 443, 50000);
  sock.bytes_sent = 100;
  Collect(folder, {sock});
  service = "worker";  // its container's name arrived
  sock.bytes_sent = 150;
  Collect(folder, {sock});
  sock.bytes_sent = 200;
  folder.OnClose(Record(INFRARED_TCP_CLOSE, sock, 1'000'000));
  std::vector<MetricFamily> out = Collect(folder, {});
  EXPECT_EQ(Value(out, "tcp_bytes_sent", {{"service_name", "python3"}}), 200);
  EXPECT_FALSE(Value(out, "tcp_bytes_sent", {{"service_name", "worker"}}).has_value());
  EXPECT_EQ(Value(out, "tcp_connections_opened", {{"service_name", "python3"}}), 1);
  // A new connection of the renamed process counts under its new name.
  infrared_tcp_sock next = Sock(2, 42, INFRARED_TCP_OUTBOUND, "192.0.2.5", 443, 50001);
  out = Collect(folder, {next});
  EXPECT_EQ(Value(out, "tcp_connections_opened", {{"service_name", "worker"}}), 1);
}

TEST(TcpFoldTest, LiveThenClosedConnectionCountsOnceAndKeepsItsBytes) {
  TcpFolder folder({}, Names);
  infrared_tcp_sock sock = Sock(1, 42, INFRARED_TCP_OUTBOUND, "192.0.2.5", 443, 50000);
  sock.bytes_sent = 1000;
  std::vector<MetricFamily> out = Collect(folder, {sock});
  EXPECT_EQ(Value(out, "tcp_connections_opened", {{"direction", "outbound"}}), 1);
  EXPECT_EQ(Value(out, "tcp_connections_active", {}), 1);
  EXPECT_EQ(Value(out, "tcp_bytes_sent", {}), 1000);

  sock.bytes_sent = 10 * 1024 * 1024;
  sock.bytes_received = 3 * 1024 * 1024;
  sock.retransmits = 2;
  sock.srtt_us = 100'000;
  folder.OnClose(Record(INFRARED_TCP_CLOSE, sock, 5'000'000'000));
  out = Collect(folder, {});
  EXPECT_EQ(Value(out, "tcp_connections_opened", {}), 1);
  EXPECT_EQ(Value(out, "tcp_connections_active", {}), 0);
  EXPECT_EQ(Value(out, "tcp_bytes_sent", {}), 10 * 1024 * 1024);
  EXPECT_EQ(Value(out, "tcp_bytes_received", {}), 3 * 1024 * 1024);
  EXPECT_EQ(Value(out, "tcp_retransmits", {}), 2);
  const MetricFamily* rtt = FamilyNamed(out, "tcp_rtt_seconds");
  ASSERT_NE(rtt, nullptr);
  ASSERT_EQ(rtt->histograms.size(), 1u);
  EXPECT_EQ(rtt->histograms[0].count, 1u);
  EXPECT_DOUBLE_EQ(rtt->histograms[0].sum, 0.1);
  const MetricFamily* lifetime = FamilyNamed(out, "tcp_connection_duration_seconds");
  ASSERT_NE(lifetime, nullptr);
  EXPECT_DOUBLE_EQ(lifetime->histograms[0].sum, 5.0);
}

TEST(TcpFoldTest, CloseSeenBeforeAnyScrapeStillCountsTheOpen) {
  TcpFolder folder({}, Names);
  infrared_tcp_sock sock = Sock(9, 7, INFRARED_TCP_INBOUND, "198.51.100.3", 40000, 8080);
  for (std::uint64_t i = 0; i < 100; ++i) {
    sock.sock_id = 100 + i;
    folder.OnClose(Record(INFRARED_TCP_CLOSE, sock, 1000));
  }
  std::vector<MetricFamily> out = Collect(folder, {});
  // Inbound connections are named by the local end, not the client.
  EXPECT_EQ(Value(out, "tcp_connections_opened",
                  {{"service_name", "nginx"},
                   {"server_address", "10.0.0.1"},
                   {"server_port", "8080"},
                   {"direction", "inbound"}}),
            100);
}

TEST(TcpFoldTest, CountersNeverGoBackWhenASocketVanishesBeforeItsCloseRecord) {
  TcpFolder folder({}, Names);
  infrared_tcp_sock sock = Sock(1, 42, INFRARED_TCP_OUTBOUND, "192.0.2.5", 443, 50000);
  sock.bytes_received = 500;
  Collect(folder, {sock});
  std::vector<MetricFamily> out = Collect(folder, {});  // closed, record not handled yet
  EXPECT_EQ(Value(out, "tcp_bytes_received", {}), 500);
  sock.bytes_received = 800;
  folder.OnClose(Record(INFRARED_TCP_CLOSE, sock, 1000));
  out = Collect(folder, {});
  EXPECT_EQ(Value(out, "tcp_bytes_received", {}), 800);
  EXPECT_EQ(Value(out, "tcp_connections_opened", {}), 1);
}

TEST(TcpFoldTest, ResetsAreSplitBySentAndReceived) {
  TcpFolder folder({}, Names);
  infrared_tcp_sock sock = Sock(1, 42, INFRARED_TCP_OUTBOUND, "192.0.2.5", 443, 50000);
  sock.resets_sent = 1;
  sock.resets_received = 2;
  folder.OnClose(Record(INFRARED_TCP_CLOSE, sock, 1000));
  std::vector<MetricFamily> out = Collect(folder, {});
  EXPECT_EQ(Value(out, "tcp_resets", {{"reset", "sent"}}), 1);
  EXPECT_EQ(Value(out, "tcp_resets", {{"reset", "received"}}), 2);
}

TEST(TcpFoldTest, PeersOverTheCapFoldIntoOther) {
  TcpFolder::Limits limits;
  limits.max_peers_per_process = 2;
  TcpFolder folder(limits, Names);
  std::vector<infrared_tcp_sock> live;
  for (std::uint16_t port = 1; port <= 5; ++port) {
    live.push_back(Sock(port, 42, INFRARED_TCP_OUTBOUND, "192.0.2.5", port, 50000));
  }
  std::vector<MetricFamily> out = Collect(folder, live);
  EXPECT_EQ(Value(out, "tcp_connections_active", {{"server_address", "other"}}), 3);
  EXPECT_EQ(Value(out, "tcp_connections_active", {{"server_port", "1"}}), 1);
  EXPECT_EQ(folder.PeersFolded(), 3u);
  // Another process has its own allowance.
  out = Collect(folder, {Sock(99, 7, INFRARED_TCP_OUTBOUND, "192.0.2.9", 80, 50001)});
  EXPECT_EQ(Value(out, "tcp_connections_opened", {{"service_name", "nginx"}}), 1);
}

TEST(TcpFoldTest, SeriesBeyondTheCapAreDroppedAndCounted) {
  TcpFolder::Limits limits;
  limits.max_series = 1;
  TcpFolder folder(limits, Names);
  folder.OnClose(Record(INFRARED_TCP_CLOSE, Sock(1, 42, INFRARED_TCP_OUTBOUND, "192.0.2.5", 1, 5),
                        1000));
  folder.OnClose(Record(INFRARED_TCP_CLOSE, Sock(2, 42, INFRARED_TCP_OUTBOUND, "192.0.2.5", 2, 5),
                        1000));
  EXPECT_EQ(folder.SeriesDropped(), 1u);
}

// Series of connections long closed, with nothing new, leave (their process or
// pod is gone); live ones stay however old; a peer that left frees its place.
TEST(TcpFoldTest, IdleSeriesLeaveAndFreeTheirPeersPlaces) {
  std::uint64_t now = 100;
  TcpFolder::Limits limits;
  limits.series_idle_ns = 50;
  limits.max_peers_per_process = 2;
  TcpFolder folder(limits, Names, [&now] { return now; });
  const infrared_tcp_sock live = Sock(1, 42, INFRARED_TCP_OUTBOUND, "192.0.2.5", 443, 5);
  folder.OnClose(Record(INFRARED_TCP_CLOSE, Sock(2, 42, INFRARED_TCP_OUTBOUND, "192.0.2.6", 80, 5),
                        1000));
  folder.OnConnect(Record(INFRARED_TCP_CONNECT, Sock(3, 7, INFRARED_TCP_OUTBOUND, "192.0.2.7", 80, 5),
                          1000, INFRARED_TCP_ESTABLISHED));
  std::vector<MetricFamily> out = Collect(folder, {live});
  EXPECT_EQ(Value(out, "tcp_connections_opened", {{"server_port", "80"}, {"service_name", "checkout"}}), 1);
  EXPECT_EQ(FamilyNamed(out, "tcp_connect_duration_seconds")->histograms.size(), 1u);
  now = 140;  // 40 ns later: still there
  out = Collect(folder, {live});
  EXPECT_EQ(Value(out, "tcp_connections_opened", {{"server_port", "80"}, {"service_name", "checkout"}}), 1);
  now = 200;  // idle 100 ns: the closed one and the connect histogram go, the live one stays
  out = Collect(folder, {live});
  EXPECT_EQ(Value(out, "tcp_connections_opened", {{"server_port", "80"}, {"service_name", "checkout"}}),
            std::nullopt);
  EXPECT_EQ(FamilyNamed(out, "tcp_connect_duration_seconds")->histograms.size(), 0u);
  EXPECT_EQ(Value(out, "tcp_connections_active", {{"server_port", "443"}}), 1);
  // checkout's second peer place is free again: a new peer is not folded.
  out = Collect(folder, {live, Sock(4, 42, INFRARED_TCP_OUTBOUND, "192.0.2.8", 8080, 6)});
  EXPECT_EQ(Value(out, "tcp_connections_active", {{"server_port", "8080"}}), 1);
  EXPECT_EQ(folder.PeersFolded(), 0u);
}

TEST(TcpFoldTest, UnknownOwnerIsLabelledUnknown) {
  TcpFolder folder({}, Names);
  std::vector<MetricFamily> out =
      Collect(folder, {Sock(1, 0, INFRARED_TCP_INBOUND, "192.0.2.5", 1, 22)});
  EXPECT_EQ(Value(out, "tcp_connections_active", {{"service_name", "unknown"}}), 1);
}

TEST(TcpFoldTest, ConnectsStillInProgressAreNotActive) {
  TcpFolder folder({}, Names);
  infrared_tcp_sock sock = Sock(1, 42, INFRARED_TCP_OUTBOUND, "192.0.2.5", 443, 50000);
  sock.established_ns = 0;
  std::vector<MetricFamily> out = Collect(folder, {sock});
  EXPECT_FALSE(Value(out, "tcp_connections_active", {}).has_value());
}

TEST(TcpRecordsTest, DecodesOnlyWholeRecordsOfKnownType) {
  infrared_tcp_record record{};
  record.type = INFRARED_TCP_CLOSE;
  TcpDecodeError error{};
  EXPECT_TRUE(DecodeTcpRecord(&record, sizeof(record), error).has_value());
  EXPECT_FALSE(DecodeTcpRecord(&record, sizeof(record) - 1, error).has_value());
  EXPECT_EQ(error, TcpDecodeError::kTruncated);
  EXPECT_FALSE(DecodeTcpRecord(nullptr, 0, error).has_value());
  record.type = 77;
  EXPECT_FALSE(DecodeTcpRecord(&record, sizeof(record), error).has_value());
  EXPECT_EQ(error, TcpDecodeError::kUnknownType);
}

TEST(TcpRecordsTest, FormatsAddresses) {
  std::uint8_t addr[16] = {};
  inet_pton(AF_INET, "127.0.0.1", addr);
  EXPECT_EQ(TcpAddressText(AF_INET, addr), "127.0.0.1");
  inet_pton(AF_INET6, "::1", addr);
  EXPECT_EQ(TcpAddressText(AF_INET6, addr), "::1");
  inet_pton(AF_INET6, "::ffff:192.0.2.1", addr);
  EXPECT_EQ(TcpAddressText(AF_INET6, addr), "192.0.2.1");
  EXPECT_EQ(TcpAddressText(99, addr), "unknown");
}

}  // namespace
}  // namespace infrared::net
