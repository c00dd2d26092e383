#include "agent/loader/bpf_util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <thread>

namespace infrared::loader {
namespace {

// libbpf's print callback takes no context pointer, so the logger it writes
// to has to be reachable from a static; it is set before anything is loaded.
std::atomic<core::Logger*> libbpf_logger{nullptr};

int PrintLibbpf(libbpf_print_level level, const char* format, va_list args) {
  core::Logger* logger = libbpf_logger.load();
  const core::LogLevel ours = level == LIBBPF_WARN ? core::LogLevel::kWarn : core::LogLevel::kDebug;
  if (!logger || !logger->Enabled(ours)) return 0;
  char line[2048];
  int n = std::vsnprintf(line, sizeof(line), format, args);
  if (n <= 0) return 0;
  std::string_view text(line, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof(line) - 1));
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  logger->Log(ours, "libbpf", text);
  return 0;
}

int PossibleCpus() {
  static const int cpus = [] {
    int n = libbpf_num_possible_cpus();
    return n > 0 ? n : 1;
  }();
  return cpus;
}

}  // namespace

std::vector<ProbeStatus> AttachEach(const std::vector<ProbeSlot>& slots, core::Logger& logger) {
  std::vector<ProbeStatus> probes;
  for (const ProbeSlot& slot : slots) {
    *slot.link = bpf_program__attach(slot.program);
    const bool attached = *slot.link != nullptr;
    if (attached) {
      logger.Debug("loader", "probe attached", {{"probe", slot.name}});
    } else {
      logger.Warn("loader", "probe could not be attached; its figures will be missing",
                  {{"probe", slot.name}, {"error", std::strerror(errno)}});
    }
    probes.push_back({slot.name, attached});
  }
  return probes;
}

bool AnyAttached(const std::vector<ProbeStatus>& probes) {
  return std::any_of(probes.begin(), probes.end(),
                     [](const ProbeStatus& probe) { return probe.attached; });
}

void DetachAll(const std::vector<bpf_link**>& links) {
  std::vector<std::thread> detachers;
  for (bpf_link** link : links) {
    if (!*link) continue;
    detachers.emplace_back([link] { bpf_link__destroy(*link); });
  }
  for (std::thread& detacher : detachers) detacher.join();
  for (bpf_link** link : links) *link = nullptr;
}

std::uint64_t SumPerCpu(int map_fd, std::uint32_t index) {
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(PossibleCpus()));
  if (bpf_map_lookup_elem(map_fd, &index, per_cpu.data()) != 0) return 0;
  std::uint64_t total = 0;
  for (std::uint64_t count : per_cpu) total += count;
  return total;
}

void RouteLibbpfLogs(core::Logger& logger) {
  libbpf_logger.store(&logger);
  libbpf_set_print(PrintLibbpf);
}

RingReader::RingReader(RecordFn on_record) : on_record_(std::move(on_record)) {}

RingReader::~RingReader() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (ring_) ring_buffer__free(ring_);
}

bool RingReader::Open(int map_fd, Waits waits) {
  ring_ = ring_buffer__new(map_fd, OnRecord, this, nullptr);
  if (ring_ == nullptr) return false;
  if (waits == Waits::kConsumeOnly) return true;
  // libbpf's own epoll set is level-triggered: it reports the buffer ready
  // while any record is unread, which under load is after every drain.
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return false;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLET;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, map_fd, &event) == 0;
}

int RingReader::Poll(int timeout_ms) {
  if (epoll_fd_ < 0) return -EBADF;
  epoll_event event{};
  if (epoll_wait(epoll_fd_, &event, 1, timeout_ms) < 0) return -errno;
  return ring_buffer__consume(ring_);
}

int RingReader::Consume() { return ring_buffer__consume(ring_); }

int RingReader::OnRecord(void* context, void* data, std::size_t size) {
  static_cast<RingReader*>(context)->on_record_(data, size);
  return 0;
}

std::string LoadError(const char* what, int err) {
  if (err == EPERM || err == EACCES) {
    return std::string("the kernel refused to load the ") + what + " eBPF programs (" +
           std::strerror(err) +
           "): run infrared as root, or give it CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN";
  }
  return std::string("loading the ") + what + " eBPF programs failed (" + std::strerror(err) +
         "); run with --log.level=debug to see the verifier's log";
}

}  // namespace infrared::loader
