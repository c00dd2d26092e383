#include "agent/core/operator_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace infrared::core {

bool ReadOperatorFile(const std::string& path, std::string& text, std::string& error) {
  text.clear();
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    error = std::strerror(errno);
    return false;
  }
  char buffer[4096];
  std::size_t n = 0;
  bool too_large = false;
  while (!too_large && (n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) {
    too_large = n > kMaxOperatorFileBytes - text.size();
    if (!too_large) text.append(buffer, n);
  }
  const int read_errno = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (too_large) {
    error = "larger than " + std::to_string(kMaxOperatorFileBytes >> 20) + " MiB";
  } else if (read_errno != 0) {
    error = std::strerror(read_errno);
  } else {
    return true;
  }
  text.clear();
  return false;
}

}  // namespace infrared::core
