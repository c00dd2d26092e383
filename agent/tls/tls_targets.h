#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/tls/elf_symbols.h"

namespace infrared::tls {

// The OpenSSL functions probed, in libssl or in an executable that carries
// OpenSSL (node exports them).
inline constexpr std::array<std::string_view, 6> kOpenSslFunctions = {
    "SSL_write", "SSL_read", "SSL_write_ex", "SSL_read_ex", "SSL_shutdown", "SSL_free"};
// The Go functions probed; they are found in .symtab only. Close is probed at
// its entry only, so it has no returns below.
inline constexpr std::string_view kGoTlsWrite = "crypto/tls.(*Conn).Write";
inline constexpr std::string_view kGoTlsRead = "crypto/tls.(*Conn).Read";
inline constexpr std::string_view kGoTlsClose = "crypto/tls.(*Conn).Close";

enum class TlsKind { kOpenSsl, kGo };

// A file whose TLS functions can be probed, with the file offsets to probe.
struct TlsTarget {
  TlsKind kind = TlsKind::kOpenSsl;
  // The path to attach through, e.g.
  // /proc/<pid>/root/usr/lib/x86_64-linux-gnu/libssl.so.3: valid while that
  // process lives, so attach right away.
  std::string path;
  // For display: "libssl.so.3", or the executable's file name.
  std::string library;
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  // The file, held open (and mapped) until the target is dropped: attach
  // through AttachPath(), which stays valid when the process that led to the
  // file has exited meanwhile.
  std::shared_ptr<const MappedFile> file;
  std::string AttachPath() const {
    return file ? "/proc/self/fd/" + std::to_string(file->Fd()) : path;
  }
  // Function name (kOpenSslFunctions, or kGoTlsWrite, kGoTlsRead and
  // kGoTlsClose) -> file offset of its entry. Only the functions the file defines are present.
  std::map<std::string, std::uint64_t> entries;
  // Go only: the file offsets of every RET of (*Conn).Write and (*Conn).Read,
  // probed instead of uretprobes, which corrupt Go stacks.
  std::vector<std::uint64_t> go_write_returns;
  std::vector<std::uint64_t> go_read_returns;
};

// A file mapped with execute permission, from a /proc/<pid>/maps line. The
// path is as the process sees it, in its own mount namespace.
struct ExecutableMapping {
  std::string path;
  std::uint64_t device = 0;  // makedev(major, minor), comparable with st_dev
  std::uint64_t inode = 0;

  bool operator==(const ExecutableMapping&) const = default;
};

// The distinct files (by device and inode) that /proc/<pid>/maps text maps
// executable, in order of first appearance. Anonymous and pseudo mappings
// ([vdso], [heap]), deleted files and malformed lines are left out.
std::vector<ExecutableMapping> ParseExecutableMappings(std::string_view maps);

// What examining a process found.
struct TlsScan {
  std::vector<TlsTarget> targets;
  // Sentences about files that look like TLS but cannot be traced (a stripped
  // Go binary, a libssl without SSL_write); each file is examined once, so
  // each note comes once and is worth logging.
  std::vector<std::string> notes;
};

// Finds the TLS libraries and binaries processes map, examining each file
// (by device and inode) once across all processes: uprobes attach to a file,
// not to a process, so a file already seen needs nothing more.
class TlsTargetFinder {
 public:
  static constexpr std::size_t kDefaultCapacity = 4096;

  // Remembers at most `capacity` files (0: none); past that the oldest is
  // forgotten, so it is examined again when next met and, if it is a target,
  // returned again: callers key their attachments by (device, inode).
  explicit TlsTargetFinder(std::size_t capacity = kDefaultCapacity);

  // The targets among the files process `pid` maps executable that were not
  // examined before. A process that has gone gives an empty scan.
  TlsScan Examine(std::uint32_t pid, const std::string& proc_root = "/proc");

  // Resolves the one file at `path` (the host's libssl at a well-known path,
  // say). nullopt with `error` empty: the file is not a TLS target; nullopt
  // with `error` set: it cannot be read or looks like TLS but cannot be traced.
  static std::optional<TlsTarget> Resolve(const std::string& path, std::string& error);

  std::size_t RememberedCount() const { return remembered_.size(); }

 private:
  // False when the file was examined before; otherwise remembers it.
  bool Remember(std::uint64_t device, std::uint64_t inode);

  std::size_t capacity_;
  std::set<std::pair<std::uint64_t, std::uint64_t>> remembered_;
  std::deque<std::pair<std::uint64_t, std::uint64_t>> order_;  // oldest first
};

}  // namespace infrared::tls
