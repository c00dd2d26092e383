#include "agent/net/sock_events.h"

#include <cstddef>
#include <cstring>

namespace infrared::net {
namespace {

// The ABI is fixed: a change here is a change of contract with bpf/sockdata.bpf.c.
static_assert(sizeof(infrared_conn_id) == 16);
static_assert(sizeof(infrared_sock_header) == 32);
static_assert(sizeof(infrared_sock_open_event) == 32 + 16 + 32);
static_assert(offsetof(infrared_sock_data_event, data) == 72);
static_assert(sizeof(infrared_tls_stream) == 48);
static_assert(sizeof(infrared_sock_close_event) == 32 + 2 * 16);
static_assert(sizeof(infrared_sock_library_event) == 32);

ConnId FromRaw(const infrared_conn_id& raw) { return ConnId{raw.pid, raw.fd, raw.generation}; }

Role RoleFromRaw(std::uint32_t role) {
  switch (role) {
    case INFRARED_ROLE_CONNECT:
      return Role::kClient;
    case INFRARED_ROLE_ACCEPT:
      return Role::kServer;
    default:
      return Role::kUnknown;
  }
}

Endpoint MakeEndpoint(const std::uint8_t (&address)[16], std::uint16_t port) {
  Endpoint endpoint;
  std::memcpy(endpoint.address.data(), address, sizeof(address));
  endpoint.port = port;
  return endpoint;
}

SockEvent DecodeOpen(const void* record, std::size_t size) {
  infrared_sock_open_event raw;
  if (size < sizeof(raw)) return SockDecodeError::kTruncated;
  std::memcpy(&raw, record, sizeof(raw));
  OpenEvent event;
  event.conn = FromRaw(raw.header.conn);
  event.tid = raw.header.tid;
  event.timestamp_ns = raw.header.timestamp_ns;
  event.role = RoleFromRaw(raw.role);
  event.ipv6 = raw.family == 10;  // AF_INET6
  event.local = MakeEndpoint(raw.local_addr, raw.local_port);
  event.remote = MakeEndpoint(raw.remote_addr, raw.remote_port);
  event.socket_fd = raw.socket_fd;
  return event;
}

SockEvent DecodeData(const void* record, std::size_t size) {
  constexpr std::size_t kHead = offsetof(infrared_sock_data_event, data);
  if (size < kHead) return SockDecodeError::kTruncated;
  infrared_sock_data_event raw;
  std::memcpy(&raw, record, kHead);
  if (raw.captured > INFRARED_SOCK_CHUNK || raw.captured > size - kHead ||
      raw.offset > raw.call_bytes || raw.captured > raw.call_bytes - raw.offset) {
    return SockDecodeError::kBadLength;
  }
  if (raw.direction != INFRARED_DIR_EGRESS && raw.direction != INFRARED_DIR_INGRESS) {
    return SockDecodeError::kBadDirection;
  }
  DataEvent event;
  event.conn = FromRaw(raw.header.conn);
  event.tid = raw.header.tid;
  event.timestamp_ns = raw.header.timestamp_ns;
  event.direction =
      raw.direction == INFRARED_DIR_EGRESS ? Direction::kEgress : Direction::kIngress;
  event.last = (raw.flags & INFRARED_SOCK_LAST) != 0;
  event.call_bytes = raw.call_bytes;
  event.offset = raw.offset;
  event.lost_bytes = raw.lost_bytes;
  event.lost_starts = raw.lost_starts;
  event.data = std::string_view(static_cast<const char*>(record) + kHead, raw.captured);
  return event;
}

SockEvent DecodeClose(const void* record, std::size_t size) {
  infrared_sock_close_event raw;
  if (size < sizeof(raw)) return SockDecodeError::kTruncated;
  std::memcpy(&raw, record, sizeof(raw));
  CloseEvent event{FromRaw(raw.header.conn), raw.header.timestamp_ns, {}};
  for (std::size_t i = 0; i < event.lost.size(); ++i) {
    event.lost[i] = StreamLoss{raw.loss[i].bytes, raw.loss[i].starts};
  }
  return event;
}

}  // namespace

SockEvent DecodeSockEvent(const void* record, std::size_t size) {
  if (size < sizeof(infrared_sock_header)) return SockDecodeError::kTruncated;
  infrared_sock_header header;
  std::memcpy(&header, record, sizeof(header));
  switch (header.type) {
    case INFRARED_SOCK_OPEN:
      return DecodeOpen(record, size);
    case INFRARED_SOCK_DATA:
      return DecodeData(record, size);
    case INFRARED_SOCK_CLOSE:
      return DecodeClose(record, size);
    case INFRARED_SOCK_LIBRARY:
      return LibraryEvent{header.conn.pid, header.timestamp_ns};
    case INFRARED_SOCK_TLS_SOCKET:
      return TlsSocketEvent{FromRaw(header.conn), header.timestamp_ns};
    default:
      return SockDecodeError::kUnknownType;
  }
}

const char* SockDecodeErrorName(SockDecodeError error) {
  switch (error) {
    case SockDecodeError::kTruncated:
      return "truncated";
    case SockDecodeError::kUnknownType:
      return "unknown_type";
    case SockDecodeError::kBadLength:
      return "bad_length";
    case SockDecodeError::kBadDirection:
      return "bad_direction";
  }
  return "unknown";
}

}  // namespace infrared::net
