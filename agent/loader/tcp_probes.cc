#include "agent/loader/tcp_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>
#include <unordered_set>

#include "tcp.skel.h"

namespace infrared::loader {

TcpProbes::TcpProbes(tcp_bpf* skeleton, RecordFn on_record)
    : skeleton_(skeleton), ring_(std::make_unique<RingReader>(std::move(on_record))) {}

TcpProbes::~TcpProbes() {
  ring_.reset();  // before the maps it reads go
  DetachAll(links_);
  tcp_bpf__destroy(skeleton_);
}

std::unique_ptr<TcpProbes> TcpProbes::Create(core::Logger& logger, RecordFn on_record,
                                             std::string& error) {
  RouteLibbpfLogs(logger);
  tcp_bpf* skeleton = tcp_bpf__open();
  if (!skeleton) {
    error = "opening the TCP eBPF object failed (" + std::string(std::strerror(errno)) + ")";
    return nullptr;
  }
  std::unique_ptr<TcpProbes> probes(new TcpProbes(skeleton, std::move(on_record)));
  if (int err = tcp_bpf__load(skeleton); err != 0) {
    error = LoadError("tcp", -err);
    return nullptr;
  }
  if (!probes->Attach(logger)) {
    error = "none of the TCP probes could be attached; see the log lines before this one";
    return nullptr;
  }
  // Drained on a timer (Consume): no wait of its own.
  if (!probes->ring_->Open(bpf_map__fd(skeleton->maps.tcp_events),
                           RingReader::Waits::kConsumeOnly)) {
    error = "creating the TCP ring buffer reader failed (" + std::string(std::strerror(errno)) +
            ")";
    return nullptr;
  }
  return probes;
}

bool TcpProbes::Attach(core::Logger& logger) {
  auto& p = skeleton_->progs;
  auto& l = skeleton_->links;
  const std::vector<ProbeSlot> slots = {
      {"inet_sock_set_state", p.handle_inet_sock_set_state, &l.handle_inet_sock_set_state},
      {"sock_send_length", p.handle_sock_send_length, &l.handle_sock_send_length},
      {"sock_recv_length", p.handle_sock_recv_length, &l.handle_sock_recv_length},
      {"tcp_retransmit_skb", p.handle_tcp_retransmit_skb, &l.handle_tcp_retransmit_skb},
      {"tcp_send_reset", p.handle_tcp_send_reset, &l.handle_tcp_send_reset},
      {"tcp_receive_reset", p.handle_tcp_receive_reset, &l.handle_tcp_receive_reset},
  };
  for (const ProbeSlot& slot : slots) links_.push_back(slot.link);
  probes_ = AttachEach(slots, logger);
  return AnyAttached(probes_);
}

int TcpProbes::Consume() { return ring_->Consume(); }

std::vector<infrared_tcp_sock> TcpProbes::LiveSockets() const {
  std::vector<infrared_tcp_sock> socks;
  const int fd = bpf_map__fd(skeleton_->maps.tcp_socks);
  std::uint64_t key = 0;
  std::uint64_t next = 0;
  const std::uint64_t* previous = nullptr;
  // A key deleted under the walk restarts it from the first key: the set keeps
  // each socket once, and the walk ends within twice the map's size.
  std::unordered_set<std::uint64_t> seen;
  std::size_t steps = 2 * static_cast<std::size_t>(bpf_map__max_entries(skeleton_->maps.tcp_socks));
  while (steps-- > 0 && bpf_map_get_next_key(fd, previous, &next) == 0) {
    infrared_tcp_sock sock;
    if (seen.insert(next).second && bpf_map_lookup_elem(fd, &next, &sock) == 0) {
      socks.push_back(sock);
    }
    key = next;
    previous = &key;
  }
  return socks;
}

std::array<std::uint64_t, INFRARED_TCP_DROP_COUNT> TcpProbes::Drops() const {
  std::array<std::uint64_t, INFRARED_TCP_DROP_COUNT> totals{};
  const int fd = bpf_map__fd(skeleton_->maps.tcp_drops);
  for (std::uint32_t reason = 0; reason < INFRARED_TCP_DROP_COUNT; ++reason) {
    totals[reason] = SumPerCpu(fd, reason);
  }
  return totals;
}

}  // namespace infrared::loader
