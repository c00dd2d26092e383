#include "agent/net/tcp_records.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

namespace infrared::net {

static_assert(sizeof(infrared_tcp_sock) == 112, "infrared_tcp_sock layout changed");
static_assert(sizeof(infrared_tcp_record) == 136, "infrared_tcp_record layout changed");

const char* TcpDecodeErrorName(TcpDecodeError error) {
  switch (error) {
    case TcpDecodeError::kTruncated:
      return "tcp_truncated";
    case TcpDecodeError::kUnknownType:
      return "tcp_unknown_type";
  }
  return "tcp_unknown";
}

std::optional<infrared_tcp_record> DecodeTcpRecord(const void* data, std::size_t size,
                                                   TcpDecodeError& error) {
  if (data == nullptr || size < sizeof(infrared_tcp_record)) {
    error = TcpDecodeError::kTruncated;
    return std::nullopt;
  }
  infrared_tcp_record record;
  std::memcpy(&record, data, sizeof(record));
  if (record.type != INFRARED_TCP_CONNECT && record.type != INFRARED_TCP_CLOSE) {
    error = TcpDecodeError::kUnknownType;
    return std::nullopt;
  }
  return record;
}

std::string TcpAddressText(std::uint16_t family, const std::uint8_t (&addr)[16]) {
  char text[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET) {
    return inet_ntop(AF_INET, addr, text, sizeof(text)) ? text : "unknown";
  }
  if (family != AF_INET6) return "unknown";
  static constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(addr, kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
    return inet_ntop(AF_INET, addr + 12, text, sizeof(text)) ? text : "unknown";
  }
  return inet_ntop(AF_INET6, addr, text, sizeof(text)) ? text : "unknown";
}

}  // namespace infrared::net
