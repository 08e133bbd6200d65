# SPDX-License-Identifier: GPL-2.0-only
"""Reading an ELF64 relocatable file.

The header, the section header table and the symbol table are read in
bulk with struct over the raw bytes, the relocation tables as columns by
relocs.py: much faster than going through pyelftools entry by entry
(pyelftools only names unusual relocation types in messages, and serves
the tests).
"""

from __future__ import annotations

import struct
from collections import namedtuple
from collections.abc import Iterator
from functools import partial

from .errors import ElfFormatError, UnsupportedError

# typing costs 2.5 ms of start-up: mypy reads the NamedTuple classes
# below, Python the namedtuple()s of the same fields.
TYPE_CHECKING = False

SHT_NULL = 0
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_RELA = 4
SHT_NOBITS = 8
SHT_REL = 9
SHT_GROUP = 17
SHT_SYMTAB_SHNDX = 18

SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
SHF_INFO_LINK = 0x40
SHF_RELA_LIVEPATCH = 0x00100000

SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_LIVEPATCH = 0xFF20
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2
SHN_XINDEX = 0xFFFF

STB_LOCAL = 0
STB_GLOBAL = 1
STB_WEAK = 2
STB_GNU_UNIQUE = 10
STT_NOTYPE = 0
STT_OBJECT = 1
STT_SECTION = 3
STT_FILE = 4
STT_GNU_IFUNC = 10

ET_REL, ET_EXEC, ET_DYN = 1, 2, 3

EHDR_FMT = "16sHHIQQQIHHHHHH"
SHDR_FMT = "IIQQQQIIQQ"
SYM_FMT = "IBBHQQ"
EHDR_SIZE = 64
SHDR_SIZE = 64
SYM_SIZE = 24
RELA_SIZE = 24
REL_SIZE = 16

if TYPE_CHECKING:
    from typing import NamedTuple

    class Ehdr(NamedTuple):
        """The ELF header, as struct unpacks it."""
        e_ident: bytes
        e_type: int
        e_machine: int
        e_version: int
        e_entry: int
        e_phoff: int
        e_shoff: int
        e_flags: int
        e_ehsize: int
        e_phentsize: int
        e_phnum: int
        e_shentsize: int
        e_shnum: int
        e_shstrndx: int

    class Shdr(NamedTuple):
        """A section header, as struct unpacks it."""
        sh_name: int
        sh_type: int
        sh_flags: int
        sh_addr: int
        sh_offset: int
        sh_size: int
        sh_link: int
        sh_info: int
        sh_addralign: int
        sh_entsize: int

    class Sym(NamedTuple):
        """A symbol table entry, as struct unpacks it."""
        st_name: int
        st_info: int
        st_other: int
        st_shndx: int
        st_value: int
        st_size: int
else:
    Ehdr = namedtuple("Ehdr", ["e_ident", "e_type", "e_machine", "e_version",
                               "e_entry", "e_phoff", "e_shoff", "e_flags",
                               "e_ehsize", "e_phentsize", "e_phnum",
                               "e_shentsize", "e_shnum", "e_shstrndx"])
    Shdr = namedtuple("Shdr", ["sh_name", "sh_type", "sh_flags", "sh_addr",
                               "sh_offset", "sh_size", "sh_link", "sh_info",
                               "sh_addralign", "sh_entsize"])
    Sym = namedtuple("Sym", ["st_name", "st_info", "st_other", "st_shndx",
                             "st_value", "st_size"])


# Sym._make() and friends are Python functions: tuple.__new__ bound to the
# class makes the named tuples at C speed (a module has thousands).
_new_sym = partial(tuple.__new__, Sym)
_new_shdr = partial(tuple.__new__, Shdr)


def new_sym(fields: tuple[int, int, int, int, int, int]) -> Sym:
    """A Sym of @fields (st_name, st_info, st_other, st_shndx, st_value,
    st_size), made at C speed."""
    return _new_sym(fields)


def bind(info: int) -> int:
    """ELF64_ST_BIND()"""
    return info >> 4


def sym_type(info: int) -> int:
    """ELF64_ST_TYPE()"""
    return info & 0xF


def st_info(bind_: int, type_: int) -> int:
    """ELF64_ST_INFO()"""
    return (bind_ << 4) | (type_ & 0xF)


def words(endian: str, data: bytes) -> list[int]:
    """@data as 32-bit words (a trailing partial word is ignored): group
    members, extended section indices."""
    count = len(data) // 4
    return list(struct.unpack(f"{endian}{count}I", data[:count * 4]))


