#include "agent/tls/go_returns.h"

#include <capstone/capstone.h>

namespace infrared::tls {
namespace {

// A capstone handle and one instruction buffer, freed on scope exit.
class Disassembler {
 public:
  Disassembler() {
    opened_ = cs_open(CS_ARCH_X86, CS_MODE_64, &handle_) == CS_ERR_OK;
    if (opened_) instruction_ = cs_malloc(handle_);
  }
  ~Disassembler() {
    if (instruction_ != nullptr) cs_free(instruction_, 1);
    if (opened_) cs_close(&handle_);
  }
  Disassembler(const Disassembler&) = delete;
  Disassembler& operator=(const Disassembler&) = delete;

  bool Ready() const { return instruction_ != nullptr; }
  csh Handle() const { return handle_; }
  cs_insn* Instruction() const { return instruction_; }

 private:
  bool opened_ = false;
  csh handle_ = 0;
  cs_insn* instruction_ = nullptr;
};

}  // namespace

std::vector<std::uint64_t> ReturnOffsets(std::string_view code, std::uint64_t file_offset,
                                         std::string& error) {
  if (code.empty() || code.size() > kMaxFunctionBytes) {
    error = "the function is " + std::to_string(code.size()) + " bytes long, outside the 1 to " +
            std::to_string(kMaxFunctionBytes) + " bytes decoded";
    return {};
  }
  Disassembler disassembler;
  if (!disassembler.Ready()) {
    error = "the x86-64 disassembler (capstone) could not be opened";
    return {};
  }
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(code.data());
  std::size_t left = code.size();
  // Addresses are counted from file_offset, so each instruction's address is
  // its file offset.
  std::uint64_t address = file_offset;
  std::vector<std::uint64_t> returns;
  while (left > 0) {
    if (!cs_disasm_iter(disassembler.Handle(), &bytes, &left, &address,
                        disassembler.Instruction())) {
      error =
          "the function's bytes do not decode as x86-64 at file offset " + std::to_string(address);
      return {};
    }
    if (disassembler.Instruction()->id == X86_INS_RET) {
      returns.push_back(disassembler.Instruction()->address);
    }
  }
  return returns;
}

}  // namespace infrared::tls
