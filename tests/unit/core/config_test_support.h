#pragma once

// Parsing a command line and writing a config file, for config_test.cc and
// config_errors_test.cc.

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "agent/core/config.h"

namespace infrared::core::config_test {

struct ParseResult {
  std::optional<CommandLine> line;
  std::string error;
};

// Runs ParseCommandLine with "infrared" as argv[0].
inline ParseResult Parse(const std::vector<std::string>& args) {
  std::vector<const char*> argv{"infrared"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  ParseResult result;
  result.line = ParseCommandLine(static_cast<int>(argv.size()), argv.data(), result.error);
  return result;
}

// A file under /tmp holding `contents`, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    char name[] = "/tmp/infrared_config_test_XXXXXX";
    int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    path_ = name;
    EXPECT_EQ(write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace infrared::core::config_test