class Section:
    """One section: its header fields and its contents."""

    __slots__ = ("name", "sh_name", "sh_type", "sh_flags", "sh_addr",
                 "sh_offset", "sh_size", "sh_link", "sh_info",
                 "sh_addralign", "sh_entsize", "data")

    def __init__(self, hdr: Shdr | tuple[int, ...], data: bytes) -> None:
        (self.sh_name, self.sh_type, self.sh_flags, self.sh_addr,
         self.sh_offset, self.sh_size, self.sh_link, self.sh_info,
         self.sh_addralign, self.sh_entsize) = hdr
        self.data = data
        self.name = ""

    def header(self) -> Shdr:
        return _new_shdr((self.sh_name, self.sh_type, self.sh_flags, self.sh_addr,
                self.sh_offset, self.sh_size, self.sh_link, self.sh_info,
                self.sh_addralign, self.sh_entsize))

    @property
    def is_rel(self) -> bool:
        return self.sh_type in (SHT_RELA, SHT_REL)


# BFD's SEC_DEBUGGING (_bfd_elf_make_section_from_shdr()): what strip
# --strip-debug removes, and where klp relocations stay in place.
DEBUG_PREFIXES = (".debug", ".zdebug", ".gnu.debuglto_.debug_",
                  ".gnu.linkonce.wi.", ".line", ".stab")
DEBUG_NAMES = frozenset({".gdb_index"})


def debug_section(sec: Section) -> bool:
    """A debug section: never loaded, its relocations never applied."""
    return not sec.sh_flags & SHF_ALLOC and (
        sec.name.startswith(DEBUG_PREFIXES) or sec.name in DEBUG_NAMES)


def cstring(table: bytes, offset: int, what: str) -> str:
    """The NUL-terminated string at @offset of a string table."""
    if offset >= len(table):
        raise ElfFormatError(f"{what}: string offset {offset} is outside "
                             f"its string table ({len(table)} bytes)")
    end = table.find(b"\0", offset)
    if end < 0:
        raise ElfFormatError(f"{what}: string at offset {offset} is not "
                             "NUL-terminated")
    return table[offset:end].decode("utf-8", "surrogateescape")


