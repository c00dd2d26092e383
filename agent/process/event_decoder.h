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

// The argv or envp strings of an exec, as the kernel copied them before the
// new program ran: NUL-separated entries, like /proc/<pid>/cmdline and environ.
struct ExecStrings {
  std::string bytes;
  bool read = false;   // false: the kernel could not read them; ask /proc
  bool whole = false;  // every byte is here (else the copy was cut at its cap)
};

struct ExecEvent {
  EventHeader header;
  std::string filename;
  ExecStrings arguments;
  ExecStrings environment;
};

struct ExitEvent {
  EventHeader header;
  std::int32_t exit_code = 0;  // wait(2) status
  bool has_stats = false;
  infrared_proc_stats stats{};
};

// Why a ring-buffer record could not be decoded; each is a drop reason.
enum class DecodeError { kTruncated, kUnknownType, kBadPid, kBadLength };

using DecodedEvent = std::variant<ForkEvent, ExecEvent, ExitEvent, DecodeError>;

// Decodes one record from the process ring buffer. Never reads past `size`.
DecodedEvent DecodeProcessEvent(const void* data, std::size_t size);

// The drop reason label for a decode error ("truncated", ...).
const char* DecodeErrorName(DecodeError error);

}  // namespace infrared::process
