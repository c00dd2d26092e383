#include "agent/process/proc_reader.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <memory>

#include "agent/core/text.h"

namespace infrared::process {
namespace {

constexpr std::uint32_t kPfKthread = 0x00200000;
// /proc files the agent reads are small; these caps bound a hostile or huge one.
constexpr std::size_t kStatCap = 4096;
constexpr std::size_t kStatusCap = 16384;
constexpr std::size_t kEnvironCap = 256 * 1024;
// Hybrid hosts list a dozen hierarchies; deep container paths are ~300 bytes each.
constexpr std::size_t kCgroupCap = 64 * 1024;

template <typename Int>
bool ParseInt(std::string_view text, Int& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

// Splits on single spaces, the separator /proc/<pid>/stat uses.
std::vector<std::string_view> SplitSpaces(std::string_view text) {
  std::vector<std::string_view> fields;
  while (!text.empty()) {
    std::size_t space = text.find(' ');
    fields.push_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return fields;
}

std::string_view Basename(std::string_view path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  std::size_t open = text.find('(');
  std::size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open ||
      close + 2 > text.size()) {
    return std::nullopt;
  }
  ProcStat stat;
  stat.comm = std::string(text.substr(open + 1, close - open - 1));
  std::string_view rest = text.substr(close + 2);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.remove_suffix(1);
  // rest[0] is field 3 (state); field N is rest[N - 3].
  std::vector<std::string_view> fields = SplitSpaces(rest);
  if (fields.size() < 20) return std::nullopt;
  std::uint64_t minflt = 0, majflt = 0, utime = 0, stime = 0;
  if (!ParseInt(fields[4 - 3], stat.ppid) || !ParseInt(fields[9 - 3], stat.flags) ||
      !ParseInt(fields[10 - 3], minflt) || !ParseInt(fields[12 - 3], majflt) ||
      !ParseInt(fields[14 - 3], utime) || !ParseInt(fields[15 - 3], stime) ||
      !ParseInt(fields[22 - 3], stat.start_ticks)) {
    return std::nullopt;
  }
  stat.faults = minflt + majflt;
  stat.cpu_ticks = utime + stime;
  return stat;
}

std::optional<ProcStatus> ParseProcStatus(std::string_view text) {
  ProcStatus status;
  struct Field {
    std::string_view name;
    std::uint64_t* out;
  };
  const Field fields[] = {{"VmSize:", &status.vm_bytes},
                          {"RssAnon:", &status.rss_anon_bytes},
                          {"RssFile:", &status.rss_file_bytes},
                          {"RssShmem:", &status.rss_shmem_bytes}};
  while (!text.empty()) {
    std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    for (const Field& field : fields) {
      if (line.substr(0, field.name.size()) != field.name) continue;
      std::string_view value = line.substr(field.name.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      if (value.size() < 3 || value.substr(value.size() - 3) != " kB") return std::nullopt;
      std::uint64_t kib = 0;
      if (!ParseInt(value.substr(0, value.size() - 3), kib) || kib > (UINT64_MAX >> 10)) {
        return std::nullopt;
      }
      *field.out = kib << 10;
    }
  }
  return status;
}

std::optional<std::string> FindEnvironVar(std::string_view environ, std::string_view name) {
  while (!environ.empty()) {
    std::size_t end = environ.find('\0');
    std::string_view entry = environ.substr(0, end);
    environ.remove_prefix(end == std::string_view::npos ? environ.size() : end + 1);
    if (entry.size() > name.size() && entry.substr(0, name.size()) == name &&
        entry[name.size()] == '=') {
      return std::string(entry.substr(name.size() + 1));
    }
  }
  return std::nullopt;
}

namespace {

// OTEL_RESOURCE_ATTRIBUTES is the process's to write: it is bounded here.
constexpr std::size_t kMaxResourceAttributes = 32;
constexpr std::size_t kMaxResourceBytes = 256;

// An escape that does not decode is kept as written.
std::string DecodeOrKeep(std::string_view text) {
  return core::PercentDecode(text).value_or(std::string(text));
}

bool NamesSecret(std::string_view argument) {
  std::string lower(argument);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view word : {"authorization", "bearer", "token", "secret", "passw", "api-key",
                                "api_key", "apikey", "credential", "cookie"}) {
    if (lower.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

std::string RedactCommandLine(const std::vector<std::string_view>& arguments) {
  constexpr std::string_view kRedacted = "[REDACTED]";
  std::string line;
  bool redact_next = false;
  for (std::string_view argument : arguments) {
    if (!line.empty()) line += ' ';
    if (redact_next) {
      line += kRedacted;
      redact_next = false;
      continue;
    }
    if (!NamesSecret(argument)) {
      line += argument;
      continue;
    }
    std::size_t cut = argument.find_first_of("=:");
    if (cut != std::string_view::npos && NamesSecret(argument.substr(0, cut + 1))) {
      line.append(argument.substr(0, cut + 1)).append(kRedacted);
    } else if (argument.front() == '-') {
      line += argument;  // a flag: its value is the next argument
      redact_next = true;
    } else {
      line += kRedacted;
    }
  }
  return line;
}

ResourceAttributes ParseResourceAttributes(std::string_view text) {
  ResourceAttributes attributes;
  while (!text.empty() && attributes.size() < kMaxResourceAttributes) {
    std::size_t comma = text.find(',');
    std::string_view pair = text.substr(0, comma);
    text.remove_prefix(comma == std::string_view::npos ? text.size() : comma + 1);
    std::size_t equals = pair.find('=');
    if (equals == std::string_view::npos) continue;
    std::string key = DecodeOrKeep(core::Trim(pair.substr(0, equals)));
    std::string value = DecodeOrKeep(core::Trim(pair.substr(equals + 1)));
    if (key.empty() || key.size() > kMaxResourceBytes || value.size() > kMaxResourceBytes) continue;
    attributes.emplace_back(std::move(key), std::move(value));
  }
  return attributes;
}

ProcIdentity IdentityFromEnviron(std::string_view environ) {
  return IdentityFromVariables(FindEnvironVar(environ, "OTEL_SERVICE_NAME"),
                               FindEnvironVar(environ, "OTEL_RESOURCE_ATTRIBUTES"));
}

ProcIdentity IdentityFromVariables(std::optional<std::string> service_name,
                                   const std::optional<std::string>& resource_attributes) {
  ProcIdentity identity;
  if (resource_attributes) {
    identity.resource_attributes = ParseResourceAttributes(*resource_attributes);
  }
  if (service_name && !service_name->empty()) {
    identity.service_name = std::move(service_name);
    return identity;
  }
  for (const auto& [key, value] : identity.resource_attributes) {
    if (key == "service.name" && !value.empty()) identity.service_name = value;
  }
  return identity;
}

ProcReader::ProcReader(std::string root) : root_(std::move(root)) {
  long ticks = sysconf(_SC_CLK_TCK);
  ns_per_tick_ = ticks > 0 ? 1000000000ull / static_cast<std::uint64_t>(ticks) : 10000000ull;
}

std::vector<std::uint32_t> ProcReader::ListPids() const {
  std::vector<std::uint32_t> pids;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(root_.c_str()), closedir);
  if (!dir) return pids;
  while (dirent* entry = readdir(dir.get())) {
    std::uint32_t pid = 0;
    if (ParseInt(std::string_view(entry->d_name), pid) && pid != 0) pids.push_back(pid);
  }
  return pids;
}

std::optional<std::string> ProcReader::ReadFile(std::uint32_t pid, const char* name,
                                                std::size_t cap) const {
  std::string path = root_ + "/" + std::to_string(pid) + "/" + name;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string contents;
  char buffer[4096];
  while (contents.size() < cap) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<std::size_t>(n));
  }
  close(fd);
  if (contents.size() > cap) contents.resize(cap);
  return contents;
}

std::optional<ProcStatus> ProcReader::ReadStatus(std::uint32_t pid) const {
  std::optional<std::string> text = ReadFile(pid, "status", kStatusCap);
  if (!text) return std::nullopt;
  return ParseProcStatus(*text);
}

CgroupRef ProcReader::Cgroup(std::uint32_t pid) const {
  std::optional<std::string> text = ReadFile(pid, "cgroup", kCgroupCap);
  return text ? ParseProcCgroup(*text) : CgroupRef{};
}

std::optional<std::string> ProcReader::ServiceNameFromEnviron(std::uint32_t pid) const {
  return Identity(pid).service_name;
}

ProcIdentity ProcReader::Identity(std::uint32_t pid) const {
  std::optional<std::string> environ = Environ(pid);
  if (!environ) return {};
  return IdentityFromEnviron(*environ);
}

std::optional<std::string> ProcReader::Environ(std::uint32_t pid) const {
  return ReadFile(pid, "environ", kEnvironCap);
}

std::string CommandLineFromArguments(std::string_view raw) {
  raw = raw.substr(0, ProcReader::kCommandLineCap);
  std::vector<std::string_view> arguments;
  std::string_view rest(raw);
  while (!rest.empty()) {
    std::size_t end = rest.find('\0');
    if (end != 0) arguments.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
  }
  std::string line = RedactCommandLine(arguments);
  if (line.size() > ProcReader::kCommandLineCap) line.resize(ProcReader::kCommandLineCap);
  return line;
}

std::string ProcReader::CommandLine(std::uint32_t pid) const {
  return CommandLineFromArguments(ReadFile(pid, "cmdline", kCommandLineCap).value_or(""));
}

std::optional<std::string> ProcReader::ExecutableName(std::uint32_t pid) const {
  char target[4096];
  std::string link = root_ + "/" + std::to_string(pid) + "/exe";
  ssize_t n = readlink(link.c_str(), target, sizeof(target));
  if (n <= 0) return std::nullopt;
  std::string_view path(target, static_cast<std::size_t>(n));
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.size() > kDeleted.size() && path.substr(path.size() - kDeleted.size()) == kDeleted) {
    path.remove_suffix(kDeleted.size());
  }
  return std::string(Basename(path));
}

std::optional<ProcSnapshot> ProcReader::Read(std::uint32_t pid) const {
  std::optional<std::string> stat_text = ReadFile(pid, "stat", kStatCap);
  if (!stat_text) return std::nullopt;
  std::optional<ProcStat> stat = ParseProcStat(*stat_text);
  if (!stat) return std::nullopt;

  ProcSnapshot snapshot;
  snapshot.pid = pid;
  snapshot.ppid = stat->ppid;
  snapshot.kernel_thread = (stat->flags & kPfKthread) != 0;
  snapshot.start_ticks = stat->start_ticks;
  snapshot.cpu_ns = stat->cpu_ticks * ns_per_tick_;
  snapshot.faults = stat->faults;
  snapshot.executable_name = stat->comm;
  if (!snapshot.kernel_thread) {
    if (std::optional<std::string> name = ExecutableName(pid)) snapshot.executable_name = *name;
    if (std::optional<ProcStatus> status = ReadStatus(pid)) snapshot.memory = *status;
  }
  ProcIdentity identity = Identity(pid);
  snapshot.service_name = identity.service_name.value_or(snapshot.executable_name);
  snapshot.service_name_from_environment = identity.service_name.has_value();
  snapshot.resource_attributes = std::move(identity.resource_attributes);
  if (!snapshot.kernel_thread) {
    snapshot.command_line = CommandLine(pid);
    snapshot.cgroup = Cgroup(pid);
  }
  return snapshot;
}

}  // namespace infrared::process
