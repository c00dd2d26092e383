// Feeds arbitrary bytes to ApplyYaml: a config file is user input, so any bytes
// must end in either success or an error sentence, never a crash or an escaping
// exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/core/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  infrared::core::Config config;
  std::string error;
  bool ok = infrared::core::ApplyYaml(text, "fuzz.yaml", config, error);
  // Every failure must explain itself.
  if (!ok && error.empty()) __builtin_trap();
  return 0;
}
