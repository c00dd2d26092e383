#pragma once

#include <cstdint>
#include <ctime>

namespace infrared::core {

// Turns kernel timestamps (bpf_ktime_get_ns, CLOCK_MONOTONIC) into Unix time.
// The offset is taken once, at start-up: the one place where kernel time
// becomes wall-clock time.
class MonotonicToUnix {
 public:
  MonotonicToUnix() {
    timespec wall{}, mono{};
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    offset_ns_ = ToNs(wall) - ToNs(mono);
  }
  explicit MonotonicToUnix(std::int64_t offset_ns) : offset_ns_(offset_ns) {}

  std::uint64_t operator()(std::uint64_t monotonic_ns) const {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(monotonic_ns) + offset_ns_);
  }

  static std::uint64_t NowMonotonicNs() {
    timespec mono{};
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return static_cast<std::uint64_t>(ToNs(mono));
  }

 private:
  static std::int64_t ToNs(const timespec& t) {
    return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
  }
  std::int64_t offset_ns_;
};

}  // namespace infrared::core
