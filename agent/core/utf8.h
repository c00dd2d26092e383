#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace infrared::core {

// Makes a byte string valid UTF-8: each maximal subpart of an ill-formed
// sequence becomes one U+FFFD (the Unicode "best practice", also WHATWG's), so a
// truncated 3-byte sequence is one U+FFFD and a stray continuation byte is one
// each. Overlongs, surrogates and code points above U+10FFFF are ill-formed.
std::string SanitizeUtf8(std::string_view bytes);

// `text` as one printable line for a message: control bytes (below 0x20, and
// 0x7f) become '?', and what is not UTF-8 becomes U+FFFD as above.
std::string PrintableLine(std::string_view text);

// `text` in double quotes for an error sentence, as PrintableLine: at most its
// first `max_bytes` bytes, cut before a character rather than inside one, with
// "..." inside the closing quote when cut.
std::string QuotedExcerpt(std::string_view text, std::size_t max_bytes);

}  // namespace infrared::core
