#include "agent/tls/elf_symbols.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/tls/test_elf.h"

namespace infrared::tls {
namespace {

constexpr const char* kLibSsl = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
constexpr const char* kNode = "/usr/bin/node";

TestElf SslLike() {
  TestElf elf;
  elf.dynamic = {{"SSL_write", 0, 5},
                 {"SSL_read", 5, 4},
                 {"SSL_free", 0, 0, STT_FUNC, SHN_UNDEF},  // imported, not defined
                 {"ssl_data", 0, 8, STT_OBJECT}};
  return elf;
}

std::optional<ElfImage> MustParse(const std::string& image) {
  std::string error;
  std::optional<ElfImage> elf = ElfImage::Parse(image, error);
  EXPECT_TRUE(elf.has_value()) << error;
  return elf;
}

TEST(ElfImageTest, LookupFindsDefinedFunctionsWithFileOffsets) {
  TestElf::Layout layout;
  const std::string image = SslLike().Build(&layout);
  std::optional<ElfImage> elf = MustParse(image);
  ASSERT_TRUE(elf);
  const std::vector<ElfSymbol> found =
      elf->Lookup({"SSL_read", "SSL_write", "SSL_free", "ssl_data", "missing", "SSL_"});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].name, "SSL_read");  // in the order asked
  EXPECT_EQ(found[0].address, TestElf::kBase + layout.code + 5);
  EXPECT_EQ(found[0].size, 4u);
  EXPECT_EQ(found[0].file_offset, layout.code + 5);
  EXPECT_EQ(found[1].name, "SSL_write");
  EXPECT_EQ(found[1].file_offset, layout.code);
  EXPECT_EQ(elf->Bytes(found[1].file_offset, found[1].size), image.substr(layout.code, 5));
  EXPECT_TRUE(elf->DefinesDynamicFunction("SSL_write"));
  EXPECT_FALSE(elf->DefinesDynamicFunction("SSL_free"));
  EXPECT_FALSE(elf->DefinesDynamicFunction("ssl_data"));
  EXPECT_FALSE(elf->HasSymtab());
  EXPECT_FALSE(elf->IsGo());
  EXPECT_EQ(elf->Machine(), kMachineX86_64);
}

TEST(ElfImageTest, LookupSearchesSymtabAfterDynsym) {
  TestElf test;
  test.dynamic = {{"shared", 0, 1}};
  test.with_symtab = true;
  test.symtab = {{"shared", 4, 1}, {"local_only", 5, 4}};
  TestElf::Layout layout;
  const std::string image = test.Build(&layout);
  std::optional<ElfImage> elf = MustParse(image);
  ASSERT_TRUE(elf);
  EXPECT_TRUE(elf->HasSymtab());
  const std::vector<ElfSymbol> found = elf->Lookup({"shared", "local_only"});
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].file_offset, layout.code);  // .dynsym won
  EXPECT_EQ(found[1].file_offset, layout.code + 5);
  EXPECT_FALSE(elf->DefinesDynamicFunction("local_only"));
}

TEST(ElfImageTest, IsGo) {
  struct Case {
    const char* name;
    std::vector<std::string> sections;
    std::vector<TestSymbol> symtab;
    bool expected;
  };
  const std::vector<Case> cases = {
      {"plain", {".data"}, {{"main", 0, 1}}, false},
      {"buildinfo section", {".go.buildinfo"}, {}, true},
      {"buildVersion symbol", {}, {{"runtime.buildVersion", 0, 16, STT_OBJECT}}, true},
      {"a longer name", {".go.buildinfo.x"}, {{"runtime.buildVersionX", 0, 1}}, false},
  };
  for (const Case& test_case : cases) {
    TestElf test;
    test.extra_sections = test_case.sections;
    test.with_symtab = !test_case.symtab.empty();
    test.symtab = test_case.symtab;
    std::optional<ElfImage> elf = MustParse(test.Build());
    ASSERT_TRUE(elf) << test_case.name;
    EXPECT_EQ(elf->IsGo(), test_case.expected) << test_case.name;
  }
}

TEST(ElfImageTest, FileOffsetAndBytesStayInBounds) {
  const std::string image = SslLike().Build();
  std::optional<ElfImage> elf = MustParse(image);
  ASSERT_TRUE(elf);
  EXPECT_EQ(elf->FileOffset(TestElf::kBase), 0u);
  EXPECT_EQ(elf->FileOffset(TestElf::kBase + image.size() - 1), image.size() - 1);
  EXPECT_FALSE(elf->FileOffset(TestElf::kBase + image.size()));
  EXPECT_FALSE(elf->FileOffset(TestElf::kBase - 1));
  EXPECT_FALSE(elf->FileOffset(UINT64_MAX));
  EXPECT_EQ(elf->Bytes(0, 4),
            "\x7f"
            "ELF");
  EXPECT_EQ(elf->Bytes(image.size(), 0), "");
  EXPECT_EQ(elf->Bytes(image.size() - 1, 2), "");
  EXPECT_EQ(elf->Bytes(1, UINT64_MAX), "");
  EXPECT_EQ(elf->Bytes(UINT64_MAX, 1), "");
}

