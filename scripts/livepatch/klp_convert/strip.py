# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert --strip-debug: what 'strip --strip-debug' does to a kernel
module, keeping every livepatch record correct.

binutils' strip (2.40) rewrites relocation sections through BFD, which
knows one relocation section per target section: a target whose only
relocations are livepatch ones comes out with an ordinary .rela section
against symbol 0, and klp relocations can merge into ordinary ones (see
klp-convert.rst, "Strip, sign, install").  This removes the same
sections as binutils (BFD's SEC_DEBUGGING: non-allocated sections named
.debug*, .zdebug*, .gnu.debuglto_.debug_*, .gnu.linkonce.wi.*, .line*,
.stab*, .gdb_index), their relocation sections, the COMDAT groups left
empty and the symbols defined in them, and renumbers every section and
symbol index, .klp.rela sections included; everything else keeps its
bytes.
"""

from __future__ import annotations

import struct

from . import relocs
from .checks import check_section_count
from .elf import (SHF_ALLOC, SHF_INFO_LINK, SHF_RELA_LIVEPATCH, SHN_LORESERVE,
                  SHN_XINDEX, SHT_GROUP, SHT_REL, SHT_RELA, SYM_FMT, ElfFile,
                  Section)
from .errors import CheckError
from .writer import build

DEBUG_PREFIXES = (".debug", ".zdebug", ".gnu.debuglto_.debug_",
                  ".gnu.linkonce.wi.", ".line", ".stab")
DEBUG_NAMES = frozenset({".gdb_index"})


def is_debug(sec: Section) -> bool:
    """BFD's SEC_DEBUGGING (_bfd_elf_make_section_from_shdr())."""
    return not sec.sh_flags & SHF_ALLOC and (
        sec.name.startswith(DEBUG_PREFIXES) or sec.name in DEBUG_NAMES)


def _is_rel(sec: Section) -> bool:
    return sec.sh_type in (SHT_REL, SHT_RELA) or \
        bool(sec.sh_flags & SHF_RELA_LIVEPATCH)


def _index_map(count: int, removed: set[int]) -> list[int]:
    """old index -> new index once @removed are taken out (-1 for those)."""
    out, shift = [], 0
    for i in range(count):
        if i in removed:
            out.append(-1)
            shift += 1
        else:
            out.append(i - shift)
    return out


def _group_members(elf: ElfFile, sec: Section) -> list[int]:
    count = len(sec.data) // 4
    return list(struct.unpack(f"{elf.endian}{count}I", sec.data[:count * 4]))


def _sections_to_drop(elf: ElfFile) -> set[int]:
    secs = elf.sections
    drop = {i for i, s in enumerate(secs) if i and is_debug(s)}
    for i, sec in enumerate(secs):
        if i and _is_rel(sec) and sec.sh_info in drop:
            if sec.sh_flags & SHF_RELA_LIVEPATCH:
                raise CheckError(
                    f"livepatch relocation section '{sec.name}' patches debug "
                    f"section '{secs[sec.sh_info].name}': the kernel never "
                    "applies it; the module is damaged")
            drop.add(i)
    for i, sec in enumerate(secs):
        if sec.sh_type == SHT_GROUP and len(sec.data) >= 4:
            members = _group_members(elf, sec)[1:]
            if members and all(m in drop for m in members):
                drop.add(i)
    return drop


