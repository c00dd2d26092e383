#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "agent/protocols/http1/types.h"

// The grammar of a message head: start lines and field lines, the headers that
// decide framing, and the lexical helpers the framer shares.
namespace infrared::protocols::http1::internal {

inline constexpr std::string_view kVersionPrefix = "HTTP/1.";

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }
inline bool IsSpace(char c) { return c == ' ' || c == '\t'; }

inline std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Splits off the first line of `text`, without its CR LF.
std::string_view NextLine(std::string_view& text);

// Method, target and version of a request line already matched by the framer.
void ParseRequestLine(std::string_view line, Request& request);
// Version, status code and reason of a status line already matched by the framer.
void ParseStatusLine(std::string_view line, Response& response);

// The field lines of a head, and what they say about framing.
struct Fields {
  std::vector<Header> headers;
  std::uint64_t dropped = 0;
  std::optional<std::uint64_t> content_length;
  bool content_length_invalid = false;
  bool transfer_encoding = false;
  bool chunked = false;  // chunked is the final transfer coding
  bool close = false;
  bool keep_alive = false;
};

// Parses the field lines after the start line. Framing headers count even
// beyond max_headers; credential values are replaced before being stored.
Fields ParseFields(std::string_view text, std::size_t max_headers);

}  // namespace infrared::protocols::http1::internal
