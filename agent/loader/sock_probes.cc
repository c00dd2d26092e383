#include "agent/loader/sock_probes.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "agent/loader/capture_settings.h"
#include "sockdata.skel.h"

namespace infrared::loader {
namespace {

// Mirrors struct conn_key / conn_info of bpf/lib/conn.bpf.h.
struct ConnKey {
  std::uint32_t pid;
  std::int32_t fd;
};
struct ConnInfo {
  std::uint64_t generation;
  std::uint64_t sk;
  std::uint64_t file;
  std::uint32_t role;
  std::uint32_t flags;
  std::uint32_t judged;
  std::uint32_t reserved;
  infrared_stream_loss loss[2];
};

}  // namespace

SockProbes::SockProbes(sockdata_bpf* skeleton, RecordFn on_record)
    : skeleton_(skeleton), ring_(std::make_unique<RingReader>(std::move(on_record))) {}

SockProbes::~SockProbes() {
  ring_.reset();  // before the maps it reads go
  DetachAll(links_);
  sockdata_bpf__destroy(skeleton_);
}

std::unique_ptr<SockProbes> SockProbes::Create(const core::Config& config, core::Logger& logger,
                                               RecordFn on_record, std::string& error) {
  RouteLibbpfLogs(logger);
  sockdata_bpf* skeleton = sockdata_bpf__open();
  if (!skeleton) {
    error = "opening the socket eBPF object failed (" + std::string(std::strerror(errno)) + ")";
    return nullptr;
  }
  std::unique_ptr<SockProbes> probes(new SockProbes(skeleton, std::move(on_record)));
  // OrFlags's fallback reads and writes whole entries through the mirror.
  if (bpf_map__value_size(skeleton->maps.conns) != sizeof(ConnInfo)) {
    error = "the socket eBPF object's connection entries are not the agent's ConnInfo "
            "(built from different sources): rebuild the agent";
    return nullptr;
  }
  auto& rodata = *skeleton->rodata;
  SetCaptureSettings(rodata, config);
  rodata.nr_read = SYS_read;
  rodata.nr_write = SYS_write;
  rodata.nr_readv = SYS_readv;
  rodata.nr_writev = SYS_writev;
  rodata.nr_sendto = SYS_sendto;
  rodata.nr_recvfrom = SYS_recvfrom;
  rodata.nr_sendmsg = SYS_sendmsg;
  rodata.nr_recvmsg = SYS_recvmsg;
  rodata.nr_sendfile = SYS_sendfile;
  rodata.nr_connect = SYS_connect;
#ifdef SYS_accept
  rodata.nr_accept = SYS_accept;  // arm64 has accept4 only
#endif
  rodata.nr_accept4 = SYS_accept4;
  rodata.nr_close = SYS_close;
  rodata.nr_mmap = SYS_mmap;
  bpf_map__set_max_entries(skeleton->maps.sock_events, config.capture_events_buffer_bytes);
  bpf_map__set_max_entries(skeleton->maps.conns,
                           std::max<std::uint32_t>(65536, 4 * config.http_max_connections));
  bpf_map__set_max_entries(skeleton->maps.selected, config.process_max_processes);
  // Flags are set through the syscall program where the kernel has them (5.14).
  if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SYSCALL, nullptr) != 1) {
    bpf_program__set_autoload(skeleton->progs.set_flags, false);
  }
  if (int err = sockdata_bpf__load(skeleton); err != 0) {
    error = LoadError("socket", -err);
    return nullptr;
  }
  const infrared_capture_limits limits{
      config.capture_bytes_per_call,
      std::max(config.capture_bytes_per_call, config.genai_bytes_per_call)};
  const std::uint32_t zero = 0;
  if (bpf_map_update_elem(bpf_map__fd(skeleton->maps.capture_limits), &zero, &limits, BPF_ANY)) {
    error = "setting the socket probes' capture limits failed (" +
            std::string(std::strerror(errno)) + ")";
    return nullptr;
  }
  if (config.capture_executables.size() > bpf_map__max_entries(skeleton->maps.selected_comms)) {
    error = "capture.executables names more than " +
            std::to_string(bpf_map__max_entries(skeleton->maps.selected_comms)) +
            " executables; name fewer";
    return nullptr;
  }
  for (const std::string& name : config.capture_executables) {
    char comm[16] = {};  // the kernel's comm: 15 bytes and a NUL
    name.copy(comm, sizeof(comm) - 1);
    std::uint8_t yes = 1;
    bpf_map_update_elem(bpf_map__fd(skeleton->maps.selected_comms), comm, &yes, BPF_ANY);
  }
  probes->Attach(logger);
  if (!AnyAttached(probes->probes_)) {
    error = "none of the socket probes could be attached; see the log lines before this one";
    return nullptr;
  }
  if (!probes->ring_->Open(bpf_map__fd(skeleton->maps.sock_events))) {
    error =
        "creating the socket ring buffer reader failed (" + std::string(std::strerror(errno)) + ")";
    return nullptr;
  }
  return probes;
}

