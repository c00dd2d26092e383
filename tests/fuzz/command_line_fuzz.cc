// Feeds arbitrary arguments to ParseCommandLine: the input, cut at each NUL, is
// argv after the program name. Any arguments must end in a command line or in
// one sentence saying what is wrong, on one printable line (no control
// character, valid UTF-8), never a crash or an escaping exception.
// A --config path is replaced by /dev/null (read, empty): the fuzzer must not
// read the machine's files, nor block on one such as /dev/stdin; the
// ApplyYaml behind it has config_yaml_fuzz.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/config.h"
#include "agent/core/utf8.h"

namespace {

constexpr std::size_t kMaxArguments = 64;

std::vector<std::string> Arguments(std::string_view input) {
  std::vector<std::string> args;
  while (args.size() < kMaxArguments) {
    const std::size_t end = input.find('\0');
    args.emplace_back(input.substr(0, end));
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + 1);
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--config" && i + 1 < args.size()) {
      args[++i] = "/dev/null";
    } else if (arg.starts_with("--config=") && arg.size() > 9) {
      args[i] = "--config=/dev/null";
    }
  }
  return args;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> args =
      Arguments(std::string_view(reinterpret_cast<const char*>(data), size));
  std::vector<const char*> argv{"infrared"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  std::string error;
  const auto line =
      infrared::core::ParseCommandLine(static_cast<int>(argv.size()), argv.data(), error);
  if (line) return 0;
  // Every failure explains itself in one finished sentence, on one printable line.
  if (error.empty() || error.back() != '.') __builtin_trap();
  if (infrared::core::PrintableLine(error) != error) __builtin_trap();
  return 0;
}
