# SPDX-License-Identifier: GPL-2.0-only
"""Rewriting an ELF64 relocatable file held in memory.

An Edit says what changes: sections and symbols that go, symbols that
are replaced (and renamed), sections whose contents change, sections
appended.  apply() renumbers every index that refers to what moved:
symbols' st_shndx and the extended index table, the symbol of every
relocation entry, group members and signatures, sh_link and sh_info;
then writer.build() lays the file out.  --strip-debug and the
conversion both edit a module through this (like objtool's elf.c does
for 'objtool klp post-link').

Relocation contents in an Edit (replaced or appended) still use the
input's symbol indices: apply() renumbers them with everything else.
"""

from __future__ import annotations

import struct

from .elf import (SHF_INFO_LINK, SHF_RELA_LIVEPATCH, SHN_LORESERVE,
                  SHN_XINDEX, SHT_GROUP, SHT_REL, SHT_RELA, SYM_FMT, SYM_SIZE,
                  ElfFile, Section, Sym)
from .errors import ElfFormatError
from .relocs import Table
from .writer import build


class NewSection:
    """A section to append: its name, type, flags, contents, alignment,
    entry size, and (relocation sections) the index in the input of the
    section it applies to; its sh_link is the symbol table."""

    __slots__ = ("name", "sh_type", "sh_flags", "data", "addralign",
                 "entsize", "target")

    def __init__(self, name: str, sh_type: int, sh_flags: int, data: bytes,
                 addralign: int, entsize: int, target: int) -> None:
        self.name = name
        self.sh_type = sh_type
        self.sh_flags = sh_flags
        self.data = data
        self.addralign = addralign
        self.entsize = entsize
        self.target = target


class Edit:
    """What changes in a file.

    drop_sections: section indices removed
    drop_symbols: symbol index removed -> the symbol that its users refer
        to from now on (-1: none may refer to it)
    symbols: symbol index -> (new name, new entry): st_name is ignored,
        st_shndx is final (a special index, not renumbered)
    data: section index -> new contents
    appended: sections added after the others, in order
    """

    __slots__ = ("drop_sections", "drop_symbols", "symbols", "data",
                 "appended")

    def __init__(self) -> None:
        self.drop_sections: set[int] = set()
        self.drop_symbols: dict[int, int] = {}
        self.symbols: dict[int, tuple[str, Sym]] = {}
        self.data: dict[int, bytes] = {}
        self.appended: list[NewSection] = []

    def section_count(self, elf: ElfFile) -> int:
        """The number of sections of the result."""
        return len(elf.sections) - len(self.drop_sections) + \
            len(self.appended)


def index_map(count: int, removed: set[int] | dict[int, int]) -> list[int]:
    """old index -> new index once @removed are taken out (-1 for those)."""
    out: list[int] = []
    shift = 0
    for i in range(count):
        if i in removed:
            out.append(-1)
            shift += 1
        else:
            out.append(i - shift)
    return out


def is_relocation(sec: Section) -> bool:
    return sec.sh_type in (SHT_REL, SHT_RELA) or \
        bool(sec.sh_flags & SHF_RELA_LIVEPATCH)


class _Strings:
    """A string table that only grows."""

    def __init__(self, data: bytes) -> None:
        self.buf = bytearray(data)
        if not self.buf or self.buf[-1] != 0:
            self.buf.append(0)
        self.added: dict[str, int] = {}

    def add(self, name: str) -> int:
        off = self.added.get(name)
        if off is None:
            off = len(self.buf)
            self.buf += name.encode("utf-8", "surrogateescape") + b"\0"
            self.added[name] = off
        return off


class _Maps:
    """The index maps of one rewrite."""

    def __init__(self, elf: ElfFile, edit: Edit) -> None:
        self.sections = index_map(len(elf.sections), edit.drop_sections)
        self.symbols = index_map(len(elf.symtab.data) // SYM_SIZE,
                                 edit.drop_symbols)
        for i, user in edit.drop_symbols.items():
            self.symbols[i] = self.symbols[user] if user >= 0 else -1
        self.renumbers_symbols = bool(edit.drop_symbols)

    def section(self, index: int, what: str) -> int:
        new = self.sections[index] if index < len(self.sections) else -1
        if new < 0:
            raise ElfFormatError(f"{what} refers to section [{index}], which "
                                 "is removed or does not exist")
        return new


def apply(elf: ElfFile, edit: Edit) -> bytes:
    """The file @elf with @edit applied.  @elf's sections are changed on
    the way: use it no more."""
    maps = _Maps(elf, edit)
    sections = elf.sections
    strtab_index, shstr_index = elf.symtab.sh_link, elf.shstrndx
    strtab, shstr = _string_tables(elf, edit)
    for i, data in edit.data.items():
        sections[i].data = data
    _rewrite_symtab(elf, edit, maps, strtab)
    _renumber_relocations(elf, edit, maps)
    _renumber_groups(elf, edit, maps)
    kept = [s for i, s in enumerate(sections) if i not in edit.drop_sections]
    _renumber_headers(kept, maps)
    kept += _appended(elf, edit, maps, shstr)
    if strtab is not None:
        sections[strtab_index].data = bytes(strtab.buf)
    if shstr is not None:
        sections[shstr_index].data = bytes(shstr.buf)
    return build(elf.endian, elf.ehdr, kept, maps.sections[shstr_index])


