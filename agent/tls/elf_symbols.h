#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace infrared::tls {

// e_machine of x86-64, the only machine whose Go returns are decoded.
inline constexpr std::uint16_t kMachineX86_64 = 62;

// A defined function symbol, with where its first byte lies in the file:
// uprobes are placed by file offset, not by virtual address.
struct ElfSymbol {
  std::string name;
  std::uint64_t address = 0;  // st_value
  std::uint64_t size = 0;     // st_size
  std::uint64_t file_offset = 0;
};

// The section header table as the parser reads it; defined in elf_symbols.cc.
struct ElfSectionTable;

// A read-only view of an ELF64 little-endian executable or shared object held
// in memory. The files come from any process on the host, so every offset,
// size and count is checked against the image: garbage gives an error, never
// a read out of bounds, and nothing is allocated beyond what the image holds.
// The image must outlive the ElfImage.
class ElfImage {
 public:
  // nullopt, with a sentence in `error`, when the image is not an ELF64
  // little-endian executable or shared object or its tables do not fit.
  static std::optional<ElfImage> Parse(std::string_view image, std::string& error);

  // The defined functions (STT_FUNC, not SHN_UNDEF) named in `names`, in the
  // order of `names`, each at most once: .dynsym is searched first, then
  // .symtab; a symbol whose address no PT_LOAD segment holds is left out.
  std::vector<ElfSymbol> Lookup(const std::vector<std::string_view>& names) const;
  // True when .dynsym defines the function `name`: a cheap test, as .dynsym
  // is small next to .symtab.
  bool DefinesDynamicFunction(std::string_view name) const;

  bool HasSymtab() const { return symtab_.has_value(); }
  // A Go binary: a .go.buildinfo section (stripped binaries keep it), or a
  // runtime.buildVersion symbol.
  bool IsGo() const;
  std::uint16_t Machine() const { return machine_; }

  // The file offset of a virtual address, through the PT_LOAD segments;
  // nullopt when no segment's file bytes hold it.
  std::optional<std::uint64_t> FileOffset(std::uint64_t address) const;
  // `size` bytes from `file_offset`; empty unless all of them lie in the image.
  std::string_view Bytes(std::uint64_t file_offset, std::uint64_t size) const;

 private:
  struct SymbolTable {
    std::string_view entries;  // whole entries of at least sizeof(Elf64_Sym)
    std::uint64_t entry_size = 0;
    std::string_view strings;
  };
  struct Segment {
    std::uint64_t address = 0;
    std::uint64_t file_size = 0;
    std::uint64_t offset = 0;
  };
  struct Found {
    std::uint64_t address = 0;
    std::uint64_t size = 0;
  };
  explicit ElfImage(std::string_view image) : image_(image) {}
  bool ReadSegments(std::uint64_t offset, std::uint64_t entry_size, std::uint64_t count,
                    std::string& error);
  bool ReadSections(const ElfSectionTable& sections, std::string& error);
  std::optional<SymbolTable> ReadSymbolTable(const ElfSectionTable& sections, std::uint64_t index,
                                             std::string& error) const;
  // Fills found[i] with the first symbol of `table` named names[i]; functions
  // only, and defined, when `functions_only`.
  static void Find(const SymbolTable& table, const std::vector<std::string_view>& names,
                   bool functions_only, std::vector<std::optional<Found>>& found);

  std::string_view image_;
  std::uint16_t machine_ = 0;
  std::vector<Segment> segments_;
  std::optional<SymbolTable> dynsym_;
  std::optional<SymbolTable> symtab_;
  bool go_buildinfo_ = false;
};

// A file mapped read-only (shared, so that no uprobe breakpoints show in it),
// unmapped on destruction. The mapping
// costs address space, not memory: only the pages read are loaded.
class MappedFile {
 public:
  // nullopt, with a sentence in `error`, when `path` cannot be opened, is not
  // a regular file, or is empty.
  static std::optional<MappedFile> Open(const std::string& path, std::string& error);

  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view Bytes() const { return {data_, size_}; }
  std::uint64_t Device() const { return device_; }
  std::uint64_t Inode() const { return inode_; }
  // The open file: it stays reachable (through /proc/self/fd) after the
  // process whose root led to it is gone.
  int Fd() const { return fd_; }

 private:
  MappedFile(const char* data, std::size_t size, std::uint64_t device, std::uint64_t inode,
             int fd)
      : data_(data), size_(size), device_(device), inode_(inode), fd_(fd) {}
  void Release();

  const char* data_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t device_ = 0;
  std::uint64_t inode_ = 0;
  int fd_ = -1;
};

}  // namespace infrared::tls
