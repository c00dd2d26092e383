// Feeds arbitrary bytes to DecodeProcessEvent: ring-buffer records come from
// the kernel, but a layout mismatch or a short record must end in a decode
// error, never a read past the record or a crash.
#include <cstddef>
#include <cstdint>
#include <variant>

#include "agent/process/event_decoder.h"

namespace {

void CheckHeader(const infrared::process::EventHeader& header) {
  if (header.pid == 0) __builtin_trap();
  if (header.comm.size() > INFRARED_COMM_LEN) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace infrared::process;
  DecodedEvent event = DecodeProcessEvent(data, size);
  if (const auto* fork = std::get_if<ForkEvent>(&event)) {
    if (size < sizeof(infrared_process_fork_event)) __builtin_trap();
    CheckHeader(fork->header);
  } else if (const auto* exec = std::get_if<ExecEvent>(&event)) {
    if (size < sizeof(infrared_process_exec_event)) __builtin_trap();
    CheckHeader(exec->header);
    if (exec->filename.size() > INFRARED_FILENAME_LEN) __builtin_trap();
    // The strings come from the record, within their caps, and a read copy that is
    // not whole was cut at its cap or is shorter than its size.
    const std::size_t strings = exec->arguments.bytes.size() + exec->environment.bytes.size();
    if (size < sizeof(infrared_process_exec_event) + strings) __builtin_trap();
    if (exec->arguments.bytes.size() > INFRARED_EXEC_ARGS_MAX) __builtin_trap();
    if (exec->environment.bytes.size() > INFRARED_EXEC_ENV_MAX) __builtin_trap();
    if (!exec->environment.read && !exec->environment.bytes.empty()) __builtin_trap();
    if (!exec->arguments.read && !exec->arguments.bytes.empty()) __builtin_trap();
  } else if (const auto* exit = std::get_if<ExitEvent>(&event)) {
    if (size < sizeof(infrared_process_exit_event)) __builtin_trap();
    CheckHeader(exit->header);
  } else {
    // Every error has a drop-reason label.
    if (DecodeErrorName(std::get<DecodeError>(event))[0] == '\0') __builtin_trap();
  }
  return 0;
}
