#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/core/logging.h"

struct bpf_program;
struct bpf_link;
struct ring_buffer;

namespace infrared::loader {

struct ProbeStatus {
  std::string name;  // the probe label: "sched_switch", ...
  bool attached = false;
};

// One program of a skeleton and where its link goes.
struct ProbeSlot {
  const char* name;
  bpf_program* program;
  bpf_link** link;
};

// Attaches each program on its own: one that cannot attach is logged once and
// reported as not attached, and the others go on.
std::vector<ProbeStatus> AttachEach(const std::vector<ProbeSlot>& slots, core::Logger& logger);

bool AnyAttached(const std::vector<ProbeStatus>& probes);

// Detaches the links concurrently and nulls them. Each tracepoint detach waits
// for an RCU grace period; one after the other, two dozen take seconds.
void DetachAll(const std::vector<bpf_link**>& links);

// The sum over CPUs of entry `index` of a per-CPU array of u64 (0 if unreadable).
std::uint64_t SumPerCpu(int map_fd, std::uint32_t index);

// Sends libbpf's own messages to `logger` (warnings as warn, the rest as debug).
void RouteLibbpfLogs(core::Logger& logger);

// Reads one BPF ring buffer and hands each record to a callback, on the thread
// that calls Poll or Consume. Not movable: libbpf holds a pointer to it.
class RingReader {
 public:
  using RecordFn = std::function<void(const void* data, std::size_t size)>;

  explicit RingReader(RecordFn on_record);
  ~RingReader();
  RingReader(const RingReader&) = delete;
  RingReader& operator=(const RingReader&) = delete;

  // Attaches to the ring buffer map; false with errno set when it cannot. A
  // reader that will only Consume (on a timer) opens no wait of its own.
  enum class Waits { kPoll, kConsumeOnly };
  bool Open(int map_fd, Waits waits = Waits::kPoll);
  // Waits up to timeout_ms for the kernel to wake the reader, then hands over
  // every record waiting. Returns the number handled, or a negative errno.
  //
  // The wait is edge-triggered: it ends on a wakeup the BPF side asked for,
  // not whenever a record is unread. Records written without a wakeup
  // (BPF_RB_NO_WAKEUP) wait for the next one or the timeout, so under load
  // the reader drains in batches of the size the programs chose instead of
  // one record or a few at a time. -EBADF after Open(..., kConsumeOnly).
  int Poll(int timeout_ms);
  // Hands over every record waiting, without waiting.
  int Consume();

 private:
  static int OnRecord(void* context, void* data, std::size_t size);

  RecordFn on_record_;
  ring_buffer* ring_ = nullptr;
  int epoll_fd_ = -1;
};

// One sentence for a failed skeleton load.
std::string LoadError(const char* what, int err);

}  // namespace infrared::loader