class ElfFile:
    """An ELF64 ET_REL file held in memory."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.endian, self.machine, self.ehdr = _identify(raw)
        self.sections = self._read_sections()
        self.symtab_index = self._find_symtab()

    # -- construction --------------------------------------------------

    def _read_sections(self) -> list[Section]:
        raw = self.raw
        e = self.ehdr
        shoff, shentsize = e.e_shoff, e.e_shentsize
        shnum, shstrndx = e.e_shnum, e.e_shstrndx
        if shoff == 0:
            raise ElfFormatError("no section header table")
        if shentsize != SHDR_SIZE:
            raise ElfFormatError(f"section header size {shentsize}, expected "
                                 f"{SHDR_SIZE}")
        if shoff + SHDR_SIZE > len(raw):
            raise ElfFormatError("section header table is outside the file")
        first = Shdr._make(struct.unpack_from(self.endian + SHDR_FMT, raw,
                                              shoff))
        if shnum == 0:
            shnum = first.sh_size       # extended numbering
        if shstrndx == SHN_XINDEX:
            shstrndx = first.sh_link    # extended numbering
        if shnum == 0 or shoff + shnum * SHDR_SIZE > len(raw):
            raise ElfFormatError(f"section header table ({shnum} entries at "
                                 f"offset {shoff}) is outside the file")
        sections: list[Section] = []
        # plain tuples: Section names the fields (a Shdr per section
        # would be built only to be taken apart)
        for i, hdr in enumerate(struct.iter_unpack(
                self.endian + SHDR_FMT, raw[shoff:shoff + shnum * SHDR_SIZE])):
            sec = Section(hdr, b"")
            if i and sec.sh_type not in (SHT_NOBITS, SHT_NULL):
                offset, size = sec.sh_offset, sec.sh_size
                if offset + size > len(raw):
                    raise ElfFormatError(
                        f"section [{i}] (offset {offset}, size {size}) "
                        "extends past the end of the file")
                sec.data = raw[offset:offset + size]
            sections.append(sec)
        if not 0 < shstrndx < shnum:
            raise ElfFormatError(f"section name string table index {shstrndx}"
                                 " is invalid")
        shstr = sections[shstrndx].data
        for i, sec in enumerate(sections):
            if i:
                sec.name = cstring(shstr, sec.sh_name, f"section [{i}] name")
                align = sec.sh_addralign
                # Any power of two: the kernel aligns each section to it
                # (module_get_offset()), ld aligns the file offset too; the
                # writer refuses a layout larger than a module can be.
                if align & (align - 1):
                    raise ElfFormatError(f"section [{i}] '{sec.name}': "
                                         f"alignment {align} is not a power "
                                         "of two")
        self.shstrndx = shstrndx
        return sections

    def _find_symtab(self) -> int:
        found = [i for i, s in enumerate(self.sections) if s.sh_type == SHT_SYMTAB]
        if not found:
            raise ElfFormatError("no symbol table (.symtab)")
        if len(found) > 1:
            raise UnsupportedError("more than one SHT_SYMTAB section")
        idx = found[0]
        sym = self.sections[idx]
        if sym.sh_entsize != SYM_SIZE or sym.sh_size % SYM_SIZE:
            raise ElfFormatError(f"section '{sym.name}': bad symbol table "
                                 f"entry size {sym.sh_entsize}")
        if not 0 < sym.sh_link < len(self.sections) or \
                self.sections[sym.sh_link].sh_type != SHT_STRTAB:
            raise ElfFormatError(f"section '{sym.name}': sh_link "
                                 f"{sym.sh_link} is not a string table")
        return idx

    # -- tables --------------------------------------------------------

    @property
    def symtab(self) -> Section:
        return self.sections[self.symtab_index]

    @property
    def strtab(self) -> Section:
        return self.sections[self.symtab.sh_link]

    def symbols(self) -> list[Sym]:
        return list(map(_new_sym, struct.iter_unpack(self.endian + SYM_FMT,
                                                     self.symtab.data)))

    def symbol_name(self, sym: Sym, index: int) -> str:
        return cstring(self.strtab.data, sym.st_name, f"symbol [{index}] name")

    def shndx_table(self) -> tuple[int, list[int]] | None:
        """(section index, entries) of the SHT_SYMTAB_SHNDX table, if any."""
        for i, s in enumerate(self.sections):
            if s.sh_type == SHT_SYMTAB_SHNDX and s.sh_link == self.symtab_index:
                return i, words(self.endian, s.data)
        return None

    def group_members(self, sec: Section) -> list[int]:
        """The section indices of a SHT_GROUP section (after its flags
        word)."""
        return words(self.endian, sec.data)[1:]

    def rel_sections(self) -> Iterator[int]:
        """Indices of the relocation sections.  The kernel applies every
        SHT_REL/SHT_RELA section, and every SHF_RELA_LIVEPATCH section as
        RELA, against the module's only symbol table whatever their
        sh_link (apply_relocations(), klp_apply_section_relocs(), 6.1 to
        7.3): a section that says otherwise is refused, not skipped."""
        n = len(self.sections)
        for i, s in enumerate(self.sections):
            if s.sh_flags & SHF_RELA_LIVEPATCH and s.sh_type != SHT_RELA:
                raise ElfFormatError(
                    f"section '{s.name}' has SHF_RELA_LIVEPATCH but is not "
                    "SHT_RELA: the kernel would apply its contents as RELA "
                    "entries")
            if not s.is_rel:
                continue
            if s.sh_link != self.symtab_index:
                raise ElfFormatError(
                    f"section '{s.name}': sh_link {s.sh_link} is not the "
                    f"symbol table ('{self.symtab.name}', index "
                    f"{self.symtab_index}): the kernel applies it against "
                    f"'{self.symtab.name}' anyway (apply_relocations())")
            if not 0 < s.sh_info < n:
                raise ElfFormatError(f"section '{s.name}': sh_info "
                                     f"{s.sh_info} is not a section index")
            yield i

    def modinfo(self) -> list[bytes]:
        for s in self.sections:
            if s.name == ".modinfo":
                return [f for f in s.data.split(b"\0") if f]
        return []


def _identify(raw: bytes) -> tuple[str, int, Ehdr]:
    """Check that @raw is an ELF64 ET_REL file; return its byte order,
    machine and header fields."""
    if len(raw) < 16 or raw[:4] != b"\x7fELF":
        raise ElfFormatError("not an ELF file")
    # Identification is done with struct rather than pyelftools, whose
    # import alone costs as much as converting 50,000 relocations: this runs
    # once per livepatch module in every kernel build.
    elfclass = {1: 32, 2: 64}.get(raw[4], 0)
    little = {1: True, 2: False}.get(raw[5])
    if little is None:
        raise ElfFormatError(f"unknown ELF byte order {raw[5]}")
    if elfclass != 64:
        raise UnsupportedError(f"ELF{elfclass or '?'} file: only ELF64 "
                               "modules are supported")
    if len(raw) < EHDR_SIZE:
        raise ElfFormatError("truncated ELF header")
    endian = "<" if little else ">"
    ehdr = Ehdr._make(struct.unpack_from(endian + EHDR_FMT, raw, 0))
    if ehdr.e_type != ET_REL:
        raise UnsupportedError(f"ELF type {ehdr.e_type}: a kernel module is a "
                               "relocatable file (ET_REL)")
    if ehdr.e_phnum:
        raise UnsupportedError("relocatable file with program headers")
    return endian, ehdr.e_machine, ehdr
