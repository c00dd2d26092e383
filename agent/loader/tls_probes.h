#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "agent/core/config.h"
#include "agent/core/logging.h"
#include "agent/loader/bpf_util.h"
#include "agent/loader/sock_probes.h"
#include "agent/tls/tls_targets.h"

struct tls_bpf;
struct bpf_link;

namespace infrared::loader {

// Owns the TLS uprobe object (bpf/tls.bpf.c), loaded once with the socket
// probes' maps (one ring buffer, one selection, the TLS bookkeeping the
// socket probes fill in), and its attachments: one set per library file,
// which covers every process that maps the file, now or later.
//
// Where the kernel has multi-uprobe links (Linux >= 6.6), a library's entries
// are one link and its returns another: detaching a uprobe waits for an RCU
// grace period, and one link waits once for all its probes, where one perf
// event per probe waits once each (a second for a dozen). Older kernels get
// perf-event uprobes, one per function.
class TlsProbes {
 public:
  // nullptr with `error` set when the object cannot be loaded.
  static std::unique_ptr<TlsProbes> Create(const core::Config& config, core::Logger& logger,
                                           const SockProbes& sockets, std::string& error);
  ~TlsProbes();
  TlsProbes(const TlsProbes&) = delete;
  TlsProbes& operator=(const TlsProbes&) = delete;

  // Attaches the programs for `target`'s functions; one status per function,
  // named by symbol (a Go function with all its returns counts as one).
  std::vector<ProbeStatus> Attach(const tls::TlsTarget& target, core::Logger& logger);

 private:
  // Functions of one program attached at once: their file offsets, and each
  // one's attach cookie (enum infrared_tls_function; 0 for returns).
  struct Group {
    std::vector<std::string> symbols;  // one per function, for the statuses
    std::vector<std::uint64_t> offsets;
    std::vector<std::uint64_t> cookies;
    std::vector<std::size_t> function_of;  // offsets[i] belongs to symbols[function_of[i]]
  };

  TlsProbes(tls_bpf* skeleton, bool multi) : skeleton_(skeleton), multi_(multi) {}
  // Attaches `group` to `program`; per function whether it attached.
  std::vector<bool> AttachGroup(bpf_program* program, bool retprobe, const std::string& path,
                                const Group& group, core::Logger& logger);

  tls_bpf* skeleton_;
  const bool multi_;
  std::vector<int> multi_links_;    // multi-uprobe link fds
  std::deque<bpf_link*> links_;     // perf-event uprobes; stable addresses, for DetachAll
};

}  // namespace infrared::loader
