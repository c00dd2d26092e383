#pragma once

#include <cstddef>
#include <string>

namespace infrared::core {

// The most a file the operator names (the config file, a price table) may hold:
// far more than any real one, and a bound when the path names something endless
// (/dev/zero) or huge (a log), which would otherwise be read until memory ran out.
inline constexpr std::size_t kMaxOperatorFileBytes = std::size_t{4} << 20;

// Reads the whole file at `path` into `text`. False, with `text` empty and
// `error` saying why (the system's reason, or "larger than 4 MiB"), when it
// cannot be opened or read or holds more than kMaxOperatorFileBytes.
bool ReadOperatorFile(const std::string& path, std::string& text, std::string& error);

}  // namespace infrared::core