TEST(ElfImageTest, SymbolOutsideEverySegmentIsLeftOut) {
  TestElf test;
  test.dynamic = {{"low", 0x10, 1, STT_FUNC, 1, true}, {"in", 0, 1}};
  std::optional<ElfImage> elf = MustParse(test.Build());
  ASSERT_TRUE(elf);
  const std::vector<ElfSymbol> found = elf->Lookup({"low", "in"});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].name, "in");
}

// Each case overwrites one field of a valid image; the parser must refuse it
// with a sentence.
TEST(ElfImageTest, HostileImages) {
  enum class At { kHeader, kSegment, kDynsymSection, kDynstrSection };
  struct Case {
    const char* name;
    At at;
    std::size_t field;  // offset in the struct
    std::size_t width;  // bytes
    std::uint64_t value;
    bool add_file_size;  // value += the image's size
    const char* error;   // a fragment of the error
  };
  constexpr std::uint64_t kMax = UINT64_MAX;
  const std::vector<Case> cases = {
      {"bad magic", At::kHeader, 1, 1, 'X', false, "not ELF"},
      {"32-bit", At::kHeader, EI_CLASS, 1, ELFCLASS32, false, "64-bit"},
      {"big-endian", At::kHeader, EI_DATA, 1, ELFDATA2MSB, false, "64-bit"},
      {"relocatable", At::kHeader, offsetof(Elf64_Ehdr, e_type), 2, ET_REL, false, "neither"},
      {"section table past the end", At::kHeader, offsetof(Elf64_Ehdr, e_shoff), 8,
       static_cast<std::uint64_t>(-8), true, "section header table"},
      {"section table offset overflows", At::kHeader, offsetof(Elf64_Ehdr, e_shoff), 8, kMax - 10,
       false, "section header table"},
      {"huge section count", At::kHeader, offsetof(Elf64_Ehdr, e_shnum), 2, 0xfffe, false,
       "section header table"},
      {"small section entries", At::kHeader, offsetof(Elf64_Ehdr, e_shentsize), 2, 8, false,
       "section header table"},
      {"name table index out of range", At::kHeader, offsetof(Elf64_Ehdr, e_shstrndx), 2, 200,
       false, "section name table"},
      {"program headers past the end", At::kHeader, offsetof(Elf64_Ehdr, e_phoff), 8, 0, true,
       "program header table"},
      {"huge program header count", At::kHeader, offsetof(Elf64_Ehdr, e_phnum), 2, 0xfffe, false,
       "program header table"},
      {"small program header entries", At::kHeader, offsetof(Elf64_Ehdr, e_phentsize), 2, 16, false,
       "program header table"},
      {"segment past the end", At::kSegment, offsetof(Elf64_Phdr, p_filesz), 8, 1, true, "PT_LOAD"},
      {"segment offset overflows", At::kSegment, offsetof(Elf64_Phdr, p_offset), 8, kMax, false,
       "PT_LOAD"},
      {"segment wraps the address space", At::kSegment, offsetof(Elf64_Phdr, p_vaddr), 8, kMax - 4,
       false, "PT_LOAD"},
      {"symbols past the end", At::kDynsymSection, offsetof(Elf64_Shdr, sh_offset), 8, 0, true,
       "symbol table"},
      {"huge symbol table", At::kDynsymSection, offsetof(Elf64_Shdr, sh_size), 8, kMax, false,
       "symbol table"},
      {"zero symbol entry size", At::kDynsymSection, offsetof(Elf64_Shdr, sh_entsize), 8, 0, false,
       "entry size"},
      {"short symbol entries", At::kDynsymSection, offsetof(Elf64_Shdr, sh_entsize), 8, 8, false,
       "entry size"},
      {"string table link out of range", At::kDynsymSection, offsetof(Elf64_Shdr, sh_link), 4, 99,
       false, "does not exist"},
      {"string table past the end", At::kDynstrSection, offsetof(Elf64_Shdr, sh_size), 8, 0, true,
       "string table"},
      {"string table of no bytes", At::kDynstrSection, offsetof(Elf64_Shdr, sh_type), 4, SHT_NOBITS,
       false, "string table"},
  };
  for (const Case& test_case : cases) {
    TestElf::Layout layout;
    std::string image = SslLike().Build(&layout);
    const std::size_t base = test_case.at == At::kHeader          ? 0
                             : test_case.at == At::kSegment       ? sizeof(Elf64_Ehdr)
                             : test_case.at == At::kDynsymSection ? layout.dynsym_header
                                                                  : layout.dynstr_header;
    const std::uint64_t value = test_case.value + (test_case.add_file_size ? image.size() : 0);
    std::memcpy(image.data() + base + test_case.field, &value, test_case.width);  // little-endian
    std::string error;
    EXPECT_FALSE(ElfImage::Parse(image, error)) << test_case.name;
    EXPECT_NE(error.find(test_case.error), std::string::npos) << test_case.name << ": " << error;
  }
}

