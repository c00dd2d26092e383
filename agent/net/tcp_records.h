#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "infrared/abi/tcp.h"

namespace infrared::net {

// Why a record from the TCP ring buffer was not used.
enum class TcpDecodeError { kTruncated, kUnknownType };

const char* TcpDecodeErrorName(TcpDecodeError error);

// Copies a tcp_events record out of the ring buffer after checking its size and
// type. Never reads past `size`.
std::optional<infrared_tcp_record> DecodeTcpRecord(const void* data, std::size_t size,
                                                   TcpDecodeError& error);

// The socket's remote (or local) address as text: dotted IPv4, IPv4-mapped IPv6
// as IPv4, other IPv6 in RFC 5952 form; "unknown" for another family.
std::string TcpAddressText(std::uint16_t family, const std::uint8_t (&addr)[16]);

}  // namespace infrared::net
