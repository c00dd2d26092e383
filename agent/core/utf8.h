#pragma once

#include <string>
#include <string_view>

namespace infrared::core {

// Makes a byte string valid UTF-8: each maximal subpart of an ill-formed
// sequence becomes one U+FFFD (the Unicode "best practice", also WHATWG's), so a
// truncated 3-byte sequence is one U+FFFD and a stray continuation byte is one
// each. Overlongs, surrogates and code points above U+10FFFF are ill-formed.
std::string SanitizeUtf8(std::string_view bytes);

}  // namespace infrared::core
