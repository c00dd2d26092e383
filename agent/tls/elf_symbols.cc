#include "agent/tls/elf_symbols.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

namespace infrared::tls {

// Fields are read in place, so the host must share the files' byte order.
static_assert(std::endian::native == std::endian::little);

// The section header table, as Parse found it.
struct ElfSectionTable {
  std::string_view entries;
  std::uint64_t entry_size = 0;
  std::uint64_t count = 0;
  std::string_view names;  // .shstrtab; empty when the file names none

  Elf64_Shdr At(std::uint64_t index) const {
    Elf64_Shdr section;
    std::memcpy(&section, entries.data() + index * entry_size, sizeof(section));
    return section;
  }
};

namespace {

// image.substr(offset, size) when all of it lies in the image.
std::optional<std::string_view> Slice(std::string_view image, std::uint64_t offset,
                                      std::uint64_t size) {
  if (offset > image.size() || size > image.size() - offset) return std::nullopt;
  return image.substr(offset, size);
}

// `count` entries of `entry_size` bytes at `offset`. Entries may be larger
// than the struct read from each (a later ELF revision may grow them), never
// smaller; dividing before multiplying keeps a huge count from overflowing.
std::optional<std::string_view> Table(std::string_view image, std::uint64_t offset,
                                      std::uint64_t entry_size, std::uint64_t count,
                                      std::size_t min_entry_size) {
  if (entry_size < min_entry_size || count > image.size() / entry_size) return std::nullopt;
  return Slice(image, offset, count * entry_size);
}

// Reads a T at `offset` of `bytes`; the caller has checked the bounds.
template <typename T>
T Load(std::string_view bytes, std::uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(value));
  return value;
}

// True when the NUL-terminated string at `offset` of `strings` is `wanted`.
// Compares only wanted.size() + 1 bytes, so a table without a NUL cannot make
// each comparison walk the rest of the file.
bool NameIs(std::string_view strings, std::uint64_t offset, std::string_view wanted) {
  if (offset >= strings.size() || strings.size() - offset <= wanted.size()) return false;
  return strings.compare(offset, wanted.size(), wanted) == 0 &&
         strings[offset + wanted.size()] == '\0';
}

std::optional<ElfSectionTable> ReadSectionTable(std::string_view image, const Elf64_Ehdr& header,
                                                std::string& error) {
  ElfSectionTable table;
  if (header.e_shoff == 0) return table;  // no section headers, so no symbols
  table.entry_size = header.e_shentsize;
  // Section 0 holds the real count and name index when they overflow 16 bits.
  std::optional<std::string_view> first =
      Table(image, header.e_shoff, header.e_shentsize, 1, sizeof(Elf64_Shdr));
  if (!first) {
    error = "the ELF section header table lies outside the file";
    return std::nullopt;
  }
  const auto zero = Load<Elf64_Shdr>(*first, 0);
  table.count = header.e_shnum != 0 ? header.e_shnum : zero.sh_size;
  std::optional<std::string_view> entries =
      Table(image, header.e_shoff, header.e_shentsize, table.count, sizeof(Elf64_Shdr));
  if (!entries) {
    error = "the ELF section header table lies outside the file";
    return std::nullopt;
  }
  table.entries = *entries;
  const std::uint64_t names_index =
      header.e_shstrndx == SHN_XINDEX ? zero.sh_link : header.e_shstrndx;
  if (names_index == SHN_UNDEF) return table;
  if (names_index >= table.count) {
    error = "the ELF section name table index is out of range";
    return std::nullopt;
  }
  const Elf64_Shdr names = table.At(names_index);
  std::optional<std::string_view> strings = Slice(image, names.sh_offset, names.sh_size);
  if (names.sh_type == SHT_NOBITS || !strings) {
    error = "the ELF section name table lies outside the file";
    return std::nullopt;
  }
  table.names = *strings;
  return table;
}

}  // namespace

