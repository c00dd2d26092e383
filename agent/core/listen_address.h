#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace infrared::core {

struct ListenAddress {
  std::string host;  // empty: every IPv4 interface
  int port = 0;      // 0: any free port
};

// Parses "[host]:port": host empty, an IPv4 address, a hostname, or a
// bracketed IPv6 address ("[::1]:9464", zone allowed); port 0..65535. A bare
// IPv6 address is refused, as it cannot be told apart from its port.
std::optional<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace infrared::core
