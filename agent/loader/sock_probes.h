#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/core/config.h"
#include "agent/core/logging.h"
#include "agent/loader/bpf_util.h"
#include "agent/net/sock_events.h"
#include "infrared/abi/sockdata.h"

struct sockdata_bpf;

namespace infrared::loader {

// Owns the socket-payload BPF object (bpf/sockdata.bpf.c): loads it with the
// capture settings, attaches its syscall tracepoints, polls its ring buffer,
// and writes userspace's decisions (selected processes, skipped connections)
// back to the kernel. Detaches everything on destruction.
class SockProbes {
 public:
  using RecordFn = RingReader::RecordFn;

  // nullptr with `error` set (one sentence) when the object cannot be loaded or
  // nothing attaches; single probes that fail are logged and reported.
  static std::unique_ptr<SockProbes> Create(const core::Config& config, core::Logger& logger,
                                            RecordFn on_record, std::string& error);
  ~SockProbes();
  SockProbes(const SockProbes&) = delete;
  SockProbes& operator=(const SockProbes&) = delete;

  const std::vector<ProbeStatus>& Probes() const { return probes_; }

  // Waits up to timeout_ms for records and hands each to on_record. Returns
  // the number handled, or a negative errno.
  int Poll(int timeout_ms);
  // Hands over every record waiting, without waiting. The kernel wakes Poll()
  // only once enough is waiting, so the poller also drains on its timer.
  int Consume();
  // Takes out the opens the kernel parked because the ring buffer was full,
  // appending them to `out`. Hand them to the tracker before draining the ring
  // buffer: they come before any event of their connections in it.
  void TakeParkedOpens(std::vector<infrared_sock_open_event>& out);
  // Takes out the closes the kernel parked because the ring buffer was full,
  // appending them to `out`. Hand them to the tracker after draining the ring
  // buffer once more: the events their connections sent before closing are
  // all in it by then.
  void TakeParkedCloses(std::vector<infrared_sock_close_event>& out);

  // Adds or removes a process from the capture selection (used when the
  // selection is not "every process").
  void Select(std::uint32_t pid, bool selected);
  // Tells the kernel to stop copying this connection's payloads. False when the
  // connection is gone (or its fd already names another one).
  bool Skip(const net::ConnId& conn);
  // Likewise, and the kernel counts the requests its calls begin
  // (INFRARED_CONN_COUNT): the agent has no room to parse it.
  bool CountOnly(const net::ConnId& conn);
  // Tells the kernel the connection carries LLM calls: it copies up to
  // genai.bytes_per_call of each of its calls. False when it is gone.
  bool FollowClosely(const net::ConnId& conn);
  // The fd of one of the object's maps, for the TLS probes to share.
  int MapFd(const char* name) const;

  std::array<std::uint64_t, INFRARED_SOCK_DROP_COUNT> Drops() const;
  std::array<std::uint64_t, INFRARED_SOCK_COUNT_MAX> Counters() const;
  std::uint64_t Counter(infrared_sock_counter counter) const;
  // Walks of the kernel's TLS stream map to find a stream to flag: each costs
  // two syscalls a stream, taken only without syscall programs (set_flags).
  std::uint64_t TlsStreamWalks() const { return tls_walks_.load(); }

 private:
  SockProbes(sockdata_bpf* skeleton, RecordFn on_record);
  void Attach(core::Logger& logger);
  bool SetFlag(const net::ConnId& conn, std::uint32_t flag);
  bool SetTlsStreamFlag(const net::ConnId& conn, std::uint32_t flag);
  // ORs request.flags into the entry it names, in the kernel (the set_flags
  // program) so that the loss counts the kernel adds to it meanwhile are kept. False
  // when the entry is gone or belongs to another generation.
  bool OrFlags(infrared_flag_request& request);

  sockdata_bpf* skeleton_;
  std::unique_ptr<RingReader> ring_;
  std::vector<ProbeStatus> probes_;
  std::vector<bpf_link**> links_;
  // TLS streams met by map walks, by generation (bounded by the map's size).
  std::unordered_map<std::uint64_t, infrared_tls_stream_key> tls_keys_;
  std::atomic<std::uint64_t> tls_walks_{0};
};

}  // namespace infrared::loader
