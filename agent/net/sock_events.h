#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "infrared/abi/sockdata.h"

namespace infrared::net {

// A connection as the kernel names it: a process's fd, and when it was opened
// (or first seen), so that a reused fd is another connection.
struct ConnId {
  std::uint32_t pid = 0;
  std::int32_t fd = 0;
  std::uint64_t generation = 0;
  bool operator==(const ConnId&) const = default;
  // A TLS stream (keyed by the TLS library's object, not by a socket fd).
  bool tls() const { return fd == INFRARED_TLS_FD; }
};

struct ConnIdHash {
  std::size_t operator()(const ConnId& id) const {
    return std::hash<std::uint64_t>()((std::uint64_t{id.pid} << 32) ^ std::uint32_t(id.fd)) ^
           std::hash<std::uint64_t>()(id.generation);
  }
};

enum class Role { kUnknown, kClient, kServer };
enum class Direction { kEgress, kIngress };

struct Endpoint {
  std::array<std::uint8_t, 16> address{};  // IPv4 in the first 4 bytes
  std::uint16_t port = 0;
};

struct OpenEvent {
  ConnId conn;
  std::uint32_t tid = 0;
  std::uint64_t timestamp_ns = 0;
  Role role = Role::kUnknown;
  bool ipv6 = false;
  Endpoint local;
  Endpoint remote;
  std::int32_t socket_fd = -1;  // for a TLS stream, the socket beneath it
};

// Bytes [offset, offset + data.size()) of one syscall that moved call_bytes in
// all. `data` points into the ring buffer: valid only during the callback.
struct DataEvent {
  ConnId conn;
  std::uint32_t tid = 0;
  std::uint64_t timestamp_ns = 0;
  Direction direction = Direction::kEgress;
  bool last = false;  // the call's last event
  std::uint64_t call_bytes = 0;
  std::uint64_t offset = 0;
  // What this direction lost to a full ring buffer before this call
  // (cumulative, infrared_stream_loss): bytes, and HTTP/1 messages begun.
  std::uint64_t lost_bytes = 0;
  std::uint32_t lost_starts = 0;
  std::string_view data;
};

// What one direction of a connection lost to a full ring buffer
// (infrared_stream_loss): cumulative.
struct StreamLoss {
  std::uint64_t bytes = 0;
  std::uint32_t starts = 0;
};

struct CloseEvent {
  ConnId conn;
  std::uint64_t timestamp_ns = 0;
  std::array<StreamLoss, 2> lost;  // egress, ingress: up to the close
};

// A process mapped a file named like a TLS library (libssl.so*).
struct LibraryEvent {
  std::uint32_t pid = 0;
  std::uint64_t timestamp_ns = 0;
};

// The connection carries TLS records: its bytes are not copied (its plaintext
// comes as a TLS stream's).
struct TlsSocketEvent {
  ConnId conn;
  std::uint64_t timestamp_ns = 0;
};

enum class SockDecodeError { kTruncated, kUnknownType, kBadLength, kBadDirection };

using SockEvent =
    std::variant<OpenEvent, DataEvent, CloseEvent, LibraryEvent, TlsSocketEvent, SockDecodeError>;

// Decodes one record of the socket ring buffer; never reads past `size`.
SockEvent DecodeSockEvent(const void* record, std::size_t size);

const char* SockDecodeErrorName(SockDecodeError error);

}  // namespace infrared::net
