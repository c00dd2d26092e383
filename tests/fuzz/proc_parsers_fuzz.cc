// Feeds arbitrary bytes to the /proc parsers: /proc/<pid>/stat holds a comm
// the process chose and environ is entirely the process's, so any bytes must
// parse or be refused, never crash.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/process/proc_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace infrared::process;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (std::optional<ProcStat> stat = ParseProcStat(text)) {
    // comm lies between the parentheses, so it is shorter than the input.
    if (stat->comm.size() + 2 > size) __builtin_trap();
  }

  if (std::optional<ProcStatus> status = ParseProcStatus(text)) {
    // Every figure is a whole number of KiB.
    constexpr std::uint64_t kKibMask = 1023;
    if ((status->vm_bytes | status->rss_anon_bytes | status->rss_file_bytes |
         status->rss_shmem_bytes) &
        kKibMask) {
      __builtin_trap();
    }
  }

  const std::string_view name = "OTEL_SERVICE_NAME";
  if (std::optional<std::string> value = FindEnvironVar(text, name)) {
    // The value follows "NAME=" somewhere in the input.
    if (value->size() + name.size() + 1 > size) __builtin_trap();
    if (text.find(std::string(name) + "=" + *value) == std::string_view::npos) __builtin_trap();
    if (value->find('\0') != std::string::npos) __builtin_trap();
  }
  return 0;
}
