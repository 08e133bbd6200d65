# SPDX-License-Identifier: GPL-2.0-only
"""The conversion itself.

1. Find the intermediate symbols (.klp.sym.rela.<lp-obj>.<sym-obj>.<sym>,<pos>,
   undefined) and validate them.
2. Move every relocation against one of them from its .rela<sec> into
   .klp.rela.<lp-obj>.<sec>, checking it on the way; relocations in debug
   sections stay where they are (the kernel never applies relocations to
   sections that are not SHF_ALLOC, and a .klp.rela section for such a
   target would be silently skipped: keeping them preserves the debug
   information's link to the symbol for tools that read the .ko).
3. Rename the symbols to .klp.sym.<sym-obj>.<sym>,<pos>, SHN_LIVEPATCH,
   GLOBAL; intermediate names with the same final name share one symbol.
4. Drop relocation sections left empty and renumber every section and
   symbol index that refers to what moved.

Everything else keeps its bytes.
"""

from __future__ import annotations

import struct
from typing import Dict, List, NamedTuple, Optional, Set, Tuple

from . import arch as archmod
from . import checks
from .elf import (RELA_FMT, SHF_ALLOC, SHF_INFO_LINK, SHF_RELA_LIVEPATCH,
                  SHN_LIVEPATCH, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX,
                  SHT_GROUP, SHT_REL, SHT_RELA, SHT_SYMTAB_SHNDX, STB_GLOBAL,
                  STB_LOCAL, STB_WEAK, STT_NOTYPE, SYM_FMT, SYM_SIZE, ElfFile,
                  Section)
from .errors import CheckError, ElfFormatError, KlpError, SymbolNameError
from .names import (INTERMEDIATE_PREFIX, KLP_SYM_PREFIX, KlpName, klp_rela_name,
                    parse_intermediate)
from .writer import build

_KLP_PREFIX_B = KLP_SYM_PREFIX.encode()


class Move(NamedTuple):
    """One relocation that moves (for --list)."""

    section: str
    offset: int
    rtype: str
    intermediate: str
    lp_obj: str
    final: str


class Result(NamedTuple):
    output: Optional[bytes]     # None: nothing to convert, input unchanged
    moves: List[Move]           # filled in when asked for (--list)
    relocations: int            # relocations moved
    symbols: int                # intermediate symbols converted
    merged: int                 # of which merged into another symbol
    created: List[str]          # .klp.rela sections created
    dropped: List[str]          # relocation sections dropped


def find_intermediates(elf: ElfFile) -> Tuple[Dict[int, KlpName],
                                               Dict[str, int], List[tuple]]:
    """Intermediate symbols by index, existing SHN_LIVEPATCH symbols by
    name, and the symbol list."""
    syms = elf.symbols()
    strtab = elf.strtab.data
    inter: Dict[int, KlpName] = {}
    existing: Dict[str, int] = {}
    for i, sym in enumerate(syms):
        if not strtab.startswith(_KLP_PREFIX_B, sym[0]):
            continue
        name = elf.symbol_name(sym, i)
        shndx = sym[3]
        if shndx == SHN_LIVEPATCH:
            existing.setdefault(name, i)
            continue
        if name.startswith(INTERMEDIATE_PREFIX):
            if shndx != SHN_UNDEF:
                raise SymbolNameError(
                    f"intermediate symbol '{name}' is defined (section index "
                    f"{shndx}): it must only be referenced, through "
                    "KLP_RELOC_SYMBOL()")
            if sym[1] >> 4 not in (STB_GLOBAL, STB_WEAK):
                raise SymbolNameError(
                    f"intermediate symbol '{name}' is local: declare it extern")
            inter[i] = parse_intermediate(name)
        elif shndx == SHN_UNDEF:
            raise SymbolNameError(
                f"undefined symbol '{name}' is not an intermediate klp symbol "
                "(.klp.sym.rela.<lp-obj>.<sym-obj>.<symbol>,<sympos>) and not "
                "a livepatch symbol: nothing would resolve it")
    return inter, existing, syms


def weaken(raw: bytes) -> Tuple[Optional[bytes], int]:
    """Mark intermediate symbols weak (before modpost).  Returns the new
    file contents, or None if nothing changes, and the number of symbols."""
    elf = ElfFile(raw)
    inter, _existing, syms = find_intermediates(elf)
    todo = [i for i in inter if syms[i][1] >> 4 != STB_WEAK]
    if not todo:
        return None, len(inter)
    out = bytearray(raw)
    base = elf.symtab.sh_offset
    for i in todo:
        out[base + i * SYM_SIZE + 4] = (STB_WEAK << 4) | (syms[i][1] & 0xF)
    return bytes(out), len(inter)


