#include "agent/loader/tls_probes.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

#include "agent/loader/capture_settings.h"
#include "tls.skel.h"

namespace infrared::loader {
namespace {

// Maps of bpf/lib/capture.bpf.h that the socket probes own and both use.
constexpr const char* kSharedMaps[] = {"sock_events", "selected",  "sock_drops",      "sock_counters",
                                       "tls_calls",   "tls_threads", "tls_last_socket", "tls_streams"};

}  // namespace

std::unique_ptr<TlsProbes> TlsProbes::Create(const core::Config& config, core::Logger& logger,
                                             const SockProbes& sockets, std::string& error) {
  RouteLibbpfLogs(logger);
  tls_bpf* skeleton = tls_bpf__open();
  if (!skeleton) {
    error = "opening the TLS eBPF object failed (" + std::string(std::strerror(errno)) + ")";
    return nullptr;
  }
  std::unique_ptr<TlsProbes> probes(new TlsProbes(skeleton));
  SetCaptureSettings(*skeleton->rodata, config);
  for (const char* name : kSharedMaps) {
    bpf_map* map = bpf_object__find_map_by_name(skeleton->obj, name);
    const int fd = sockets.MapFd(name);
    if (!map || fd < 0 || bpf_map__reuse_fd(map, fd) != 0) {
      error = std::string("sharing the socket probes' map ") + name + " with the TLS probes failed";
      return nullptr;
    }
  }
  if (int err = tls_bpf__load(skeleton); err != 0) {
    error = LoadError("TLS", -err);
    return nullptr;
  }
  return probes;
}

TlsProbes::~TlsProbes() {
  std::vector<bpf_link**> links;
  for (bpf_link*& link : links_) links.push_back(&link);
  DetachAll(links);
  tls_bpf__destroy(skeleton_);
}

bool TlsProbes::AttachAt(bpf_program* program, bool retprobe, const std::string& path,
                         std::uint64_t offset, core::Logger& logger, const std::string& what) {
  bpf_link* link = bpf_program__attach_uprobe(program, retprobe, -1, path.c_str(), offset);
  if (!link) {
    const int err = errno;
    logger.Warn("tls", "a TLS probe could not be attached; this library's traffic is not captured",
                {{"probe", what}, {"path", path}, {"error", std::strerror(err)}});
    return false;
  }
  links_.push_back(link);
  return true;
}

std::vector<ProbeStatus> TlsProbes::Attach(const tls::TlsTarget& target, core::Logger& logger) {
  auto& p = skeleton_->progs;
  struct Point {
    const char* symbol;
    bpf_program* entry;
    bool has_return;
  };
  std::vector<ProbeStatus> statuses;
  const std::string path = target.AttachPath();
  auto offset_of = [&target](const char* symbol) -> std::optional<std::uint64_t> {
    auto it = target.entries.find(symbol);
    if (it == target.entries.end()) return std::nullopt;
    return it->second;
  };
  if (target.kind == tls::TlsKind::kOpenSsl) {
    const Point points[] = {
        {"SSL_write", p.ssl_write_enter, true},       {"SSL_read", p.ssl_read_enter, true},
        {"SSL_write_ex", p.ssl_write_ex_enter, true}, {"SSL_read_ex", p.ssl_read_ex_enter, true},
        {"SSL_shutdown", p.ssl_close, false},         {"SSL_free", p.ssl_close, false},
    };
    for (const Point& point : points) {
      std::optional<std::uint64_t> offset = offset_of(point.symbol);
      if (!offset) continue;  // SSL_read_ex and SSL_write_ex are OpenSSL >= 1.1.1 only
      // The return first, so that no entry is left without one.
      bool attached = !point.has_return ||
                      AttachAt(p.ssl_return, true, path, *offset, logger, point.symbol);
      attached = attached && AttachAt(point.entry, false, path, *offset, logger, point.symbol);
      statuses.push_back({point.symbol, attached});
    }
    return statuses;
  }
  const struct {
    const char* symbol;
    bpf_program* entry;
    const std::vector<std::uint64_t>* returns;
  } go_points[] = {
      {"crypto/tls.(*Conn).Write", p.go_tls_write_enter, &target.go_write_returns},
      {"crypto/tls.(*Conn).Read", p.go_tls_read_enter, &target.go_read_returns},
      {"crypto/tls.(*Conn).Close", p.go_tls_close, nullptr},
  };
  for (const auto& point : go_points) {
    std::optional<std::uint64_t> offset = offset_of(point.symbol);
    if (!offset) continue;
    bool attached = point.returns == nullptr || !point.returns->empty();
    if (point.returns) {
      for (std::uint64_t ret : *point.returns) {
        attached = attached && AttachAt(p.go_tls_return, false, path, ret, logger,
                                        std::string(point.symbol) + " return");
      }
    }
    attached = attached && AttachAt(point.entry, false, path, *offset, logger, point.symbol);
    statuses.push_back({point.symbol, attached});
  }
  return statuses;
}

}  // namespace infrared::loader
