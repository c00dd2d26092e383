#pragma once

// The input format of the fuzz targets that play one HTTP/1 connection from
// readable text: the bytes before the first "\nHTTP/1." go client to server,
// the rest (from "HTTP/1.") server to client. Seeds are request and response
// written one after the other (tests/fuzz/corpus/http_traffic).
#include <cstddef>
#include <string_view>

namespace infrared::fuzz {

struct Traffic {
  std::string_view request;
  std::string_view response;
};

inline Traffic SplitTraffic(const unsigned char* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t split = input.find("\nHTTP/1.");
  if (split == std::string_view::npos) return {input, {}};
  return {input.substr(0, split), input.substr(split + 1)};
}

}  // namespace infrared::fuzz