std::optional<ElfImage> ElfImage::Parse(std::string_view image, std::string& error) {
  if (image.size() < sizeof(Elf64_Ehdr)) {
    error = "the file is too short to be ELF";
    return std::nullopt;
  }
  const auto header = Load<Elf64_Ehdr>(image, 0);
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) {
    error = "the file is not ELF";
    return std::nullopt;
  }
  if (header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_ident[EI_DATA] != ELFDATA2LSB) {
    error = "the file is not 64-bit little-endian ELF";
    return std::nullopt;
  }
  if (header.e_type != ET_EXEC && header.e_type != ET_DYN) {
    error = "the ELF file is neither an executable nor a shared object";
    return std::nullopt;
  }
  std::optional<ElfSectionTable> sections = ReadSectionTable(image, header, error);
  if (!sections) return std::nullopt;
  // With 0xffff or more program headers the count moves to section 0.
  std::uint64_t segment_count = header.e_phnum;
  if (segment_count == PN_XNUM && sections->count > 0) segment_count = sections->At(0).sh_info;
  ElfImage elf(image);
  elf.machine_ = header.e_machine;
  if (!elf.ReadSegments(header.e_phoff, header.e_phentsize, segment_count, error) ||
      !elf.ReadSections(*sections, error)) {
    return std::nullopt;
  }
  return elf;
}

bool ElfImage::ReadSegments(std::uint64_t offset, std::uint64_t entry_size, std::uint64_t count,
                            std::string& error) {
  if (offset == 0 || count == 0) return true;  // nothing is loaded, so nothing can be probed
  std::optional<std::string_view> entries =
      Table(image_, offset, entry_size, count, sizeof(Elf64_Phdr));
  if (!entries) {
    error = "the ELF program header table lies outside the file";
    return false;
  }
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto header = Load<Elf64_Phdr>(*entries, i * entry_size);
    if (header.p_type != PT_LOAD) continue;
    if (!Slice(image_, header.p_offset, header.p_filesz) ||
        header.p_filesz > UINT64_MAX - header.p_vaddr) {
      error = "an ELF PT_LOAD segment lies outside the file";
      return false;
    }
    segments_.push_back({header.p_vaddr, header.p_filesz, header.p_offset});
  }
  return true;
}

bool ElfImage::ReadSections(const ElfSectionTable& sections, std::string& error) {
  for (std::uint64_t i = 0; i < sections.count; ++i) {
    const Elf64_Shdr section = sections.At(i);
    std::optional<SymbolTable>* slot = section.sh_type == SHT_DYNSYM   ? &dynsym_
                                       : section.sh_type == SHT_SYMTAB ? &symtab_
                                                                       : nullptr;
    if (slot != nullptr && !slot->has_value()) {
      *slot = ReadSymbolTable(sections, i, error);
      if (!slot->has_value()) return false;
    }
    if (NameIs(sections.names, section.sh_name, ".go.buildinfo")) go_buildinfo_ = true;
  }
  return true;
}

std::optional<ElfImage::SymbolTable> ElfImage::ReadSymbolTable(const ElfSectionTable& sections,
                                                               std::uint64_t index,
                                                               std::string& error) const {
  const Elf64_Shdr section = sections.At(index);
  SymbolTable table;
  table.entry_size = section.sh_entsize;
  std::optional<std::string_view> entries =
      section.sh_entsize == 0 ? std::nullopt
                              : Table(image_, section.sh_offset, section.sh_entsize,
                                      section.sh_size / section.sh_entsize, sizeof(Elf64_Sym));
  if (!entries) {
    error = "an ELF symbol table lies outside the file or has a bad entry size";
    return std::nullopt;
  }
  table.entries = *entries;
  if (section.sh_link >= sections.count) {
    error = "an ELF symbol table links to a string table that does not exist";
    return std::nullopt;
  }
  const Elf64_Shdr strings_section = sections.At(section.sh_link);
  std::optional<std::string_view> strings =
      Slice(image_, strings_section.sh_offset, strings_section.sh_size);
  if (strings_section.sh_type == SHT_NOBITS || !strings) {
    error = "an ELF symbol string table lies outside the file";
    return std::nullopt;
  }
  table.strings = *strings;
  return table;
}

