#include "agent/core/listen_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace infrared::core {
namespace {

std::optional<int> ParsePort(std::string_view text) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int port = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port > 65535) return std::nullopt;
  return port;
}

bool IsValidHostname(std::string_view host) {
  if (host.size() > 253) return false;
  while (true) {
    std::size_t dot = host.find('.');
    std::string_view label = host.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    host.remove_prefix(dot + 1);
  }
}

bool IsValidHost(std::string_view host) {
  if (host.empty()) return true;  // every interface
  bool dotted_digits = std::all_of(host.begin(), host.end(),
                                   [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
  if (dotted_digits) {
    in_addr address{};
    return inet_pton(AF_INET, std::string(host).c_str(), &address) == 1;
  }
  return IsValidHostname(host);
}

// "fe80::1%eth0": the zone names an interface and is not part of the address.
bool IsValidIpv6(std::string_view host) {
  std::size_t percent = host.find('%');
  if (percent != std::string_view::npos && percent + 1 == host.size()) return false;
  in6_addr address{};
  return inet_pton(AF_INET6, std::string(host.substr(0, percent)).c_str(), &address) == 1;
}

}  // namespace

std::optional<ListenAddress> ParseListenAddress(std::string_view text) {
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find("]:");
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view host = text.substr(1, close - 1);
    std::optional<int> port = ParsePort(text.substr(close + 2));
    if (!IsValidIpv6(host) || !port) return std::nullopt;
    return ListenAddress{std::string(host), *port};
  }
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  std::optional<int> port = ParsePort(text.substr(colon + 1));
  if (host.find(':') != std::string_view::npos || !IsValidHost(host) || !port) return std::nullopt;
  return ListenAddress{std::string(host), *port};
}

}  // namespace infrared::core
