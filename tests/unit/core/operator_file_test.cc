#include "agent/core/operator_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace infrared::core {
namespace {

// A file under /tmp of `size` bytes, removed when the test ends.
class SizedFile {
 public:
  explicit SizedFile(std::size_t size) {
    char name[] = "/tmp/infrared_operator_file_XXXXXX";
    const int fd = mkstemp(name);
    EXPECT_GE(fd, 0);
    path_ = name;
    EXPECT_EQ(ftruncate(fd, static_cast<off_t>(size)), 0);
    close(fd);
  }
  ~SizedFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(OperatorFileTest, ReadsAFileUpToTheBoundWhole) {
  SizedFile file(kMaxOperatorFileBytes);
  std::string text = "left over";
  std::string error;
  ASSERT_TRUE(ReadOperatorFile(file.path(), text, error)) << error;
  EXPECT_EQ(text, std::string(kMaxOperatorFileBytes, '\0'));
}

TEST(OperatorFileTest, RefusesAFileOneByteOverTheBound) {
  SizedFile file(kMaxOperatorFileBytes + 1);
  std::string text;
  std::string error;
  EXPECT_FALSE(ReadOperatorFile(file.path(), text, error));
  EXPECT_EQ(error, "larger than 4 MiB");
  EXPECT_TRUE(text.empty());
}

// An endless file stops being read at the bound instead of filling memory.
TEST(OperatorFileTest, RefusesAnEndlessFile) {
  std::string text;
  std::string error;
  EXPECT_FALSE(ReadOperatorFile("/dev/zero", text, error));
  EXPECT_EQ(error, "larger than 4 MiB");
  EXPECT_TRUE(text.empty());
}

TEST(OperatorFileTest, SaysWhyAFileCannotBeRead) {
  std::string text = "left over";
  std::string error;
  EXPECT_FALSE(ReadOperatorFile("/nonexistent/infrared.yaml", text, error));
  EXPECT_EQ(error, "No such file or directory");
  EXPECT_TRUE(text.empty());
  EXPECT_FALSE(ReadOperatorFile("/tmp", text, error));
  EXPECT_EQ(error, "Is a directory");
  EXPECT_TRUE(ReadOperatorFile("/dev/null", text, error));
  EXPECT_TRUE(text.empty());
}

}  // namespace
}  // namespace infrared::core
