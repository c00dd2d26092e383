#include "agent/loader/tls_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "agent/loader/capture_settings.h"
#include "infrared/abi/sockdata.h"
#include "tls.skel.h"

namespace infrared::loader {
namespace {

// Maps of bpf/lib/capture.bpf.h that the socket probes own and both use.
constexpr const char* kSharedMaps[] = {"sock_events",     "selected",    "sock_drops",
                                       "sock_counters",   "tls_calls",   "tls_threads",
                                       "tls_last_socket", "tls_streams", "capture_limits",
                                       "unwoken_bytes",    "parked_closes",  "parked_opens",
                                       "tls_stream_keys"};

// Linux 6.6's multi-uprobe link; Debian 12's <linux/bpf.h> predates it.
constexpr std::uint32_t kTraceUprobeMulti = 48;  // enum bpf_attach_type
constexpr std::uint32_t kUprobeMultiReturn = 1;  // BPF_F_UPROBE_MULTI_RETURN

// union bpf_attr's link_create as Linux 6.6 lays it out for uprobe_multi.
struct UprobeMultiAttr {
  std::uint32_t prog_fd;
  std::uint32_t target_fd;
  std::uint32_t attach_type;
  std::uint32_t flags;
  std::uint64_t path;
  std::uint64_t offsets;
  std::uint64_t ref_ctr_offsets;
  std::uint64_t cookies;
  std::uint32_t count;
  std::uint32_t uprobe_flags;
  std::uint32_t pid;
  std::uint32_t reserved;
};
static_assert(sizeof(UprobeMultiAttr) <= sizeof(bpf_attr));

int CreateMultiLink(int prog_fd, bool retprobe, const std::string& path,
                    const std::vector<std::uint64_t>& offsets,
                    const std::vector<std::uint64_t>& cookies) {
  UprobeMultiAttr link{};
  link.prog_fd = static_cast<std::uint32_t>(prog_fd);
  link.attach_type = kTraceUprobeMulti;
  link.path = reinterpret_cast<std::uint64_t>(path.c_str());
  link.offsets = reinterpret_cast<std::uint64_t>(offsets.data());
  link.cookies = reinterpret_cast<std::uint64_t>(cookies.data());
  link.count = static_cast<std::uint32_t>(offsets.size());
  link.uprobe_flags = retprobe ? kUprobeMultiReturn : 0;
  bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  std::memcpy(&attr, &link, sizeof(link));
  return static_cast<int>(syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr)));
}

tls_bpf* OpenAndLoad(const core::Config& config, const SockProbes& sockets, bool multi,
                     std::string& error) {
  tls_bpf* skeleton = tls_bpf__open();
  if (!skeleton) {
    error = "opening the TLS eBPF object failed (" + std::string(std::strerror(errno)) + ")";
    return nullptr;
  }
  SetCaptureSettings(*skeleton->rodata, config);
  if (multi) {
    for (bpf_program* program : {skeleton->progs.ssl_enter, skeleton->progs.ssl_return,
                                 skeleton->progs.go_enter, skeleton->progs.go_return}) {
      bpf_program__set_expected_attach_type(program,
                                            static_cast<bpf_attach_type>(kTraceUprobeMulti));
    }
  }
  for (const char* name : kSharedMaps) {
    bpf_map* map = bpf_object__find_map_by_name(skeleton->obj, name);
    const int fd = sockets.MapFd(name);
    if (!map || fd < 0 || bpf_map__reuse_fd(map, fd) != 0) {
      error = std::string("sharing the socket probes' map ") + name + " with the TLS probes failed";
      tls_bpf__destroy(skeleton);
      return nullptr;
    }
  }
  if (int err = tls_bpf__load(skeleton); err != 0) {
    error = LoadError("TLS", -err);
    tls_bpf__destroy(skeleton);
    return nullptr;
  }
  return skeleton;
}

}  // namespace

std::unique_ptr<TlsProbes> TlsProbes::Create(const core::Config& config, core::Logger& logger,
                                             const SockProbes& sockets, std::string& error) {
  RouteLibbpfLogs(logger);
  // The multi-uprobe flavour first; a kernel without it refuses the programs.
  if (tls_bpf* skeleton = OpenAndLoad(config, sockets, true, error)) {
    return std::unique_ptr<TlsProbes>(new TlsProbes(skeleton, true));
  }
  logger.Info("tls", "no multi-uprobe links here (Linux < 6.6?): one perf event per TLS probe",
              {{"reason", error}});
  error.clear();
  tls_bpf* skeleton = OpenAndLoad(config, sockets, false, error);
  if (!skeleton) return nullptr;
  return std::unique_ptr<TlsProbes>(new TlsProbes(skeleton, false));
}