def _string_tables(elf: ElfFile,
                   edit: Edit) -> tuple[_Strings | None, _Strings | None]:
    """The symbol and section name tables, if names are added (both,
    then: they may be one table)."""
    if not edit.symbols and not edit.appended:
        return None, None
    strtab = _Strings(elf.strtab.data)
    if elf.shstrndx == elf.symtab.sh_link:
        return strtab, strtab
    return strtab, _Strings(elf.sections[elf.shstrndx].data)


def _rewrite_symtab(elf: ElfFile, edit: Edit, maps: _Maps,
                    strtab: _Strings | None) -> None:
    """The symbol table without the dropped symbols, the replaced ones
    renamed, every section index renumbered (and the extended index
    table with it)."""
    shndx_info = elf.shndx_table()
    xindex = shndx_info[1] if shndx_info else []
    nx = len(xindex)
    pack = struct.Struct(elf.endian + SYM_FMT).pack
    renumber = bool(edit.drop_sections)
    out_syms: list[bytes] = []
    out_x: list[int] = []
    # plain tuples, taken apart at once (no Sym per symbol)
    for i, (name, info, other, shndx, value, size) in \
            enumerate(struct.iter_unpack(elf.endian + SYM_FMT,
                                         elf.symtab.data)):
        if i in edit.drop_symbols:
            continue
        x = xindex[i] if i < nx else 0
        replaced = edit.symbols.get(i)
        if replaced is not None and strtab is not None:
            name, (_n, info, other, shndx, value, size) = \
                strtab.add(replaced[0]), replaced[1]
        elif shndx == SHN_XINDEX:
            x = maps.section(x, f"symbol [{i}]")
            if x < SHN_LORESERVE:       # fits again: no escape needed
                shndx, x = x, 0
        elif renumber and 0 < shndx < SHN_LORESERVE:
            shndx = maps.section(shndx, f"symbol [{i}]")
        out_syms.append(pack(name, info, other, shndx, value, size))
        out_x.append(x)
    symtab = elf.symtab
    symtab.data = b"".join(out_syms)
    symtab.sh_info -= sum(1 for i in edit.drop_symbols if i < symtab.sh_info)
    if shndx_info:
        elf.sections[shndx_info[0]].data = struct.pack(
            f"{elf.endian}{len(out_x)}I", *out_x)


def _renumber_relocations(elf: ElfFile, edit: Edit, maps: _Maps) -> None:
    """The symbol of every relocation entry, when symbols move."""
    if not maps.renumbers_symbols:
        return
    for i, sec in enumerate(elf.sections):
        if i not in edit.drop_sections and is_relocation(sec) and sec.data:
            sec.data = Table(sec, elf.endian).remapped(maps.symbols)
    for new in edit.appended:
        if new.sh_type == SHT_RELA:
            new.data = Table.of(new.data, new.sh_type, new.name,
                                elf.endian).remapped(maps.symbols)


def _renumber_groups(elf: ElfFile, edit: Edit, maps: _Maps) -> None:
    """Group members (a dropped member leaves its group) and signature
    symbols."""
    for i, sec in enumerate(elf.sections):
        if sec.sh_type != SHT_GROUP or len(sec.data) < 4 or \
                i in edit.drop_sections:
            continue
        where = f"group '{sec.name}'"
        members = [maps.section(m, where) for m in elf.group_members(sec)
                   if m not in edit.drop_sections]
        flags = sec.data[:4]
        sec.data = flags + struct.pack(f"{elf.endian}{len(members)}I",
                                       *members)
        if sec.sh_link == elf.symtab_index and \
                sec.sh_info < len(maps.symbols):
            sec.sh_info = maps.symbols[sec.sh_info]
            if sec.sh_info < 0:
                raise ElfFormatError(f"{where}: its signature symbol is "
                                     "removed")


def _renumber_headers(kept: list[Section], maps: _Maps) -> None:
    nsec = len(maps.sections)
    identity = nsec == len(kept)
    for sec in kept[1:]:
        if identity and sec.sh_link < nsec and sec.sh_info < nsec:
            continue                # nothing dropped: only check the range
        where = f"section '{sec.name}'"
        if sec.sh_link:
            sec.sh_link = maps.section(sec.sh_link, where)
        if (is_relocation(sec) or sec.sh_flags & SHF_INFO_LINK) and \
                sec.sh_info:
            sec.sh_info = maps.section(sec.sh_info, where)


def _appended(elf: ElfFile, edit: Edit, maps: _Maps,
              shstr: _Strings | None) -> list[Section]:
    out = []
    symtab = maps.sections[elf.symtab_index]
    for new in edit.appended:
        assert shstr is not None
        hdr = (shstr.add(new.name), new.sh_type, new.sh_flags, 0, 0, 0,
               symtab, maps.section(new.target, f"section '{new.name}'"),
               new.addralign, new.entsize)
        sec = Section(hdr, new.data)
        sec.name = new.name
        out.append(sec)
    return out