void SockProbes::Attach(core::Logger& logger) {
  auto& p = skeleton_->progs;
  auto& l = skeleton_->links;
  const std::vector<ProbeSlot> slots = {
      // The exit first, so that no enter is left without one.
      {"sys_exit", p.handle_sys_exit, &l.handle_sys_exit},
      {"sys_enter", p.handle_sys_enter, &l.handle_sys_enter},
      {"capture_selection_exec", p.select_on_exec, &l.select_on_exec},
      {"capture_selection_fork", p.select_on_fork, &l.select_on_fork},
      {"capture_selection_exit", p.select_on_exit, &l.select_on_exit},
  };
  for (const ProbeSlot& slot : slots) links_.push_back(slot.link);
  probes_ = AttachEach(slots, logger);
}

int SockProbes::Poll(int timeout_ms) { return ring_->Poll(timeout_ms); }

int SockProbes::Consume() { return ring_->Consume(); }

namespace {

// Takes every event out of a map of parked ones. The keys are listed first
// (a walk that restarted from the first key after each delete would be
// quadratic); one parked meanwhile is taken the next time.
template <typename Event>
void TakeParked(int map_fd, std::uint32_t max_entries, std::vector<Event>& out) {
  std::vector<infrared_conn_id> keys;
  infrared_conn_id key{};
  const infrared_conn_id* previous = nullptr;
  infrared_conn_id at{};
  while (keys.size() < max_entries && bpf_map_get_next_key(map_fd, previous, &key) == 0) {
    keys.push_back(key);
    at = key;
    previous = &at;
  }
  Event event{};
  for (const infrared_conn_id& parked : keys) {
    // Before Linux 5.14 a hash map cannot be looked up and deleted at once.
    if (bpf_map_lookup_and_delete_elem(map_fd, &parked, &event) == 0 ||
        (bpf_map_lookup_elem(map_fd, &parked, &event) == 0 &&
         bpf_map_delete_elem(map_fd, &parked) == 0)) {
      out.push_back(event);
    }
  }
}

}  // namespace

void SockProbes::TakeParkedOpens(std::vector<infrared_sock_open_event>& out) {
  TakeParked(bpf_map__fd(skeleton_->maps.parked_opens),
             bpf_map__max_entries(skeleton_->maps.parked_opens), out);
}

void SockProbes::TakeParkedCloses(std::vector<infrared_sock_close_event>& out) {
  TakeParked(bpf_map__fd(skeleton_->maps.parked_closes),
             bpf_map__max_entries(skeleton_->maps.parked_closes), out);
}

void SockProbes::Select(std::uint32_t pid, bool selected) {
  const int fd = bpf_map__fd(skeleton_->maps.selected);
  if (selected) {
    std::uint8_t yes = 1;
    bpf_map_update_elem(fd, &pid, &yes, BPF_ANY);
  } else {
    bpf_map_delete_elem(fd, &pid);
  }
}

bool SockProbes::Skip(const net::ConnId& conn) { return SetFlag(conn, INFRARED_CONN_SKIP); }

bool SockProbes::CountOnly(const net::ConnId& conn) {
  return SetFlag(conn, INFRARED_CONN_SKIP | INFRARED_CONN_COUNT);
}

bool SockProbes::FollowClosely(const net::ConnId& conn) {
  return SetFlag(conn, INFRARED_CONN_LLM);
}

bool SockProbes::SetFlag(const net::ConnId& conn, std::uint32_t flag) {
  if (conn.tls()) return SetTlsStreamFlag(conn, flag);
  infrared_flag_request request{};
  request.generation = conn.generation;
  request.pid = conn.pid;
  request.fd = conn.fd;
  request.flags = flag;
  return OrFlags(request);
}

