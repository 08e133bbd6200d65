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

from . import relocs, rewrite
from .checks import module as modrules
from .checks import relocations as relrules
from .elf import SHN_XINDEX, SHT_GROUP, SYM_SIZE, ElfFile, debug_section
from .errors import CheckError
from .rewrite import is_relocation


def _sections_to_drop(elf: ElfFile) -> set[int]:
    secs = elf.sections
    drop = {i for i, s in enumerate(secs) if i and debug_section(s)}
    for i, sec in enumerate(secs):
        if i and is_relocation(sec) and sec.sh_info in drop:
            problem = relrules.klp_patches_dropped(sec,
                                                   secs[sec.sh_info].name)
            if problem:
                raise CheckError(problem)
            drop.add(i)
    for i, sec in enumerate(secs):
        if sec.sh_type == SHT_GROUP and len(sec.data) >= 4:
            members = elf.group_members(sec)
            if members and all(m in drop for m in members):
                drop.add(i)
    return drop


def _symbols_to_drop(elf: ElfFile, drop: set[int]) -> set[int]:
    """The symbols defined in a section that goes."""
    syms = elf.symbols()
    shndx = elf.shndx_table()
    xindex = shndx[1] if shndx else []

    def section_of(i: int) -> int:
        s = syms[i].st_shndx
        return xindex[i] if s == SHN_XINDEX and i < len(xindex) else s

    return {i for i in range(1, len(syms)) if section_of(i) in drop}


def strip_debug(raw: bytes) -> bytes | None:
    """The module without its debug sections, or None if it has none."""
    elf = ElfFile(raw)
    drop = _sections_to_drop(elf)
    if not drop:
        return None
    problem = modrules.symtab_removed(elf, drop)
    if problem:
        raise CheckError(problem)
    edit = rewrite.Edit()
    edit.drop_sections = drop
    edit.drop_symbols = dict.fromkeys(_symbols_to_drop(elf, drop), -1)
    problem = modrules.section_count(edit.section_count(elf))
    if problem:
        raise CheckError(problem)
    _check_users(elf, drop, set(edit.drop_symbols))
    return rewrite.apply(elf, edit)


def _check_users(elf: ElfFile, drop: set[int], gone: set[int]) -> None:
    """Nothing that stays may refer to a symbol that goes."""
    if not gone:
        return
    nsyms = len(elf.symtab.data) // SYM_SIZE
    for i, sec in enumerate(elf.sections):
        if i in drop:
            continue
        if is_relocation(sec):
            used = relocs.Table(sec, elf.endian).symbols()
            problem = relrules.symbol_past_end(sec, used, nsyms) or \
                relrules.symbol_dropped(sec, set(used), gone)
        elif sec.sh_type == SHT_GROUP and len(sec.data) >= 4 and \
                sec.sh_link == elf.symtab_index:
            problem = relrules.signature_dropped(sec, sec.sh_info, gone)
        else:
            continue
        if problem:
            raise CheckError(problem)
