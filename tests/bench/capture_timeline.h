#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "infrared/abi/sockdata.h"
#include "tests/bench/capture_file.h"

// Building blocks of tests/bench/make_capture.cc: records made from the structs of
// include/infrared/abi/sockdata.h, so that their layout is the kernel's by construction.
namespace infrared::bench {

// What the kernel copies of one call: capture.bytes_per_call, by default.
inline constexpr std::size_t kBytesPerCall = 16384;

struct Conn {
  std::uint32_t pid;
  std::int32_t fd;
  std::uint64_t generation;
};
struct Address {
  std::uint8_t ip[4];
  std::uint16_t port;
};

// Records in the order the kernel would have written them: by time.
class Timeline {
 public:
  Timeline() : data_(std::make_unique<infrared_sock_data_event>()) {}

  void Open(std::uint64_t ts, const Conn& conn, std::uint32_t role, Address local, Address remote) {
    infrared_sock_open_event event{};
    event.header = Header(INFRARED_SOCK_OPEN, conn, ts);
    event.role = role;
    event.family = 2;  // AF_INET
    event.local_port = local.port;
    event.remote_port = remote.port;
    event.socket_fd = conn.fd == INFRARED_TLS_FD ? tls_socket_fd_ : conn.fd;
    std::memcpy(event.local_addr, local.ip, 4);
    std::memcpy(event.remote_addr, remote.ip, 4);
    Add(ts, &event, sizeof(event));
  }

  // One syscall (or TLS call) that moved `call_bytes` (payload.size() when 0),
  // of which the payload could be copied: chunks, then a record without bytes
  // for what was not. Returns the time of its last record.
  std::uint64_t Call(std::uint64_t ts, const Conn& conn, std::uint32_t direction,
                     std::string_view payload, std::uint64_t call_bytes = 0) {
    const std::uint64_t total = call_bytes ? call_bytes : payload.size();
    payload = payload.substr(0, kBytesPerCall);
    std::uint64_t offset = 0;
    while (offset < payload.size()) {
      const std::size_t piece = std::min<std::size_t>(payload.size() - offset, INFRARED_SOCK_CHUNK);
      AddData(ts, conn, direction, total, offset, payload.substr(offset, piece),
              offset + piece == total);
      offset += piece;
      ts += 2'000;  // each chunk is stamped as it is sent
    }
    // Bytes not copied (sendfile, beyond the cap): a last record without bytes.
    if (offset < total) AddData(ts, conn, direction, total, offset, {}, true);
    return ts;
  }

  void Close(std::uint64_t ts, const Conn& conn) {
    infrared_sock_close_event event{};
    event.header = Header(INFRARED_SOCK_CLOSE, conn, ts);
    Add(ts, &event, sizeof(event));
  }

  // The socket beneath the TLS streams opened next.
  void SetTlsSocket(std::int32_t fd) { tls_socket_fd_ = fd; }

  bool Write(const std::string& path, std::string& error) {
    std::stable_sort(records_.begin(), records_.end(),
                     [](const Record& a, const Record& b) { return a.ts < b.ts; });
    std::optional<CaptureWriter> writer = CaptureWriter::Create(path, error);
    if (!writer) return false;
    for (const Record& record : records_) writer->Append(record.bytes.data(), record.bytes.size());
    if (writer->Close()) return true;
    error = "writing " + path + " failed";
    return false;
  }
  std::size_t size() const { return records_.size(); }

 private:
  struct Record {
    std::uint64_t ts;
    std::string bytes;
  };
  static infrared_sock_header Header(std::uint32_t type, const Conn& conn, std::uint64_t ts) {
    infrared_sock_header header{};
    header.type = type;
    header.tid = conn.pid;
    header.conn.pid = conn.pid;
    header.conn.fd = conn.fd;
    header.conn.generation = conn.generation;
    header.timestamp_ns = ts;
    return header;
  }
  void AddData(std::uint64_t ts, const Conn& conn, std::uint32_t direction, std::uint64_t total,
               std::uint64_t offset, std::string_view bytes, bool last) {
    std::memset(data_.get(), 0, offsetof(infrared_sock_data_event, data));
    data_->header = Header(INFRARED_SOCK_DATA, conn, ts);
    data_->direction = direction;
    data_->flags = last ? INFRARED_SOCK_LAST : 0;
    data_->call_bytes = total;
    data_->offset = offset;
    data_->captured = static_cast<std::uint32_t>(bytes.size());
    std::memcpy(data_->data, bytes.data(), bytes.size());
    Add(ts, data_.get(), offsetof(infrared_sock_data_event, data) + bytes.size());
  }
  void Add(std::uint64_t ts, const void* bytes, std::size_t size) {
    records_.push_back({ts, std::string(static_cast<const char*>(bytes), size)});
  }

  std::unique_ptr<infrared_sock_data_event> data_;  // 16 KiB: kept off the stack
  std::int32_t tls_socket_fd_ = -1;
  std::vector<Record> records_;
};

// mt19937_64's output is fixed by the standard, unlike the distributions'.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t Below(std::uint64_t n) { return engine_() % n; }
  std::uint64_t Between(std::uint64_t low, std::uint64_t high) { return low + Below(high - low); }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace infrared::bench