void ElfImage::Find(const SymbolTable& table, const std::vector<std::string_view>& names,
                    bool functions_only, std::vector<std::optional<Found>>& found) {
  std::size_t missing = 0;
  for (const std::optional<Found>& slot : found) missing += slot ? 0 : 1;
  const std::uint64_t count = table.entries.size() / table.entry_size;
  for (std::uint64_t i = 0; i < count && missing > 0; ++i) {
    const auto symbol = Load<Elf64_Sym>(table.entries, i * table.entry_size);
    if (functions_only &&
        (ELF64_ST_TYPE(symbol.st_info) != STT_FUNC || symbol.st_shndx == SHN_UNDEF)) {
      continue;
    }
    for (std::size_t n = 0; n < names.size(); ++n) {
      if (!found[n] && NameIs(table.strings, symbol.st_name, names[n])) {
        found[n] = Found{symbol.st_value, symbol.st_size};
        --missing;
        break;
      }
    }
  }
}

std::vector<ElfSymbol> ElfImage::Lookup(const std::vector<std::string_view>& names) const {
  std::vector<std::optional<Found>> found(names.size());
  if (dynsym_) Find(*dynsym_, names, true, found);
  if (symtab_) Find(*symtab_, names, true, found);
  std::vector<ElfSymbol> symbols;
  for (std::size_t n = 0; n < names.size(); ++n) {
    if (!found[n]) continue;
    std::optional<std::uint64_t> offset = FileOffset(found[n]->address);
    if (!offset) continue;
    symbols.push_back({std::string(names[n]), found[n]->address, found[n]->size, *offset});
  }
  return symbols;
}

bool ElfImage::DefinesDynamicFunction(std::string_view name) const {
  if (!dynsym_) return false;
  std::vector<std::optional<Found>> found(1);
  Find(*dynsym_, {name}, true, found);
  return found[0].has_value();
}

bool ElfImage::IsGo() const {
  if (go_buildinfo_) return true;
  if (!symtab_) return false;
  std::vector<std::optional<Found>> found(1);
  Find(*symtab_, {"runtime.buildVersion"}, false, found);
  return found[0].has_value();
}

std::optional<std::uint64_t> ElfImage::FileOffset(std::uint64_t address) const {
  for (const Segment& segment : segments_) {
    if (address >= segment.address && address - segment.address < segment.file_size) {
      return segment.offset + (address - segment.address);
    }
  }
  return std::nullopt;
}

std::string_view ElfImage::Bytes(std::uint64_t file_offset, std::uint64_t size) const {
  return Slice(image_, file_offset, size).value_or(std::string_view());
}

std::optional<MappedFile> MappedFile::Open(const std::string& path, std::string& error) {
  // O_NONBLOCK: a FIFO planted at the path must not hang the agent in open().
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) || info.st_size <= 0) {
    error = path + " is not a regular, non-empty file";
    ::close(fd);
    return std::nullopt;
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  // MAP_SHARED, though nothing is written: the kernel plants every active
  // uprobe's int3 in each private mapping of the file that may become
  // executable, so a private view of a file already probed (by this agent, or
  // anyone) shows int3 where code is, and decoding it would go astray. Shared
  // mappings are left alone and show the file as it is on disk.
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) {
    error = "cannot map " + path + ": " + std::strerror(errno);
    ::close(fd);
    return std::nullopt;
  }
  return MappedFile(static_cast<const char*>(data), size, info.st_dev, info.st_ino, fd);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      device_(other.device_),
      inode_(other.inode_),
      fd_(std::exchange(other.fd_, -1)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    device_ = other.device_;
    inode_ = other.inode_;
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

MappedFile::~MappedFile() { Release(); }

void MappedFile::Release() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
  data_ = nullptr;
  fd_ = -1;
}

}  // namespace infrared::tls
