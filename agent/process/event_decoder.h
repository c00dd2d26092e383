#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "infrared/abi/process.h"

namespace infrared::process {

// Decoded process lifecycle events. Strings are copied out of the fixed-size
// kernel buffers up to their first NUL; their bytes are not otherwise trusted.
struct EventHeader {
  std::uint32_t pid = 0;
  std::uint32_t ppid = 0;
  std::uint32_t tid = 0;
  std::uint64_t timestamp_ns = 0;
  std::string comm;
};

struct ForkEvent {
  EventHeader header;
};

struct ExecEvent {
  EventHeader header;
  std::string filename;
};

struct ExitEvent {
  EventHeader header;
  std::int32_t exit_code = 0;  // wait(2) status
  bool has_stats = false;
  infrared_proc_stats stats{};
};

// Why a ring-buffer record could not be decoded; each is a drop reason.
enum class DecodeError { kTruncated, kUnknownType, kBadPid };

using DecodedEvent = std::variant<ForkEvent, ExecEvent, ExitEvent, DecodeError>;

// Decodes one record from the process ring buffer. Never reads past `size`.
DecodedEvent DecodeProcessEvent(const void* data, std::size_t size);

// The drop reason label for a decode error ("truncated", ...).
const char* DecodeErrorName(DecodeError error);

}  // namespace infrared::process
