#include "agent/tls/go_returns.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "agent/tls/elf_symbols.h"
#include "agent/tls/tls_targets.h"

namespace infrared::tls {
namespace {

using ::testing::ElementsAreArray;

TEST(GoReturnOffsetsTest, Table) {
  struct Case {
    const char* name;
    std::string code;
    std::uint64_t file_offset;
    std::vector<std::uint64_t> expected;
    bool fails;
  };
  const std::vector<Case> cases = {
      {"lone ret", "\xc3", 0, {0}, false},
      {"at an offset", "\x90\xc3", 0x1000, {0x1001}, false},
      {"two returns", "\x48\x89\xe5\xc3\xcc\xc3", 0x20, {0x23, 0x25}, false},
      // 0xc3 inside mov's immediate is not a return.
      {"c3 in an immediate", std::string("\xb8\xc3\x00\x00\x00\xc3", 6), 0, {5}, false},
      {"ret imm16", std::string("\xc2\x08\x00", 3), 7, {7}, false},
      {"repz ret", "\xf3\xc3", 0, {0}, false},
      {"far return is not ret", "\xcb", 0, {}, false},
      {"no return", std::string("\x90\x90\xe9\x00\x00\x00\x00", 7), 0, {}, false},
      {"empty", "", 0, {}, true},
      {"cut instruction", "\xc3\x48\x89", 0, {}, true},
      {"invalid in 64-bit mode", "\xc3\x06", 0, {}, true},
      {"too large", std::string(kMaxFunctionBytes + 1, '\x90'), 0, {}, true},
  };
  for (const Case& test_case : cases) {
    std::string error;
    const std::vector<std::uint64_t> returns =
        ReturnOffsets(test_case.code, test_case.file_offset, error);
    EXPECT_THAT(returns, ElementsAreArray(test_case.expected)) << test_case.name;
    EXPECT_EQ(!error.empty(), test_case.fails) << test_case.name << ": " << error;
  }
}

TEST(GoReturnOffsetsTest, LargestFunctionIsDecoded) {
  std::string code(kMaxFunctionBytes, '\x90');
  code.back() = '\xc3';
  std::string error;
  EXPECT_THAT(ReturnOffsets(code, 0, error), ElementsAreArray({kMaxFunctionBytes - 1}));
  EXPECT_EQ(error, "");
}

#ifdef INFRARED_GO_TLS_CLIENT
// The RET instructions objdump lists between `address` and `address + size`,
// as file offsets.
std::vector<std::uint64_t> ObjdumpReturns(const std::string& path, const ElfSymbol& symbol) {
  std::ostringstream command;
  command << std::hex << "objdump -d --no-show-raw-insn --start-address=0x" << symbol.address
          << " --stop-address=0x" << symbol.address + symbol.size << " '" << path << "'";
  std::vector<std::uint64_t> returns;
  FILE* pipe = popen(command.str().c_str(), "r");
  if (pipe == nullptr) return returns;
  char line[512];
  while (fgets(line, sizeof(line), pipe) != nullptr) {
    std::istringstream fields(line);
    std::string address, mnemonic;
    if (!(fields >> address >> mnemonic) || mnemonic != "ret" || address.back() != ':') continue;
    returns.push_back(std::stoull(address, nullptr, 16) - symbol.address + symbol.file_offset);
  }
  pclose(pipe);
  return returns;
}

TEST(GoReturnOffsetsTest, GoTlsFunctionsMatchObjdump) {
  if (system("command -v objdump >/dev/null") != 0) GTEST_SKIP() << "objdump is not installed";
  std::string error;
  std::optional<MappedFile> file = MappedFile::Open(INFRARED_GO_TLS_CLIENT, error);
  ASSERT_TRUE(file) << error;
  std::optional<ElfImage> elf = ElfImage::Parse(file->Bytes(), error);
  ASSERT_TRUE(elf) << error;
  const std::vector<ElfSymbol> symbols = elf->Lookup({kGoTlsWrite, kGoTlsRead});
  ASSERT_EQ(symbols.size(), 2u);
  for (const ElfSymbol& symbol : symbols) {
    const std::vector<std::uint64_t> returns =
        ReturnOffsets(elf->Bytes(symbol.file_offset, symbol.size), symbol.file_offset, error);
    EXPECT_FALSE(returns.empty()) << symbol.name << ": " << error;
    EXPECT_EQ(returns, ObjdumpReturns(INFRARED_GO_TLS_CLIENT, symbol)) << symbol.name;
  }
}
#endif

}  // namespace
}  // namespace infrared::tls
