#pragma once

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
class TlsProbes {
 public:
  // nullptr with `error` set when the object cannot be loaded.
  static std::unique_ptr<TlsProbes> Create(const core::Config& config, core::Logger& logger,
                                           const SockProbes& sockets, std::string& error);
  ~TlsProbes();
  TlsProbes(const TlsProbes&) = delete;
  TlsProbes& operator=(const TlsProbes&) = delete;

  // Attaches the programs for `target`'s functions; one status per function
  // (a Go function with all its returns counts as one), named by symbol.
  std::vector<ProbeStatus> Attach(const tls::TlsTarget& target, core::Logger& logger);

 private:
  explicit TlsProbes(tls_bpf* skeleton) : skeleton_(skeleton) {}
  bool AttachAt(bpf_program* program, bool retprobe, const std::string& path,
                std::uint64_t offset, core::Logger& logger, const std::string& what);

  tls_bpf* skeleton_;
  std::deque<bpf_link*> links_;  // stable addresses, for DetachAll
};

}  // namespace infrared::loader
