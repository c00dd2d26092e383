#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

// A recorded capture: records of the socket ring buffer (include/infrared/abi/sockdata.h),
// each laid out as in the ring buffer's data pages. The file: a 16-byte header (kMagic,
// the record count as u32, 0 as u32), then per record an 8-byte header (u32 length, u32
// page offset), the record, and zero padding to a multiple of 8 bytes. Little-endian.
// Written by tests/bench/make_capture.cc and tests/bench/record_capture.cc.
namespace infrared::bench {

inline constexpr char kCaptureMagic[8] = {'I', 'R', 'C', 'A', 'P', '\0', '\x01', '\0'};
inline constexpr std::size_t kCaptureHeaderBytes = 16;
inline constexpr std::size_t kRecordHeaderBytes = 8;  // BPF_RINGBUF_HDR_SZ
// Length bits the kernel keeps for itself (BPF_RINGBUF_BUSY_BIT, BPF_RINGBUF_DISCARD_BIT).
inline constexpr std::uint32_t kBusyBit = 1u << 31;
inline constexpr std::uint32_t kDiscardBit = 1u << 30;

// A capture file in memory: one 8-byte aligned buffer, records where the ring
// buffer would have them.
class Capture {
 public:
  // nullopt with `error` set (one sentence) when the file cannot be read or is
  // not a well-formed capture.
  static std::optional<Capture> Load(const std::string& path, std::string& error);

  // Hands each record to fn(const void* data, std::size_t size), in order,
  // skipping discarded ones, as libbpf's ring-buffer consumer does.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    const auto* base = reinterpret_cast<const unsigned char*>(words_.data());
    std::size_t at = kCaptureHeaderBytes;
    while (at + kRecordHeaderBytes <= bytes_) {
      std::uint32_t length;
      std::memcpy(&length, base + at, sizeof(length));
      if (length & kBusyBit) return;
      const std::uint32_t size = length & ~(kBusyBit | kDiscardBit);
      if (!(length & kDiscardBit)) {
        fn(static_cast<const void*>(base + at + kRecordHeaderBytes), size);
      }
      at += (kRecordHeaderBytes + size + 7) & ~std::size_t{7};
    }
  }

  std::size_t records() const { return records_; }
  // Sum of the records' sizes: the bytes the pipeline is handed.
  std::size_t record_bytes() const { return record_bytes_; }

 private:
  std::vector<std::uint64_t> words_;  // uint64_t: records start 8-byte aligned
  std::size_t bytes_ = 0;
  std::size_t records_ = 0;
  std::size_t record_bytes_ = 0;
};

// Appends records to a new capture file; the count is written by Close.
class CaptureWriter {
 public:
  // nullopt with `error` set when the file cannot be created.
  static std::optional<CaptureWriter> Create(const std::string& path, std::string& error);
  CaptureWriter(CaptureWriter&& other) noexcept;
  CaptureWriter& operator=(CaptureWriter&&) = delete;
  ~CaptureWriter();

  bool Append(const void* data, std::size_t size);
  // Writes the header's record count and closes the file; false when any write failed.
  bool Close();
  std::size_t records() const { return records_; }

 private:
  explicit CaptureWriter(std::FILE* file) : file_(file) {}
  std::FILE* file_ = nullptr;
  std::size_t records_ = 0;
  bool failed_ = false;
};

}  // namespace infrared::bench
