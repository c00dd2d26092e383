#include "agent/tls/tls_targets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "tests/unit/process/fake_procfs.h"
#include "tests/unit/tls/test_elf.h"

namespace infrared::tls {

// For gtest's messages; found by argument-dependent lookup.
void PrintTo(const ExecutableMapping& mapping, std::ostream* out) {
  *out << mapping.path << " " << mapping.device << ":" << mapping.inode;
}

namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

constexpr const char* kLibSsl = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
constexpr const char* kLibC = "/usr/lib/x86_64-linux-gnu/libc.so.6";
constexpr const char* kNode = "/usr/bin/node";

bool Exists(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

// ---- ParseExecutableMappings ----

TEST(TlsTargetMapsTest, Table) {
  struct Case {
    const char* name;
    std::string maps;
    std::vector<ExecutableMapping> expected;
  };
  const std::string app = "/usr/bin/app";
  const std::vector<Case> cases = {
      {"executable file",
       "55d5c5a28000-55d5c5b00000 r-xp 00028000 08:01 1234                       /usr/bin/app\n",
       {{app, makedev(8, 1), 1234}}},
      {"not executable", "55d5c5a00000-55d5c5a28000 r--p 00000000 08:01 1234   /usr/bin/app\n", {}},
      {"one file twice",
       "1000-2000 r-xp 00000000 08:01 1234 /usr/bin/app\n"
       "3000-4000 r-xp 00003000 08:01 1234 /usr/bin/app\n",
       {{app, makedev(8, 1), 1234}}},
      {"same inode on another device",
       "1000-2000 r-xp 00000000 08:01 7 /a\n3000-4000 r-xp 00000000 08:02 7 /b",
       {{"/a", makedev(8, 1), 7}, {"/b", makedev(8, 2), 7}}},
      {"spaces in the path",
       "1000-2000 r-xp 00000000 fd:00 99    /opt/my app/lib ssl.so.3\n",
       {{"/opt/my app/lib ssl.so.3", makedev(0xfd, 0), 99}}},
      {"large device numbers",
       "1000-2000 r-xp 00000000 103:1f 77 /x\n",
       {{"/x", makedev(0x103, 0x1f), 77}}},
      {"deleted", "1000-2000 r-xp 00000000 08:01 555   /usr/lib/old.so (deleted)\n", {}},
      {"vdso", "7ffd1000-7ffd3000 r-xp 00000000 00:00 0                  [vdso]\n", {}},
      {"anonymous with padding", "1000-2000 rwxp 00000000 00:00 0 \n", {}},
      {"anonymous", "1000-2000 r-xp 00000000 00:00 0\n", {}},
      {"relative path", "1000-2000 r-xp 00000000 08:01 12 lib.so\n", {}},
      {"inode zero with a path", "1000-2000 r-xp 00000000 08:01 0 /dev/zero\n", {}},
      {"bad device", "1000-2000 r-xp 00000000 zz:01 5 /x\n", {}},
      {"device without colon", "1000-2000 r-xp 00000000 0801 5 /x\n", {}},
      {"negative inode", "1000-2000 r-xp 00000000 08:01 -5 /x\n", {}},
      {"inode too large", "1000-2000 r-xp 00000000 08:01 99999999999999999999 /x\n", {}},
      {"short perms", "1000-2000 r-x 00000000 08:01 5 /x\n", {}},
      {"garbage lines", "garbage\n\n a b c d e\n\xff\xfe\n", {}},
      {"empty", "", {}},
      {"good line among bad",
       "junk\n1000-2000 r-xp 00000000 08:01 5 /x\nr-xp\n2000-3000 --xp 0 08:01 6 /y",
       {{"/x", makedev(8, 1), 5}, {"/y", makedev(8, 1), 6}}},
  };
  for (const Case& test_case : cases) {
    EXPECT_EQ(ParseExecutableMappings(test_case.maps), test_case.expected) << test_case.name;
  }
}

// ---- Resolve, on files built here ----

TestElf GoElf() {
  TestElf elf;  // code: push rbp; mov rbp,rsp; ret; nop; nop; nop; ret
  elf.extra_sections = {".go.buildinfo"};
  elf.with_symtab = true;
  elf.symtab = {{std::string(kGoTlsWrite), 0, 5},
                {std::string(kGoTlsRead), 5, 4},
                {std::string(kGoTlsClose), 8, 1}};
  return elf;
}

TEST(TlsTargetResolveTest, BuiltFiles) {
  struct Case {
    const char* name;
    const char* file_name;
    std::string image;
    std::optional<TlsKind> kind;
    const char* error;  // a fragment; "" for none
  };
  TestElf openssl;
  openssl.dynamic = {{"SSL_write", 0, 5}, {"SSL_read", 5, 4}};
  TestElf write_only;
  write_only.dynamic = {{"SSL_write", 0, 5}};
  TestElf importer;
  importer.dynamic = {{"SSL_write", 0, 0, STT_FUNC, SHN_UNDEF}};
  TestElf stripped_go;
  stripped_go.extra_sections = {".go.buildinfo"};
  TestElf arm_go = GoElf();
  arm_go.machine = EM_AARCH64;
  TestElf sizeless_go = GoElf();
  sizeless_go.symtab[0].size = 0;
  TestElf plain_go = GoElf();
  plain_go.symtab = {{"main.main", 0, 5}};
  const std::vector<Case> cases = {
      {"libssl", "libssl.so.9", openssl.Build(), TlsKind::kOpenSsl, ""},
      {"executable exporting SSL_write", "app", openssl.Build(), TlsKind::kOpenSsl, ""},
      {"libssl without SSL_read", "libssl.so.9", write_only.Build(), std::nullopt, "no SSL_read"},
      {"library importing SSL_write", "libcurl.so.4", importer.Build(), std::nullopt, ""},
      {"Go", "server", GoElf().Build(), TlsKind::kGo, ""},
      {"stripped Go", "server", stripped_go.Build(), std::nullopt, "stripped Go binary"},
      {"Go for arm64", "server", arm_go.Build(), std::nullopt, "x86-64"},
      {"Go function of size 0", "server", sizeless_go.Build(), std::nullopt, "cannot be found"},
      {"Go without crypto/tls", "server", plain_go.Build(), std::nullopt, ""},
      {"not ELF", "libssl.so.3", "just text", std::nullopt, "cannot be read as ELF"},
  };
  process::FakeProcfs directory;
  for (const Case& test_case : cases) {
    directory.Write(test_case.file_name, test_case.image);
    const std::string path = directory.root() + "/" + test_case.file_name;
    std::string error;
    std::optional<TlsTarget> target = TlsTargetFinder::Resolve(path, error);
    ASSERT_EQ(target.has_value(), test_case.kind.has_value()) << test_case.name << ": " << error;
    EXPECT_THAT(error, HasSubstr(test_case.error)) << test_case.name;
    if (*test_case.error != '\0') {
      EXPECT_THAT(error, HasSubstr(path)) << test_case.name;
    }
    if (target) {
      EXPECT_EQ(target->kind, *test_case.kind) << test_case.name;
      EXPECT_EQ(target->library, test_case.file_name);
      EXPECT_EQ(target->path, path);
    }
    directory.Remove(test_case.file_name);
  }
}

TEST(TlsTargetResolveTest, GoEntriesAndReturns) {
  TestElf::Layout layout;
  process::FakeProcfs directory;
  directory.Write("server", GoElf().Build(&layout));
  std::string error;
  std::optional<TlsTarget> target = TlsTargetFinder::Resolve(directory.root() + "/server", error);
  ASSERT_TRUE(target) << error;
  const std::map<std::string, std::uint64_t> entries = {
      {std::string(kGoTlsWrite), layout.code},
      {std::string(kGoTlsRead), layout.code + 5},
      {std::string(kGoTlsClose), layout.code + 8}};
  EXPECT_EQ(target->entries, entries);
  EXPECT_EQ(target->go_write_returns, std::vector<std::uint64_t>{layout.code + 4});
  EXPECT_EQ(target->go_read_returns, std::vector<std::uint64_t>{layout.code + 8});
}

TEST(TlsTargetResolveTest, UnreadableOrPlainFiles) {
  std::string error;
  EXPECT_FALSE(TlsTargetFinder::Resolve("/nonexistent/libssl.so.3", error));
  EXPECT_THAT(error, HasSubstr("cannot open /nonexistent/libssl.so.3"));
  error.clear();
  EXPECT_FALSE(TlsTargetFinder::Resolve("/proc/self/exe", error));  // this test, no TLS
  EXPECT_EQ(error, "");
}

// ---- real files ----

TEST(TlsTargetResolveTest, HostLibSsl) {
  if (!Exists(kLibSsl)) GTEST_SKIP() << kLibSsl << " is not installed";
  std::string error;
  std::optional<TlsTarget> target = TlsTargetFinder::Resolve(kLibSsl, error);
  ASSERT_TRUE(target) << error;
  struct stat info {};
  ASSERT_EQ(stat(kLibSsl, &info), 0);
  EXPECT_EQ(target->kind, TlsKind::kOpenSsl);
  EXPECT_EQ(target->library, "libssl.so.3");
  EXPECT_EQ(target->device, info.st_dev);
  EXPECT_EQ(target->inode, info.st_ino);
  EXPECT_THAT(target->entries, SizeIs(kOpenSslFunctions.size()));
}

#ifdef INFRARED_GO_TLS_CLIENT
TEST(TlsTargetResolveTest, GoClientBuiltByCMake) {
  std::string error;
  std::optional<TlsTarget> target = TlsTargetFinder::Resolve(INFRARED_GO_TLS_CLIENT, error);
  ASSERT_TRUE(target) << error;
  EXPECT_EQ(target->kind, TlsKind::kGo);
  EXPECT_EQ(target->library, "go_tls_client");
  EXPECT_THAT(target->entries, SizeIs(3));
  EXPECT_FALSE(target->go_write_returns.empty());
  EXPECT_FALSE(target->go_read_returns.empty());

  EXPECT_FALSE(TlsTargetFinder::Resolve(INFRARED_GO_TLS_CLIENT_STRIPPED, error));
  EXPECT_THAT(error, HasSubstr("stripped Go binary"));
}
#endif

// ---- Examine, over a fake procfs whose process roots are the host's / ----

// A maps line mapping `path` executable; inodes only need to differ.
std::string MapsLine(const std::string& path, std::size_t inode) {
  return "7f0000000000-7f0000001000 r-xp 00000000 08:01 " + std::to_string(inode) + "  " + path +
         "\n";
}

class TlsTargetFinderTest : public ::testing::Test {
 protected:
  // Process `pid` maps `paths`, seen from the host's root.
  void AddProcess(std::uint32_t pid, const std::vector<std::string>& paths) {
    std::string maps;
    for (std::size_t i = 0; i < paths.size(); ++i) maps += MapsLine(paths[i], 100 + i);
    procfs_.Write(std::to_string(pid) + "/maps", maps);
    procfs_.Symlink(std::to_string(pid) + "/root", "/");
  }

  process::FakeProcfs procfs_;
};

TEST_F(TlsTargetFinderTest, FindsEachTargetOnce) {
  if (!Exists(kLibSsl) || !Exists(kLibC)) GTEST_SKIP() << "needs libssl.so.3 and libc.so.6";
  std::vector<std::string> paths = {kLibC, kLibSsl, "/nonexistent/lib.so", "/etc/hostname"};
  if (Exists(kNode)) paths.push_back(kNode);
#ifdef INFRARED_GO_TLS_CLIENT
  paths.push_back(INFRARED_GO_TLS_CLIENT);
  paths.push_back(INFRARED_GO_TLS_CLIENT_STRIPPED);
#endif
  AddProcess(100, paths);
  TlsTargetFinder finder;
  const TlsScan scan = finder.Examine(100, procfs_.root());
  std::map<std::string, const TlsTarget*> by_library;
  for (const TlsTarget& target : scan.targets) by_library[target.library] = &target;
  ASSERT_TRUE(by_library.contains("libssl.so.3"));
  EXPECT_EQ(by_library["libssl.so.3"]->path, procfs_.root() + "/100/root" + kLibSsl);
  EXPECT_THAT(by_library["libssl.so.3"]->entries, SizeIs(6));
  if (Exists(kNode)) {
    ASSERT_TRUE(by_library.contains("node"));
    EXPECT_EQ(by_library["node"]->kind, TlsKind::kOpenSsl);
    EXPECT_TRUE(by_library["node"]->entries.contains("SSL_write"));
  }
#ifdef INFRARED_GO_TLS_CLIENT
  ASSERT_TRUE(by_library.contains("go_tls_client"));
  EXPECT_EQ(by_library["go_tls_client"]->kind, TlsKind::kGo);
  ASSERT_THAT(scan.notes, SizeIs(1));
  EXPECT_THAT(scan.notes[0], HasSubstr("go_tls_client_stripped is a stripped Go binary"));
#endif
  EXPECT_THAT(scan.targets, SizeIs(by_library.size()));

  // Another process mapping the same files adds nothing, notes included.
  AddProcess(101, paths);
  const TlsScan again = finder.Examine(101, procfs_.root());
  EXPECT_THAT(again.targets, SizeIs(0));
  EXPECT_THAT(again.notes, SizeIs(0));
}

TEST_F(TlsTargetFinderTest, ForgetsTheOldestPastCapacity) {
  if (!Exists(kLibSsl) || !Exists(kLibC)) GTEST_SKIP() << "needs libssl.so.3 and libc.so.6";
  AddProcess(100, {kLibSsl});
  AddProcess(101, {kLibC});
  TlsTargetFinder finder(1);
  EXPECT_THAT(finder.Examine(100, procfs_.root()).targets, SizeIs(1));
  EXPECT_THAT(finder.Examine(100, procfs_.root()).targets, SizeIs(0));
  EXPECT_THAT(finder.Examine(101, procfs_.root()).targets, SizeIs(0));  // libssl forgotten
  EXPECT_EQ(finder.RememberedCount(), 1u);
  EXPECT_THAT(finder.Examine(100, procfs_.root()).targets, SizeIs(1));

  TlsTargetFinder forgetful(0);
  EXPECT_THAT(forgetful.Examine(100, procfs_.root()).targets, SizeIs(1));
  EXPECT_THAT(forgetful.Examine(100, procfs_.root()).targets, SizeIs(1));
}

TEST_F(TlsTargetFinderTest, GoneAndUnreadableProcesses) {
  TlsTargetFinder finder;
  const TlsScan gone = finder.Examine(4242, procfs_.root());
  EXPECT_THAT(gone.targets, SizeIs(0));
  EXPECT_THAT(gone.notes, SizeIs(0));
  procfs_.MakeDir("102/maps");  // reading a directory fails with EISDIR
  const TlsScan unreadable = finder.Examine(102, procfs_.root());
  ASSERT_THAT(unreadable.notes, SizeIs(1));
  EXPECT_THAT(unreadable.notes[0], HasSubstr("cannot read " + procfs_.root() + "/102/maps"));
}

// ---- Examine, on real processes ----

// A child process that runs until its stdin closes.
class Child {
 public:
  explicit Child(std::vector<std::string> arguments) {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    std::vector<char*> argv;
    for (std::string& argument : arguments) argv.push_back(argument.data());
    argv.push_back(nullptr);
    // glibc's posix_spawn returns once the child has called exec.
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[0]);
    stdin_ = fds[1];
  }
  ~Child() {
    if (stdin_ >= 0) close(stdin_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

  // Waits until the child maps `path` executable: posix_spawn returns once
  // exec has replaced the memory, which is before the new program is mapped.
  bool WaitForMapping(const std::string& path) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    const std::string maps_path = "/proc/" + std::to_string(pid_) + "/maps";
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(maps_path);
      const std::string maps((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      for (const ExecutableMapping& mapping : ParseExecutableMappings(maps)) {
        if (mapping.path == path) return true;
      }
      usleep(1000);
    }
    return false;
  }

 private:
  pid_t pid_ = 0;
  int stdin_ = -1;
};

// Examines a live process and reports how long it took.
TlsScan TimedExamine(pid_t pid, const char* what) {
  TlsTargetFinder finder;
  const auto start = std::chrono::steady_clock::now();
  TlsScan scan = finder.Examine(static_cast<std::uint32_t>(pid));
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start);
  ::testing::Test::RecordProperty(std::string(what) + "_examine_us", std::to_string(took.count()));
  std::cout << "Examine(" << what << ") took " << took.count() << " us\n";
  return scan;
}

#ifdef INFRARED_GO_TLS_CLIENT
TEST(TlsTargetProcessTest, GoProcess) {
  const std::string path = std::filesystem::canonical(INFRARED_GO_TLS_CLIENT).string();
  Child child({path});
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(child.WaitForMapping(path));
  const TlsScan scan = TimedExamine(child.pid(), "go");
  ASSERT_THAT(scan.targets, SizeIs(1));
  EXPECT_EQ(scan.targets[0].kind, TlsKind::kGo);
  EXPECT_EQ(scan.targets[0].path, "/proc/" + std::to_string(child.pid()) + "/root" + path);
}
#endif

TEST(TlsTargetProcessTest, NodeProcess) {
  if (!Exists(kNode)) GTEST_SKIP() << kNode << " is not installed";
  const std::string path = std::filesystem::canonical(kNode).string();
  Child child({path, "-e", "process.stdin.resume()"});
  ASSERT_GT(child.pid(), 0);
  ASSERT_TRUE(child.WaitForMapping(path));
  const TlsScan scan = TimedExamine(child.pid(), "node");
  bool found = false;
  for (const TlsTarget& target : scan.targets) found = found || target.library == "node";
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace infrared::tls
