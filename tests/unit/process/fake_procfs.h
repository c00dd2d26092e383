#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace infrared::process {

// A procfs root in a fresh temporary directory, removed with the object.
class FakeProcfs {
 public:
  FakeProcfs() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "infrared-procfs-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    root_ = pattern;
  }
  ~FakeProcfs() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  FakeProcfs(const FakeProcfs&) = delete;
  FakeProcfs& operator=(const FakeProcfs&) = delete;

  const std::string& root() const { return root_; }

  void Write(const std::string& relative, std::string_view contents) const {
    const std::filesystem::path path = std::filesystem::path(root_) / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  }
  void Symlink(const std::string& relative, const std::string& target) const {
    const std::filesystem::path path = std::filesystem::path(root_) / relative;
    std::filesystem::create_directories(path.parent_path());
    std::filesystem::create_symlink(target, path);
  }
  void MakeDir(const std::string& relative) const {
    std::filesystem::create_directories(std::filesystem::path(root_) / relative);
  }
  void Remove(const std::string& relative) const {
    std::filesystem::remove_all(std::filesystem::path(root_) / relative);
  }

 private:
  std::string root_;
};

}  // namespace infrared::process
