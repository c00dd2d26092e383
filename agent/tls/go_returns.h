#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace infrared::tls {

// The largest function ReturnOffsets decodes; Go's crypto/tls functions are a
// few KiB, so anything near this is not the function asked for.
inline constexpr std::size_t kMaxFunctionBytes = 1 << 20;

// The file offsets of every RET instruction in `code`, the x86-64 bytes of one
// function whose first byte lies at `file_offset`. Go moves goroutine stacks,
// which breaks the return address a uretprobe plants, so a Go function's
// returns are probed one by one instead. On failure (too large, bytes that do
// not decode) the result is empty and `error` says why: probing only some of
// the returns would miss calls silently.
std::vector<std::uint64_t> ReturnOffsets(std::string_view code, std::uint64_t file_offset,
                                         std::string& error);

}  // namespace infrared::tls
