// Feeds arbitrary bytes to the ELF reader, the x86-64 return finder and the
// /proc/<pid>/maps parser: the agent reads files and maps of any process on
// the host, so any bytes must parse or be refused, never crash or read past
// the input.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/tls/elf_symbols.h"
#include "agent/tls/go_returns.h"
#include "agent/tls/tls_targets.h"

namespace {

using namespace infrared::tls;

// Each return lies inside the code it was found in.
void CheckReturns(std::string_view code, std::uint64_t file_offset) {
  std::string error;
  for (std::uint64_t offset : ReturnOffsets(code, file_offset, error)) {
    if (offset < file_offset || offset - file_offset >= code.size()) __builtin_trap();
  }
}

void CheckElf(std::string_view bytes) {
  std::string error;
  std::optional<ElfImage> elf = ElfImage::Parse(bytes, error);
  if (!elf) {
    if (error.empty()) __builtin_trap();  // a refusal always says why
    return;
  }
  elf->IsGo();
  elf->DefinesDynamicFunction("SSL_write");
  const std::vector<std::string_view> names = {"SSL_write", "SSL_read", kGoTlsWrite, "main", ""};
  for (const ElfSymbol& symbol : elf->Lookup(names)) {
    if (symbol.file_offset >= bytes.size()) __builtin_trap();
    if (elf->FileOffset(symbol.address) != symbol.file_offset) __builtin_trap();
    const std::string_view code = elf->Bytes(symbol.file_offset, symbol.size);
    if (!code.empty() && code.size() != symbol.size) __builtin_trap();
    // Bounded, so that a huge symbol size does not slow the fuzzer down.
    if (code.size() <= 4096) CheckReturns(code, symbol.file_offset);
  }
}

void CheckMaps(std::string_view text) {
  for (const ExecutableMapping& mapping : ParseExecutableMappings(text)) {
    if (mapping.path.empty() || mapping.path[0] != '/' || mapping.inode == 0) __builtin_trap();
    if (text.find(mapping.path) == std::string_view::npos) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  CheckElf(bytes);
  CheckMaps(bytes);
  CheckReturns(bytes.substr(0, 4096), 0x1000);
  return 0;
}