TEST(ElfImageTest, StringTableWithoutNulHidesOnlyTheCutName) {
  TestElf::Layout layout;
  std::string image = SslLike().Build(&layout);
  // The last name, "ssl_data", loses its NUL; the names before keep theirs.
  Poke<std::uint64_t>(image, layout.dynstr_header + offsetof(Elf64_Shdr, sh_size),
                      layout.dynstr_size - 1);
  Poke<std::uint8_t>(image, layout.dynsym + 4 * sizeof(Elf64_Sym) + offsetof(Elf64_Sym, st_info),
                     ELF64_ST_INFO(STB_GLOBAL, STT_FUNC));
  std::optional<ElfImage> elf = MustParse(image);
  ASSERT_TRUE(elf);
  EXPECT_EQ(elf->Lookup({"ssl_data"}).size(), 0u);
  EXPECT_EQ(elf->Lookup({"SSL_write"}).size(), 1u);
}

TEST(ElfImageTest, NameOffsetPastTheStringTableIsSkipped) {
  TestElf::Layout layout;
  std::string image = SslLike().Build(&layout);
  Poke<std::uint32_t>(image, layout.dynsym + sizeof(Elf64_Sym) + offsetof(Elf64_Sym, st_name),
                      0xfffffff0u);
  std::optional<ElfImage> elf = MustParse(image);
  ASSERT_TRUE(elf);
  const std::vector<ElfSymbol> found = elf->Lookup({"SSL_write", "SSL_read"});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].name, "SSL_read");
}

TEST(ElfImageTest, ExtendedSectionNumbering) {
  std::string image = SslLike().Build();
  const auto shoff = Peek<std::uint64_t>(image, offsetof(Elf64_Ehdr, e_shoff));
  const auto count = Peek<std::uint16_t>(image, offsetof(Elf64_Ehdr, e_shnum));
  const auto names = Peek<std::uint16_t>(image, offsetof(Elf64_Ehdr, e_shstrndx));
  Poke<std::uint16_t>(image, offsetof(Elf64_Ehdr, e_shnum), 0);
  Poke<std::uint16_t>(image, offsetof(Elf64_Ehdr, e_shstrndx), SHN_XINDEX);
  Poke<std::uint64_t>(image, shoff + offsetof(Elf64_Shdr, sh_size), count);
  Poke<std::uint32_t>(image, shoff + offsetof(Elf64_Shdr, sh_link), names);
  std::optional<ElfImage> elf = MustParse(image);
  ASSERT_TRUE(elf);
  EXPECT_EQ(elf->Lookup({"SSL_write"}).size(), 1u);

  // A count from section 0 larger than the file holds is refused.
  Poke<std::uint64_t>(image, shoff + offsetof(Elf64_Shdr, sh_size), UINT64_MAX);
  std::string error;
  EXPECT_FALSE(ElfImage::Parse(image, error));
  EXPECT_EQ(error, "the ELF section header table lies outside the file");
}

TEST(ElfImageTest, EveryTruncationIsRefusedOrParsed) {
  const std::string image = SslLike().Build();
  for (std::size_t size = 0; size < image.size(); ++size) {
    std::string error;
    std::optional<ElfImage> elf = ElfImage::Parse(std::string_view(image).substr(0, size), error);
    if (elf) {
      elf->Lookup({"SSL_write", "SSL_read"});
    } else {
      EXPECT_FALSE(error.empty()) << size;
    }
  }
  std::string error;
  EXPECT_FALSE(ElfImage::Parse(std::string_view(image).substr(0, 63), error));
  EXPECT_EQ(error, "the file is too short to be ELF");
}

// ---- real files, checked against binutils ----