class _Strings:
    """A string table that only grows."""

    def __init__(self, data: bytes) -> None:
        self.buf = bytearray(data)
        if not self.buf or self.buf[-1] != 0:
            self.buf.append(0)
        self.added: Dict[str, int] = {}

    def add(self, name: str) -> int:
        off = self.added.get(name)
        if off is None:
            off = len(self.buf)
            self.buf += name.encode("utf-8", "surrogateescape") + b"\0"
            self.added[name] = off
        return off


def convert(raw: bytes, want_moves: bool = False) -> Result:
    elf = ElfFile(raw)
    inter, existing, syms = find_intermediates(elf)
    if not inter:
        return Result(None, [], 0, 0, 0, [], [])

    checks.check_module(raw, elf.modinfo())
    arch = archmod.arch_for(elf.machine)
    sections = elf.sections
    nsec = len(sections)

    # Symbol indices: duplicates (same final name) are dropped and their
    # users pointed at the first symbol with that name.
    rep: Dict[int, int] = {}
    first: Dict[str, int] = dict(existing)
    for i, name in inter.items():
        rep[i] = first.setdefault(name.final, i)
    removed: Set[int] = {i for i, r in rep.items() if r != i}
    sym_map = _index_map(len(syms), removed)
    for i, r in rep.items():
        sym_map[i] = sym_map[r]

    # Relocations.  Checks run once per symbol, per (target, lp-obj) and per
    # relocation type; only the site check looks at every relocation.
    rela = struct.Struct(elf.endian + RELA_FMT)
    new_data: Dict[int, bytes] = {}
    klp: Dict[Tuple[str, int], List[bytes]] = {}
    moves: List[Move] = []
    checked: Set[int] = set()
    intermediate_names = {i: elf.symbol_name(syms[i], i) for i in inter}
    finals = {i: n.final for i, n in inter.items()}
    nsyms = len(syms)
    # A set, not the dict: set.isdisjoint(dict) walks the whole dict for
    # every section (sections x symbols).
    inter_set = set(inter)
    for ri in list(elf.rel_sections()):
        sec = sections[ri]
        entries = elf.relocations(ri)
        sym_of = [e[1] >> 32 for e in entries]
        used = set(sym_of)
        if used and max(used) >= nsyms:
            _check_sym_indices(sec, used, nsyms)
        if used.isdisjoint(inter_set) or checks.is_debug_section(sections[sec.sh_info]):
            if removed:
                new_data[ri] = _remap_rel(elf.endian, sec, entries, sym_map)
            continue
        target = sections[sec.sh_info]
        if sec.sh_type == SHT_REL:
            bad = next(s for s in sym_of if s in inter)
            raise CheckError(
                f"section '{sec.name}' is SHT_REL and references "
                f"'{intermediate_names[bad]}': livepatch relocations must be "
                "SHT_RELA")
        moved = [k for k, s in enumerate(sym_of) if s in inter]
        _check_moved(arch, elf.endian, target, entries, moved, sym_of, inter,
                     intermediate_names, checked)
        raw_rel = sec.data
        size = rela.size
        if removed:
            def entry(k: int) -> bytes:
                off, info, addend = entries[k]
                return rela.pack(off, (sym_map[info >> 32] << 32) |
                                 (info & 0xFFFFFFFF), addend)
        else:
            def entry(k: int) -> bytes:
                return raw_rel[k * size:(k + 1) * size]
        lp_objs = {inter[s].lp_obj for s in used & inter_set}
        if len(moved) == len(entries) and len(lp_objs) == 1 and not removed:
            # The common case: the whole section moves, bytes unchanged.
            new_data[ri] = b""
            klp.setdefault((lp_objs.pop(), sec.sh_info), []).append(raw_rel)
        else:
            moved_set = set(moved)
            kept = [k for k in range(len(entries)) if k not in moved_set]
            if removed:
                new_data[ri] = b"".join([entry(k) for k in kept])
                out = [entry(k) for k in moved]
            else:       # plain slices, no call per entry
                new_data[ri] = b"".join([raw_rel[k * size:k * size + size]
                                         for k in kept])
                out = [raw_rel[k * size:k * size + size] for k in moved]
            if len(lp_objs) == 1:
                klp.setdefault((lp_objs.pop(), sec.sh_info), []).extend(out)
            else:
                for k, e in zip(moved, out):
                    klp.setdefault((inter[sym_of[k]].lp_obj, sec.sh_info),
                                   []).append(e)
        if want_moves:
            for k in moved:
                s = sym_of[k]
                off, info = entries[k][0], entries[k][1]
                moves.append(Move(target.name, off,
                                  archmod.type_name(arch, info & 0xFFFFFFFF),
                                  intermediate_names[s], inter[s].lp_obj,
                                  finals[s]))

    # Unreferenced intermediate symbols still get their names checked.
    for i, name in inter.items():
        if i not in checked:
            try:
                checks.check_objects(name)
            except CheckError as exc:
                raise CheckError(f"symbol '{intermediate_names[i]}': {exc}") from None

    # Sections: drop relocation sections that became empty (unless a
    # symbol refers to them), then append the .klp.rela sections.
    sym_shndx = {s[3] for s in syms}
    drop = {ri for ri, data in new_data.items()
            if not data and sections[ri].sh_size and ri not in sym_shndx}
    sec_map = _index_map(nsec, drop)

    shstr_index = elf.shstrndx
    strtab_index = elf.symtab.sh_link
    strtab = _Strings(sections[strtab_index].data)
    shstr = strtab if shstr_index == strtab_index else \
        _Strings(sections[shstr_index].data)

    # Symbol table.
    shndx_info = elf.shndx_table()
    xindex = shndx_info[1] if shndx_info else None
    sym_struct = struct.Struct(elf.endian + SYM_FMT)
    out_syms: List[bytes] = []
    out_x: List[int] = []
    for i, (st_name, st_info, st_other, shndx, value, size) in enumerate(syms):
        if i in removed:
            continue
        x = xindex[i] if xindex is not None and i < len(xindex) else 0
        if i in inter:
            st_name = strtab.add(inter[i].final)
            st_info = (STB_GLOBAL << 4) | STT_NOTYPE
            shndx, value, size = SHN_LIVEPATCH, 0, 0
        elif shndx == SHN_XINDEX:
            x = _remap_sec(sec_map, x, f"symbol [{i}]")
            if x < SHN_LORESERVE:       # fits again: no escape needed
                shndx, x = x, 0
        elif 0 < shndx < SHN_LORESERVE:
            shndx = _remap_sec(sec_map, shndx, f"symbol [{i}]")
        out_syms.append(sym_struct.pack(st_name, st_info, st_other, shndx,
                                        value, size))
        out_x.append(x)
    symtab = elf.symtab
    symtab.data = b"".join(out_syms)
    symtab.sh_info -= sum(1 for i in removed if i < symtab.sh_info)
    if shndx_info:
        sections[shndx_info[0]].data = struct.pack(
            f"{elf.endian}{len(out_x)}I", *out_x)

    for ri, data in new_data.items():
        sections[ri].data = data

    # Groups: member section indices (and the signature symbol, sh_info).
    for sec in sections:
        if sec.sh_type == SHT_GROUP and len(sec.data) >= 4:
            words = struct.unpack(f"{elf.endian}{len(sec.data) // 4}I",
                                  sec.data[:len(sec.data) // 4 * 4])
            members = [_remap_sec(sec_map, m, f"group '{sec.name}'")
                       for m in words[1:] if m not in drop]
            sec.data = struct.pack(f"{elf.endian}{1 + len(members)}I",
                                   words[0], *members)
            if sec.sh_link == elf.symtab_index and sec.sh_info < len(sym_map):
                sec.sh_info = sym_map[sec.sh_info]

    # Section headers: renumber links.
    kept_sections = [s for i, s in enumerate(sections) if i not in drop]
    for sec in kept_sections[1:]:
        if sec.sh_link:
            sec.sh_link = _remap_sec(sec_map, sec.sh_link, f"section '{sec.name}'")
        if sec.sh_type in (SHT_REL, SHT_RELA) or sec.sh_flags & SHF_INFO_LINK:
            if sec.sh_info:
                sec.sh_info = _remap_sec(sec_map, sec.sh_info,
                                         f"section '{sec.name}'")

    created: List[str] = []
    new_symtab = sec_map[elf.symtab_index]
    # A module converted before (e.g. kpatch-built) may already have the
    # .klp.rela section: add to it rather than create a second one.
    existing_klp = {(s.name, s.sh_info): s for s in kept_sections[1:]
                    if s.sh_type == SHT_RELA and s.sh_flags & SHF_RELA_LIVEPATCH
                    and s.sh_link == new_symtab and s.sh_entsize == rela.size}
    for (lp_obj, target), entries in klp.items():
        name = klp_rela_name(lp_obj, sections[target].name)
        old = existing_klp.get((name, sec_map[target]))
        if old is not None:
            old.data = bytes(old.data) + b"".join(entries)
            continue
        hdr = (shstr.add(name), SHT_RELA,
               SHF_ALLOC | SHF_INFO_LINK | SHF_RELA_LIVEPATCH, 0, 0, 0,
               new_symtab, sec_map[target], 8, rela.size)
        new = Section(hdr, b"".join(entries))
        new.name = name
        kept_sections.append(new)
        created.append(name)

    sections[strtab_index].data = bytes(strtab.buf)
    sections[shstr_index].data = bytes(shstr.buf)
    output = build(elf.endian, elf.ehdr, kept_sections, sec_map[shstr_index])
    nmoved = sum(len(b"".join(e)) for e in klp.values()) // rela.size
    return Result(output, moves, nmoved, len(inter), len(removed), created,
                  [sections[i].name for i in sorted(drop)])


def _check_moved(arch: archmod.Arch, endian: str, target: Section,
                 entries: List[Tuple[int, ...]], moved: List[int],
                 sym_of: List[int], inter: Dict[int, KlpName],
                 names: Dict[int, str], checked: Set[int]) -> None:
    """Check the relocations of one section that are about to move."""
    def fail(k: int, exc: CheckError) -> None:
        off, info = entries[k][0], entries[k][1]
        raise CheckError(
            f"section '{target.name}' offset {off:#x}: "
            f"{archmod.type_name(arch, info & 0xFFFFFFFF)} against "
            f"'{names[sym_of[k]]}': {exc}") from None

    mask = 0xFFFFFFFF
    # Once per symbol (over the whole module) and once per lp-obj here.
    syms = set(map(sym_of.__getitem__, moved))
    for s in syms - checked:
        try:
            checks.check_objects(inter[s])
        except CheckError as exc:
            fail(next(k for k in moved if sym_of[k] == s), exc)
    checked |= syms
    by_lp = {inter[s].lp_obj: s for s in syms}
    for s in by_lp.values():
        try:
            checks.check_target(target, inter[s])
        except CheckError as exc:
            fail(next(k for k in moved if sym_of[k] == s), exc)
    types = [entries[k][1] & mask for k in moved]
    for rtype in set(types):
        try:
            archmod.check_type(arch, rtype)
        except CheckError as exc:
            fail(moved[types.index(rtype)], exc)
    offsets = [entries[k][0] for k in moved]
    bad = archmod.first_bad_site(arch, target.data, endian, offsets, types)
    if bad is not None:
        k = moved[bad]
        try:
            arch.site_check(arch, target.data, endian, offsets[bad], types[bad])
        except CheckError as exc:
            fail(k, exc)


def _index_map(count: int, removed: Set[int]) -> List[int]:
    """old index -> new index once @removed are taken out (-1 for those)."""
    out: List[int] = []
    shift = 0
    for i in range(count):
        if i in removed:
            out.append(-1)
            shift += 1
        else:
            out.append(i - shift)
    return out


def _remap_sec(sec_map: List[int], index: int, what: str) -> int:
    if index >= len(sec_map):
        raise ElfFormatError(f"{what}: section index {index} is out of range")
    new = sec_map[index]
    if new < 0:
        raise KlpError(f"{what} refers to a relocation section that the "
                       "conversion would drop")
    return new


def _check_sym_indices(sec: Section, used: Set[int], nsyms: int) -> None:
    bad = [s for s in used if s >= nsyms]
    if bad:
        raise ElfFormatError(f"section '{sec.name}': symbol index {bad[0]} is "
                             "past the end of the symbol table")


def _remap_rel(endian: str, sec: Section, entries: List[Tuple[int, ...]],
               sym_map: List[int]) -> bytes:
    if sec.sh_type == SHT_RELA:
        st = struct.Struct(endian + RELA_FMT)
        return b"".join(st.pack(o, (sym_map[i >> 32] << 32) | (i & 0xFFFFFFFF), a)
                        for o, i, a in entries)
    st = struct.Struct(endian + "QQ")
    return b"".join(st.pack(o, (sym_map[i >> 32] << 32) | (i & 0xFFFFFFFF))
                    for o, i in entries)


__all__ = ["convert", "weaken", "find_intermediates", "Result", "Move",
           "STB_LOCAL"]
