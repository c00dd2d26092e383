#pragma once

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace infrared::tls {

// A symbol for TestElf; `value` is an offset into TestElf::code unless
// `absolute`.
struct TestSymbol {
  std::string name;
  std::uint64_t value = 0;
  std::uint64_t size = 0;
  unsigned char type = STT_FUNC;
  std::uint16_t section = 1;  // .text; SHN_UNDEF for an import
  bool absolute = false;
};

// A small ELF64 little-endian shared object, built in memory: one PT_LOAD
// maps the whole file at kBase, .text holds `code`, .dynsym and
// (optionally) .symtab hold the symbols, and `extra_sections` are empty
// sections with those names (".go.buildinfo", say).
struct TestElf {
  static constexpr std::uint64_t kBase = 0x400000;

  std::string code = std::string("\x55\x48\x89\xe5\xc3\x90\x90\x90\xc3", 9);
  std::vector<TestSymbol> dynamic;
  bool with_symtab = false;
  std::vector<TestSymbol> symtab;
  std::vector<std::string> extra_sections;
  std::uint16_t machine = EM_X86_64;

  // Where Build put things, for tests that corrupt them.
  struct Layout {
    std::size_t code = 0;
    std::size_t dynsym_header = 0;  // file offsets of section headers
    std::size_t dynstr_header = 0;
    std::size_t dynstr = 0;  // file offset of the string bytes
    std::size_t dynstr_size = 0;
    std::size_t dynsym = 0;
  };

  std::string Build(Layout* layout = nullptr) const {
    Layout where;
    std::string image(sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr), '\0');
    where.code = Append(image, code);
    std::string dynstr = std::string(1, '\0');
    const std::string dynsym = Symbols(dynamic, where.code, dynstr);
    where.dynsym = Append(image, dynsym);
    where.dynstr = Append(image, dynstr);
    where.dynstr_size = dynstr.size();
    std::string strtab = std::string(1, '\0');
    const std::string symbols = Symbols(symtab, where.code, strtab);
    const std::size_t symtab_at = Append(image, symbols);
    const std::size_t strtab_at = Append(image, strtab);

    std::string names = std::string(1, '\0');
    std::vector<Elf64_Shdr> sections(1);  // the null section
    sections.push_back(Section(names, ".text", SHT_PROGBITS, where.code, code.size()));
    sections.push_back(Section(names, ".dynsym", SHT_DYNSYM, where.dynsym, dynsym.size(), 3));
    sections.push_back(Section(names, ".dynstr", SHT_STRTAB, where.dynstr, dynstr.size()));
    if (with_symtab) {
      sections.push_back(Section(names, ".symtab", SHT_SYMTAB, symtab_at, symbols.size(),
                                 static_cast<std::uint32_t>(sections.size() + 1)));
      sections.push_back(Section(names, ".strtab", SHT_STRTAB, strtab_at, strtab.size()));
    }
    for (const std::string& name : extra_sections) {
      sections.push_back(Section(names, name, SHT_PROGBITS, 0, 0));
    }
    const std::size_t names_index = sections.size();
    sections.push_back(Section(names, ".shstrtab", SHT_STRTAB, 0, 0));
    sections.back().sh_offset = Append(image, names);
    sections.back().sh_size = names.size();
    const std::size_t section_table =
        Append(image, std::string(reinterpret_cast<const char*>(sections.data()),
                                  sections.size() * sizeof(Elf64_Shdr)));
    where.dynsym_header = section_table + 2 * sizeof(Elf64_Shdr);
    where.dynstr_header = section_table + 3 * sizeof(Elf64_Shdr);

    WriteHeaders(image, section_table, sections.size(), names_index);
    if (layout != nullptr) *layout = where;
    return image;
  }

 private:
  static std::size_t Append(std::string& image, const std::string& bytes) {
    image.resize((image.size() + 7) & ~std::size_t{7});  // 8-byte alignment
    const std::size_t at = image.size();
    image += bytes;
    return at;
  }

  static Elf64_Shdr Section(std::string& names, const std::string& name, std::uint32_t type,
                            std::uint64_t offset, std::uint64_t size, std::uint32_t link = 0) {
    Elf64_Shdr section{};
    section.sh_name = static_cast<std::uint32_t>(names.size());
    names += name + '\0';
    section.sh_type = type;
    section.sh_offset = offset;
    section.sh_size = size;
    section.sh_link = link;
    if (type == SHT_DYNSYM || type == SHT_SYMTAB) section.sh_entsize = sizeof(Elf64_Sym);
    return section;
  }

  static std::string Symbols(const std::vector<TestSymbol>& symbols, std::size_t code_at,
                             std::string& strings) {
    std::vector<Elf64_Sym> entries(1);  // the null symbol
    for (const TestSymbol& symbol : symbols) {
      Elf64_Sym entry{};
      entry.st_name = static_cast<std::uint32_t>(strings.size());
      strings += symbol.name + '\0';
      entry.st_info = static_cast<unsigned char>(ELF64_ST_INFO(STB_GLOBAL, symbol.type));
      entry.st_shndx = symbol.section;
      entry.st_value = symbol.absolute ? symbol.value : kBase + code_at + symbol.value;
      entry.st_size = symbol.size;
      entries.push_back(entry);
    }
    return std::string(reinterpret_cast<const char*>(entries.data()),
                       entries.size() * sizeof(Elf64_Sym));
  }

  void WriteHeaders(std::string& image, std::size_t section_table, std::size_t section_count,
                    std::size_t names_index) const {
    Elf64_Ehdr header{};
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = ELFCLASS64;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_DYN;
    header.e_machine = machine;
    header.e_version = EV_CURRENT;
    header.e_phoff = sizeof(Elf64_Ehdr);
    header.e_shoff = section_table;
    header.e_ehsize = sizeof(Elf64_Ehdr);
    header.e_phentsize = sizeof(Elf64_Phdr);
    header.e_phnum = 1;
    header.e_shentsize = sizeof(Elf64_Shdr);
    header.e_shnum = static_cast<std::uint16_t>(section_count);
    header.e_shstrndx = static_cast<std::uint16_t>(names_index);
    std::memcpy(image.data(), &header, sizeof(header));
    Elf64_Phdr load{};
    load.p_type = PT_LOAD;
    load.p_flags = PF_R | PF_X;
    load.p_offset = 0;
    load.p_vaddr = kBase;
    load.p_paddr = kBase;
    load.p_filesz = image.size();
    load.p_memsz = image.size();
    std::memcpy(image.data() + sizeof(header), &load, sizeof(load));
  }
};

// Overwrites the T at `offset` of `image`.
template <typename T>
void Poke(std::string& image, std::size_t offset, T value) {
  std::memcpy(image.data() + offset, &value, sizeof(value));
}

// Reads the T at `offset` of `image`.
template <typename T>
T Peek(const std::string& image, std::size_t offset) {
  T value;
  std::memcpy(&value, image.data() + offset, sizeof(value));
  return value;
}

}  // namespace infrared::tls