TlsProbes::~TlsProbes() {
  std::vector<std::thread> closers;
  for (int fd : multi_links_) closers.emplace_back([fd] { close(fd); });
  for (std::thread& closer : closers) closer.join();
  std::vector<bpf_link**> links;
  for (bpf_link*& link : links_) links.push_back(&link);
  DetachAll(links);
  tls_bpf__destroy(skeleton_);
}

std::vector<bool> TlsProbes::AttachGroup(bpf_program* program, bool retprobe,
                                         const std::string& path, const Group& group,
                                         core::Logger& logger) {
  std::vector<bool> attached(group.symbols.size(), true);
  if (group.offsets.empty()) return attached;
  auto warn = [&](int err) {
    logger.Warn("tls", "TLS probes could not be attached; this library's traffic is not captured",
                {{"program", bpf_program__name(program)},
                 {"path", path},
                 {"error", std::strerror(err)}});
  };
  if (multi_) {
    const int fd =
        CreateMultiLink(bpf_program__fd(program), retprobe, path, group.offsets, group.cookies);
    if (fd < 0) {
      warn(errno);
      attached.assign(attached.size(), false);
    } else {
      multi_links_.push_back(fd);
    }
    return attached;
  }
  for (std::size_t i = 0; i < group.offsets.size(); ++i) {
    bpf_uprobe_opts opts{};
    opts.sz = sizeof(opts);
    opts.retprobe = retprobe;
    opts.bpf_cookie = group.cookies[i];
    bpf_link* link = bpf_program__attach_uprobe_opts(program, -1, path.c_str(), group.offsets[i],
                                                     &opts);
    if (!link) {
      warn(errno);
      attached[group.function_of[i]] = false;
      continue;
    }
    links_.push_back(link);
  }
  return attached;
}

std::vector<ProbeStatus> TlsProbes::Attach(const tls::TlsTarget& target, core::Logger& logger) {
  const std::string path = target.AttachPath();
  Group entries;
  Group returns;
  auto add = [](Group& group, std::size_t function, std::uint64_t offset, std::uint64_t cookie) {
    group.offsets.push_back(offset);
    group.cookies.push_back(cookie);
    group.function_of.push_back(function);
  };
  struct Function {
    std::string_view symbol;
    std::uint64_t cookie;
    const std::vector<std::uint64_t>* go_returns;  // Go: its RETs
    bool has_return;                               // OpenSSL: a uretprobe
  };
  const bool go = target.kind == tls::TlsKind::kGo;
  const std::vector<Function> functions =
      go ? std::vector<Function>{
               {tls::kGoTlsWrite, INFRARED_TLS_GO_WRITE, &target.go_write_returns, false},
               {tls::kGoTlsRead, INFRARED_TLS_GO_READ, &target.go_read_returns, false},
               {tls::kGoTlsClose, INFRARED_TLS_GO_CLOSE, nullptr, false}}
         : std::vector<Function>{{"SSL_write", INFRARED_TLS_SSL_WRITE, nullptr, true},
                                 {"SSL_read", INFRARED_TLS_SSL_READ, nullptr, true},
                                 {"SSL_write_ex", INFRARED_TLS_SSL_WRITE_EX, nullptr, true},
                                 {"SSL_read_ex", INFRARED_TLS_SSL_READ_EX, nullptr, true},
                                 {"SSL_shutdown", INFRARED_TLS_SSL_CLOSE, nullptr, false},
                                 {"SSL_free", INFRARED_TLS_SSL_CLOSE, nullptr, false}};
  std::vector<std::string> symbols;
  std::vector<bool> complete;  // a Go function found without its RETs cannot be followed
  for (const Function& function : functions) {
    auto it = target.entries.find(std::string(function.symbol));
    if (it == target.entries.end()) continue;  // SSL_*_ex: OpenSSL >= 1.1.1 only
    const std::size_t index = symbols.size();
    symbols.emplace_back(function.symbol);
    entries.symbols.emplace_back(function.symbol);
    returns.symbols.emplace_back(function.symbol);
    complete.push_back(!function.go_returns || !function.go_returns->empty());
    add(entries, index, it->second, function.cookie);
    if (function.has_return) add(returns, index, it->second, 0);
    if (function.go_returns) {
      for (std::uint64_t ret : *function.go_returns) add(returns, index, ret, 0);
    }
  }
  auto& p = skeleton_->progs;
  // The returns first, so that no entry is left without one.
  const std::vector<bool> returned =
      AttachGroup(go ? p.go_return : p.ssl_return, !go, path, returns, logger);
  std::vector<bool> entered(symbols.size(), false);
  bool all_returned = true;
  for (bool ok : returned) all_returned = all_returned && ok;
  if (all_returned) {  // else no entry without its return
    entered = AttachGroup(go ? p.go_enter : p.ssl_enter, false, path, entries, logger);
  }
  std::vector<ProbeStatus> statuses;
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    statuses.push_back({symbols[i], complete[i] && returned[i] && entered[i]});
  }
  return statuses;
}

}  // namespace infrared::loader