namespace {

// For kernels without syscall programs (before 5.14), or when the program
// cannot run: the entry read, flagged and written back whole, which loses a
// loss count the kernel adds meanwhile.
template <typename Key, typename Value>
bool OrFlagsByUpdate(int map_fd, const Key& key, const infrared_flag_request& request) {
  Value value{};
  if (bpf_map_lookup_elem(map_fd, &key, &value) != 0 || value.generation != request.generation) {
    return false;
  }
  value.flags |= request.flags;
  return bpf_map_update_elem(map_fd, &key, &value, BPF_EXIST) == 0;
}

}  // namespace

bool SockProbes::OrFlags(infrared_flag_request& request) {
  const int program = bpf_program__fd(skeleton_->progs.set_flags);
  if (program >= 0) {
    bpf_test_run_opts run{};
    run.sz = sizeof(run);
    run.ctx_in = &request;  // a syscall program's context is copied back here
    run.ctx_size_in = sizeof(request);
    if (bpf_prog_test_run_opts(program, &run) == 0) return request.found == 1;
    // It could not run (out of memory, say): the whole-value update below.
  }
  if (request.tls) {
    return OrFlagsByUpdate<infrared_tls_stream_key, infrared_tls_stream>(
        bpf_map__fd(skeleton_->maps.tls_streams), request.tls_key, request);
  }
  const ConnKey key{request.pid, request.fd};
  return OrFlagsByUpdate<ConnKey, ConnInfo>(bpf_map__fd(skeleton_->maps.conns), key, request);
}

// The kernel keys TLS streams by the library's object, which userspace never
// learns: set_flags finds the stream by (pid, generation) in an index the
// kernel keeps (tls_stream_keys), and its answer stands (a miss is a stream
// gone already). Without syscall programs (before Linux 5.14) the stream is
// found by walking the map; a walk remembers every stream it meets, so that
// the next streams to flag are found without another.
bool SockProbes::SetTlsStreamFlag(const net::ConnId& conn, std::uint32_t flag) {
  const int fd = bpf_map__fd(skeleton_->maps.tls_streams);
  auto apply = [&](const infrared_tls_stream_key& key) {
    if (key.pid != conn.pid) return false;
    infrared_flag_request request{};
    request.generation = conn.generation;
    request.pid = conn.pid;
    request.tls_key = key;
    request.tls = 1;
    request.flags = flag;
    return OrFlags(request);
  };
  if (auto it = tls_keys_.find(conn.generation); it != tls_keys_.end() && apply(it->second)) {
    return true;
  }
  if (bpf_program__fd(skeleton_->progs.set_flags) >= 0) {
    infrared_tls_stream_key unknown{};  // stream 0: set_flags looks it up in its index
    unknown.pid = conn.pid;
    return apply(unknown);
  }
  ++tls_walks_;
  if (tls_keys_.size() >= bpf_map__max_entries(skeleton_->maps.tls_streams)) tls_keys_.clear();
  infrared_tls_stream_key key{};
  infrared_tls_stream_key next{};
  const infrared_tls_stream_key* previous = nullptr;
  while (bpf_map_get_next_key(fd, previous, &next) == 0) {
    key = next;
    previous = &key;
    infrared_tls_stream stream{};
    if (bpf_map_lookup_elem(fd, &key, &stream) == 0) tls_keys_[stream.generation] = key;
  }
  auto it = tls_keys_.find(conn.generation);
  return it != tls_keys_.end() && apply(it->second);
}

int SockProbes::MapFd(const char* name) const {
  return bpf_object__find_map_fd_by_name(skeleton_->obj, name);
}

std::array<std::uint64_t, INFRARED_SOCK_DROP_COUNT> SockProbes::Drops() const {
  std::array<std::uint64_t, INFRARED_SOCK_DROP_COUNT> totals{};
  const int fd = bpf_map__fd(skeleton_->maps.sock_drops);
  for (std::uint32_t i = 0; i < INFRARED_SOCK_DROP_COUNT; ++i) totals[i] = SumPerCpu(fd, i);
  return totals;
}

std::array<std::uint64_t, INFRARED_SOCK_COUNT_MAX> SockProbes::Counters() const {
  std::array<std::uint64_t, INFRARED_SOCK_COUNT_MAX> totals{};
  const int fd = bpf_map__fd(skeleton_->maps.sock_counters);
  for (std::uint32_t i = 0; i < INFRARED_SOCK_COUNT_MAX; ++i) totals[i] = SumPerCpu(fd, i);
  return totals;
}

std::uint64_t SockProbes::Counter(infrared_sock_counter counter) const {
  return SumPerCpu(bpf_map__fd(skeleton_->maps.sock_counters), counter);
}

}  // namespace infrared::loader