def strip_debug(raw: bytes) -> bytes | None:
    """The module without its debug sections, or None if it has none."""
    elf = ElfFile(raw)
    drop = _sections_to_drop(elf)
    if not drop:
        return None
    if elf.symtab_index in drop or elf.symtab.sh_link in drop:
        raise CheckError("the symbol table would be removed")
    syms = elf.symbols()
    shndx = elf.shndx_table()
    xindex = shndx[1] if shndx else []

    def section_of(i: int) -> int:
        s = syms[i][3]
        return xindex[i] if s == SHN_XINDEX and i < len(xindex) else s

    gone = {i for i in range(1, len(syms)) if section_of(i) in drop}
    sym_map = _index_map(len(syms), gone)
    sec_map = _index_map(len(elf.sections), drop)
    kept = [s for i, s in enumerate(elf.sections) if i not in drop]
    check_section_count(len(kept))
    _renumber_relocations(elf, drop, gone, sym_map)
    _rewrite_symtab(elf, syms, xindex, gone, sec_map)
    _renumber_headers(elf, kept, drop, sec_map, sym_map)
    return build(elf.endian, elf.ehdr, kept, sec_map[elf.shstrndx])


def _renumber_relocations(elf: ElfFile, drop: set[int], gone: set[int],
                          sym_map: list[int]) -> None:
    if not gone:
        return
    for i, sec in enumerate(elf.sections):
        if i in drop or not _is_rel(sec):
            continue
        table = relocs.Table(sec, elf.endian)
        used = set(table.symbols())
        if max(used, default=0) >= len(sym_map):
            raise CheckError(f"section '{sec.name}': symbol index "
                             f"{max(used)} is past the end of the symbol table")
        lost = used & gone
        if lost:
            raise CheckError(f"section '{sec.name}' refers to symbol [{min(lost)}]"
                             ", which is defined in a debug section")
        sec.data = table.remapped(sym_map)


def _rewrite_symtab(elf: ElfFile, syms: list, xindex: list[int],
                    gone: set[int], sec_map: list[int]) -> None:
    sym = struct.Struct(elf.endian + SYM_FMT)
    out, out_x = [], []
    for i, (name, info, other, shndx, value, size) in enumerate(syms):
        if i in gone:
            continue
        x = xindex[i] if i < len(xindex) else 0
        if shndx == SHN_XINDEX:
            x = _remap(sec_map, x, f"symbol [{i}]")
            if x < SHN_LORESERVE:
                shndx, x = x, 0
        elif 0 < shndx < SHN_LORESERVE:
            shndx = _remap(sec_map, shndx, f"symbol [{i}]")
        out.append(sym.pack(name, info, other, shndx, value, size))
        out_x.append(x)
    symtab = elf.symtab
    symtab.data = b"".join(out)
    symtab.sh_info -= sum(1 for i in gone if i < symtab.sh_info)
    shndx = elf.shndx_table()
    if shndx:
        elf.sections[shndx[0]].data = struct.pack(
            f"{elf.endian}{len(out_x)}I", *out_x)


def _renumber_headers(elf: ElfFile, kept: list[Section], drop: set[int],
                      sec_map: list[int], sym_map: list[int]) -> None:
    for sec in kept[1:]:
        where = f"section '{sec.name}'"
        if sec.sh_type == SHT_GROUP and len(sec.data) >= 4:
            words = _group_members(elf, sec)
            members = [_remap(sec_map, m, where) for m in words[1:]
                       if m not in drop]
            sec.data = struct.pack(f"{elf.endian}{1 + len(members)}I",
                                   words[0], *members)
            if sec.sh_link == elf.symtab_index and sec.sh_info < len(sym_map):
                sec.sh_info = sym_map[sec.sh_info]
                if sec.sh_info < 0:
                    raise CheckError(f"{where}: its signature symbol is "
                                     "defined in a debug section")
        if sec.sh_link:
            sec.sh_link = _remap(sec_map, sec.sh_link, where)
        if (_is_rel(sec) or sec.sh_flags & SHF_INFO_LINK) and sec.sh_info:
            sec.sh_info = _remap(sec_map, sec.sh_info, where)


def _remap(sec_map: list[int], index: int, what: str) -> int:
    new = sec_map[index] if index < len(sec_map) else -1
    if new < 0:
        raise CheckError(f"{what} refers to section [{index}], which is "
                         "removed or does not exist")
    return new
