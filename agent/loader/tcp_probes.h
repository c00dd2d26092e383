#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "agent/core/logging.h"
#include "agent/loader/bpf_util.h"
#include "infrared/abi/tcp.h"

struct tcp_bpf;

namespace infrared::loader {

// Owns the TCP BPF object (bpf/tcp.bpf.c): opens, loads and attaches it, reads
// its ring buffer and maps. Detaches and frees everything on destruction.
class TcpProbes {
 public:
  using RecordFn = RingReader::RecordFn;

  // nullptr with `error` set (one sentence) when the object cannot be loaded or
  // no probe attaches; a probe that cannot attach is logged and in Probes().
  static std::unique_ptr<TcpProbes> Create(core::Logger& logger, RecordFn on_record,
                                           std::string& error);
  ~TcpProbes();
  TcpProbes(const TcpProbes&) = delete;
  TcpProbes& operator=(const TcpProbes&) = delete;

  const std::vector<ProbeStatus>& Probes() const { return probes_; }

  // Hands every waiting ring-buffer record to on_record, without waiting.
  int Consume();

  // The sockets the kernel tracks now (map tcp_socks).
  std::vector<infrared_tcp_sock> LiveSockets() const;

  // Kernel-side drop counters, summed over CPUs, indexed by infrared_tcp_drop.
  std::array<std::uint64_t, INFRARED_TCP_DROP_COUNT> Drops() const;

 private:
  TcpProbes(tcp_bpf* skeleton, RecordFn on_record);
  bool Attach(core::Logger& logger);

  tcp_bpf* skeleton_;
  std::unique_ptr<RingReader> ring_;
  std::vector<ProbeStatus> probes_;
  std::vector<bpf_link**> links_;
};

}  // namespace infrared::loader