std::string Run(const std::string& command) {
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[4096];
  while (std::size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  pclose(pipe);
  return output;
}

// The file offset binutils gives for `symbol`: its address from nm, through
// the LOAD lines of readelf -l.
std::optional<std::uint64_t> BinutilsOffset(const std::string& path, const std::string& symbol,
                                            const std::string& nm_flags) {
  std::istringstream nm(Run("nm " + nm_flags + " --defined-only '" + path + "' 2>/dev/null"));
  std::optional<std::uint64_t> address;
  for (std::string line; std::getline(nm, line);) {
    std::istringstream fields(line);
    std::string value, type, name;
    if (!(fields >> value >> type >> name)) continue;
    // nm -D names versioned symbols SSL_write@@OPENSSL_3.0.0.
    if (name.substr(0, name.find('@')) == symbol) address = std::stoull(value, nullptr, 16);
  }
  std::istringstream segments(Run("readelf -lW '" + path + "' 2>/dev/null"));
  for (std::string line; address && std::getline(segments, line);) {
    std::istringstream fields(line);
    std::string type, offset, vaddr, paddr, filesz;
    if (!(fields >> type >> offset >> vaddr >> paddr >> filesz) || type != "LOAD") continue;
    const std::uint64_t start = std::stoull(vaddr, nullptr, 16);
    if (*address >= start && *address < start + std::stoull(filesz, nullptr, 16)) {
      return *address - start + std::stoull(offset, nullptr, 16);
    }
  }
  return std::nullopt;
}

void ExpectMatchesBinutils(const char* path, const std::vector<std::string_view>& names,
                           const std::string& nm_flags) {
  if (access(path, R_OK) != 0) GTEST_SKIP() << path << " is not installed";
  if (Run("command -v nm readelf").empty()) GTEST_SKIP() << "binutils are not installed";
  std::string error;
  std::optional<MappedFile> file = MappedFile::Open(path, error);
  ASSERT_TRUE(file) << error;
  std::optional<ElfImage> elf = ElfImage::Parse(file->Bytes(), error);
  ASSERT_TRUE(elf) << error;
  EXPECT_FALSE(elf->IsGo());
  const std::vector<ElfSymbol> found = elf->Lookup(names);
  ASSERT_EQ(found.size(), names.size());
  for (const ElfSymbol& symbol : found) {
    EXPECT_EQ(BinutilsOffset(path, symbol.name, nm_flags), symbol.file_offset) << symbol.name;
  }
}

TEST(ElfImageRealFileTest, LibSslMatchesBinutils) {
  ExpectMatchesBinutils(
      kLibSsl, {"SSL_write", "SSL_read", "SSL_write_ex", "SSL_read_ex", "SSL_shutdown", "SSL_free"},
      "-D");
}

// node's code is not at its file offset (vaddr 0xb72000 is offset 0x772000),
// so this checks the PT_LOAD translation.
TEST(ElfImageRealFileTest, NodeMatchesBinutils) {
  ExpectMatchesBinutils(kNode, {"SSL_write", "SSL_read"}, "-D");
}

// ---- MappedFile ----

TEST(MappedFileTest, MapsARegularFile) {
  const std::string path = ::testing::TempDir() + "/mapped_file_test";
  std::ofstream(path, std::ios::binary) << "hello";
  std::string error;
  std::optional<MappedFile> file = MappedFile::Open(path, error);
  ASSERT_TRUE(file) << error;
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(file->Bytes(), "hello");
  EXPECT_EQ(file->Device(), info.st_dev);
  EXPECT_EQ(file->Inode(), info.st_ino);
  MappedFile moved = std::move(*file);
  EXPECT_EQ(moved.Bytes(), "hello");
  EXPECT_EQ(file->Bytes(), "");
  std::filesystem::remove(path);
}

// A private mapping would show the int3 of every uprobe on the file (the
// kernel plants them in mappings that may become executable); a shared one
// shows the file.
TEST(MappedFileTest, MappingIsShared) {
  const std::string path = std::filesystem::canonical("/proc/self/exe").string();
  std::string error;
  std::optional<MappedFile> file = MappedFile::Open(path, error);
  ASSERT_TRUE(file) << error;
  std::ostringstream start;
  start << std::hex << reinterpret_cast<std::uintptr_t>(file->Bytes().data()) << "-";
  std::ifstream maps("/proc/self/maps");
  bool found = false;
  for (std::string line; std::getline(maps, line);) {
    if (!line.starts_with(start.str())) continue;
    found = true;
    EXPECT_EQ(line.substr(line.find(' ') + 1, 4), "r--s") << line;
    EXPECT_TRUE(line.ends_with(" " + path)) << line;
  }
  EXPECT_TRUE(found);
}

TEST(MappedFileTest, RefusesWhatIsNotARegularNonEmptyFile) {
  const std::string empty = ::testing::TempDir() + "/mapped_file_empty";
  std::ofstream(empty, std::ios::binary).flush();
  for (const std::string& path :
       {std::string("/nonexistent/file"), std::string("/"), std::string("/dev/null"), empty}) {
    std::string error;
    EXPECT_FALSE(MappedFile::Open(path, error)) << path;
    EXPECT_NE(error.find(path), std::string::npos) << error;
  }
  std::filesystem::remove(empty);
}

}  // namespace
}  // namespace infrared::tls
