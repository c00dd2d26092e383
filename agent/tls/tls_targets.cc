#include "agent/tls/tls_targets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "agent/tls/elf_symbols.h"
#include "agent/tls/go_returns.h"

namespace infrared::tls {
namespace {

// /proc/<pid>/maps is about 100 bytes a mapping and vm.max_map_count is 65530
// by default; this cap bounds a process with far more.
constexpr std::size_t kMapsCap = 8 << 20;

std::string_view Basename(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool IsLibSslName(std::string_view name) { return name.starts_with("libssl.so"); }

// Takes the text up to the next space (or the end) from `rest`.
std::string_view NextField(std::string_view& rest) {
  const std::size_t space = rest.find(' ');
  const std::string_view field = rest.substr(0, space);
  rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
  return field;
}

template <typename Int>
bool ParseNumber(std::string_view text, int base, Int& out) {
  if (text.empty()) return false;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && end == text.data() + text.size();
}

// One maps line: "start-end perms offset major:minor inode   path". The path
// is the rest of the line after the padding, spaces included.
std::optional<ExecutableMapping> ParseMapsLine(std::string_view line) {
  std::string_view rest = line;
  NextField(rest);  // address range
  const std::string_view perms = NextField(rest);
  NextField(rest);  // offset
  const std::string_view device = NextField(rest);
  const std::string_view inode = NextField(rest);
  if (perms.size() != 4 || perms[2] != 'x') return std::nullopt;
  const std::size_t colon = device.find(':');
  std::uint32_t major = 0, minor = 0;
  ExecutableMapping mapping;
  if (colon == std::string_view::npos || !ParseNumber(device.substr(0, colon), 16, major) ||
      !ParseNumber(device.substr(colon + 1), 16, minor) || !ParseNumber(inode, 10, mapping.inode) ||
      mapping.inode == 0) {
    return std::nullopt;
  }
  const std::size_t path_start = rest.find_first_not_of(' ');
  if (path_start == std::string_view::npos || rest[path_start] != '/') return std::nullopt;
  const std::string_view path = rest.substr(path_start);
  // A deleted file cannot be opened by its path any more.
  if (path.ends_with(" (deleted)")) return std::nullopt;
  mapping.path = std::string(path);
  mapping.device = makedev(major, minor);
  return mapping;
}

// The contents of /proc/<pid>/maps, cut to whole lines within kMapsCap;
// nullopt with errno set when it cannot be read.
std::optional<std::string> ReadMaps(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  std::size_t length = 0;
  ssize_t got = 0;
  do {
    // procfs returns whole lines per read; large blocks mean few reads.
    text.resize(std::min(kMapsCap, length + 65536));
    got = ::read(fd, text.data() + length, text.size() - length);
    if (got > 0) length += static_cast<std::size_t>(got);
  } while (got > 0 && length < kMapsCap);
  const int read_errno = errno;
  ::close(fd);
  if (got < 0) {
    errno = read_errno;
    return std::nullopt;
  }
  text.resize(length);
  if (length == kMapsCap) text.resize(text.rfind('\n') + 1);  // drop a cut line
  return text;
}

bool ResolveOpenSsl(const ElfImage& elf, TlsTarget& target, std::string& error) {
  target.kind = TlsKind::kOpenSsl;
  const std::vector<std::string_view> names(kOpenSslFunctions.begin(), kOpenSslFunctions.end());
  for (const ElfSymbol& symbol : elf.Lookup(names)) {
    target.entries[symbol.name] = symbol.file_offset;
  }
  if (!target.entries.contains("SSL_write") || !target.entries.contains("SSL_read")) {
    error = "defines no SSL_write or no SSL_read function, so its TLS traffic cannot be traced";
    return false;
  }
  return true;
}

bool ResolveGo(const ElfImage& elf, TlsTarget& target, std::string& error) {
  target.kind = TlsKind::kGo;
  if (elf.Machine() != kMachineX86_64) {
    error =
        "is a Go binary for a machine other than x86-64, so its crypto/tls calls cannot be "
        "traced";
    return false;
  }
  if (!elf.HasSymtab()) {
    error =
        "is a stripped Go binary (no .symtab), so its crypto/tls calls cannot be traced; "
        "build it without -ldflags=-s to trace them";
    return false;
  }
  const std::vector<ElfSymbol> symbols = elf.Lookup({kGoTlsWrite, kGoTlsRead, kGoTlsClose});
  for (const ElfSymbol& symbol : symbols) {
    if (symbol.name == kGoTlsClose) {
      target.entries[symbol.name] = symbol.file_offset;
      continue;
    }
    const std::string_view code = elf.Bytes(symbol.file_offset, symbol.size);
    std::string why = "its bytes lie outside the file";
    std::vector<std::uint64_t> returns;
    if (!code.empty()) returns = ReturnOffsets(code, symbol.file_offset, why);
    if (returns.empty()) {
      error = "has a " + symbol.name + " whose returns cannot be found (" +
              (why.empty() ? "it has no RET" : why) + "), so its crypto/tls calls cannot be traced";
      return false;
    }
    target.entries[symbol.name] = symbol.file_offset;
    (symbol.name == kGoTlsWrite ? target.go_write_returns : target.go_read_returns) =
        std::move(returns);
  }
  // A Go program without crypto/tls has nothing to trace and nothing to say.
  return target.entries.contains(std::string(kGoTlsWrite)) ||
         target.entries.contains(std::string(kGoTlsRead));
}

// Resolves one file. `error`, a sentence naming `path`, is left empty for a
// file that is no TLS target; unless `strict`, a file that cannot be read or
// parsed counts as such, except one named libssl.
std::optional<TlsTarget> ResolveFile(const std::string& path, std::string_view library, bool strict,
                                     std::string& error) {
  std::optional<MappedFile> file = MappedFile::Open(path, error);
  std::optional<ElfImage> elf;
  if (file) {
    elf = ElfImage::Parse(file->Bytes(), error);
    if (!elf) error = path + " cannot be read as ELF: " + error;
  }
  if (!elf) {
    if (!strict && !IsLibSslName(library)) error.clear();
    return std::nullopt;
  }
  TlsTarget target;
  target.path = path;
  target.library = std::string(library);
  target.device = file->Device();
  target.inode = file->Inode();
  target.file = std::make_shared<const MappedFile>(std::move(*file));
  // Dynamic symbols first: they are few, and a library that only imports
  // SSL_write has it undefined, which does not count.
  bool found = false;
  if (IsLibSslName(library) || elf->DefinesDynamicFunction("SSL_write")) {
    found = ResolveOpenSsl(*elf, target, error);
  } else if (elf->IsGo()) {
    found = ResolveGo(*elf, target, error);
  }
  if (!found) {
    if (!error.empty()) error = path + " " + error;
    return std::nullopt;
  }
  return target;
}

}  // namespace

std::vector<ExecutableMapping> ParseExecutableMappings(std::string_view maps) {
  std::vector<ExecutableMapping> mappings;
  std::set<std::pair<std::uint64_t, std::uint64_t>> seen;
  while (!maps.empty()) {
    const std::size_t newline = maps.find('\n');
    const std::string_view line = maps.substr(0, newline);
    maps = newline == std::string_view::npos ? std::string_view() : maps.substr(newline + 1);
    std::optional<ExecutableMapping> mapping = ParseMapsLine(line);
    if (mapping && seen.insert({mapping->device, mapping->inode}).second) {
      mappings.push_back(std::move(*mapping));
    }
  }
  return mappings;
}

TlsTargetFinder::TlsTargetFinder(std::size_t capacity) : capacity_(capacity) {}

TlsScan TlsTargetFinder::Examine(std::uint32_t pid, const std::string& proc_root) {
  TlsScan scan;
  const std::string process = proc_root + "/" + std::to_string(pid);
  std::optional<std::string> maps = ReadMaps(process + "/maps");
  if (!maps) {
    const int read_errno = errno;
    // A process that exits between being seen and examined is routine.
    if (read_errno != ENOENT && read_errno != ESRCH) {
      scan.notes.push_back("cannot read " + process + "/maps: " + std::strerror(read_errno));
    }
    return scan;
  }
  for (const ExecutableMapping& mapping : ParseExecutableMappings(*maps)) {
    // The mapped path is in the process's mount namespace; its root reaches it.
    const std::string path = process + "/root" + mapping.path;
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 || !Remember(info.st_dev, info.st_ino)) continue;
    std::string error;
    std::optional<TlsTarget> target = ResolveFile(path, Basename(mapping.path), false, error);
    if (target) {
      scan.targets.push_back(std::move(*target));
    } else if (!error.empty()) {
      scan.notes.push_back(std::move(error));
    }
  }
  return scan;
}

std::optional<TlsTarget> TlsTargetFinder::Resolve(const std::string& path, std::string& error) {
  return ResolveFile(path, Basename(path), true, error);
}

bool TlsTargetFinder::Remember(std::uint64_t device, std::uint64_t inode) {
  if (capacity_ == 0) return true;
  if (!remembered_.insert({device, inode}).second) return false;
  order_.emplace_back(device, inode);
  if (order_.size() > capacity_) {
    remembered_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

}  // namespace infrared::tls
