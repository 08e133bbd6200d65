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
from collections import namedtuple
from itertools import chain, compress

from . import arch as archmod
from . import checks, relocs
from .elf import (RELA_SIZE, SHF_ALLOC, SHF_INFO_LINK, SHF_RELA_LIVEPATCH,
                  SHN_LIVEPATCH, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX,
                  SHT_GROUP, SHT_REL, SHT_RELA, STB_GLOBAL,
                  STB_LOCAL, STB_WEAK, STT_NOTYPE, SYM_FMT, SYM_SIZE, ElfFile,
                  Section)
from .errors import CheckError, ElfFormatError, KlpError, SymbolNameError
from .names import (INTERMEDIATE_PREFIX, KLP_SYM_PREFIX, KlpName, klp_rela_name,
                    parse_intermediate)
from .writer import build

_KLP_PREFIX_B = KLP_SYM_PREFIX.encode()


class Move(namedtuple("Move", ["section", "offset", "rtype", "intermediate",
                               "lp_obj", "final"])):
    """One relocation that moves (for --list): target section (str),
    offset (int), relocation type name (str), intermediate symbol, lp-obj
    and final symbol (str).  An intermediate symbol that is converted but
    has no relocation to move (unused, or used by debug information only)
    is listed with section and type "-" and offset -1."""

    __slots__ = ()


class Result(namedtuple("Result", ["output", "moves", "relocations",
                                   "symbols", "merged", "created",
                                   "dropped", "warnings"])):
    """What convert() did.

    output: bytes | None: the new file; None: nothing to convert, input
        unchanged
    moves: list[Move]: filled in when asked for (--list)
    relocations: int: relocations moved
    symbols: int: intermediate symbols converted
    merged: int: of which merged into another symbol
    created: list[str]: .klp.rela sections created
    dropped: list[str]: relocation sections dropped
    warnings: list[str]: what the kernel would accept but probably not do
        as meant; cli prints them, --strict makes them errors
    """

    __slots__ = ()


def find_intermediates(elf: ElfFile) -> tuple[dict[int, KlpName],
                                               dict[str, int], list[tuple]]:
    """Intermediate symbols by index, existing SHN_LIVEPATCH symbols by
    name, and the symbol list."""
    syms = elf.symbols()
    strtab = elf.strtab.data
    inter: dict[int, KlpName] = {}
    existing: dict[str, int] = {}
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


def weaken(raw: bytes) -> tuple[bytes | None, int]:
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
        self.added: dict[str, int] = {}

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
        return Result(None, [], 0, 0, 0, [], [], [])

    checks.check_module(raw, elf.modinfo())
    arch = archmod.arch_for(elf.machine, elf.endian)
    sections = elf.sections
    nsec = len(sections)

    # Symbol indices: duplicates (same final name) are dropped and their
    # users pointed at the first symbol with that name.
    rep: dict[int, int] = {}
    first: dict[str, int] = dict(existing)
    for i, name in inter.items():
        rep[i] = first.setdefault(name.final, i)
    removed: set[int] = {i for i, r in rep.items() if r != i}
    sym_map = _index_map(len(syms), removed)
    for i, r in rep.items():
        sym_map[i] = sym_map[r]

    # Relocations, a section at a time, in bulk (see relocs.py).  Checks
    # run once per symbol, per (target, lp-obj) and per relocation type;
    # only the site check looks at every relocation.
    new_data: dict[int, bytes] = {}
    klp: dict[tuple[str, int], list[bytes]] = {}
    moves: list[Move] = []
    ctx = _Checked(arch, elf.endian, inter,
                   {i: elf.symbol_name(syms[i], i) for i in inter})
    nsyms = len(syms)
    inter_set = frozenset(inter)
    lp_syms: dict[str, set[int]] = {}
    for i, name in inter.items():
        lp_syms.setdefault(name.lp_obj, set()).add(i)
    for ri in list(elf.rel_sections()):
        sec = sections[ri]
        table = relocs.Table(sec, elf.endian)
        sym_of = table.symbols()
        if table.count and max(sym_of) >= nsyms:
            raise ElfFormatError(f"section '{sec.name}': symbol index "
                                 f"{max(sym_of)} is past the end of the "
                                 "symbol table")
        target = sections[sec.sh_info]
        flags = relocs.flags_of(sym_of, inter_set)
        if 1 not in flags or checks.is_debug_section(target):
            if removed:
                new_data[ri] = table.remapped(sym_map)
            continue
        if sec.sh_type == SHT_REL:
            raise CheckError(
                f"section '{sec.name}' is SHT_REL and references "
                f"'{ctx.names[sym_of[flags.index(1)]]}': livepatch "
                "relocations must be SHT_RELA")
        moved_syms = set(compress(sym_of, flags))
        lp_objs = [lp for lp, members in lp_syms.items()
                   if not members.isdisjoint(moved_syms)]
        ctx.check(target, table, flags, moved_syms, lp_objs)
        data = table.remapped(sym_map) if removed else sec.data
        new_data[ri], out = relocs.split(data, table.entsize, flags)
        if len(lp_objs) == 1:
            klp.setdefault((lp_objs[0], sec.sh_info), []).append(out)
        else:
            for lp in lp_objs:
                mine = relocs.flags_of(sym_of, lp_syms[lp])
                klp.setdefault((lp, sec.sh_info), []).append(
                    relocs.split(data, table.entsize, mine)[1])
        if want_moves:
            offsets, types = table.offsets(), table.types()
            for k in relocs.flagged(flags):
                s = sym_of[k]
                moves.append(Move(target.name, offsets[k],
                                  archmod.type_name(arch, types[k]),
                                  ctx.names[s], inter[s].lp_obj,
                                  inter[s].final))

    # Unreferenced intermediate symbols still get their names checked, and
    # --list shows them: they are converted like the others.
    for i, name in inter.items():
        if i not in ctx.symbols:
            try:
                checks.check_objects(name)
            except CheckError as exc:
                raise CheckError(f"symbol '{ctx.names[i]}': {exc}") from None
            if want_moves:
                moves.append(Move("-", -1, "-", ctx.names[i], name.lp_obj,
                                  name.final))

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
    out_syms: list[bytes] = []
    out_x: list[int] = []
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

    created: list[str] = []
    new_symtab = sec_map[elf.symtab_index]
    # A module converted before (e.g. kpatch-built) may already have the
    # .klp.rela section: add to it rather than create a second one.
    existing_klp = {(s.name, s.sh_info): s for s in kept_sections[1:]
                    if s.sh_type == SHT_RELA and s.sh_flags & SHF_RELA_LIVEPATCH
                    and s.sh_link == new_symtab and s.sh_entsize == RELA_SIZE}
    for (lp_obj, target), entries in klp.items():
        name = klp_rela_name(lp_obj, sections[target].name)
        old = existing_klp.get((name, sec_map[target]))
        if old is not None:
            old.data = bytes(old.data) + b"".join(entries)
            continue
        hdr = (shstr.add(name), SHT_RELA,
               SHF_ALLOC | SHF_INFO_LINK | SHF_RELA_LIVEPATCH, 0, 0, 0,
               new_symtab, sec_map[target], 8, RELA_SIZE)
        new = Section(hdr, b"".join(entries))
        new.name = name
        kept_sections.append(new)
        created.append(name)

    checks.check_section_count(len(kept_sections))
    sections[strtab_index].data = bytes(strtab.buf)
    sections[shstr_index].data = bytes(shstr.buf)
    output = build(elf.endian, elf.ehdr, kept_sections, sec_map[shstr_index])
    nmoved = sum(map(len, chain.from_iterable(klp.values()))) // RELA_SIZE
    warnings = []
    module_lp_objs = {n.lp_obj: ctx.names[i] for i, n in inter.items()
                      if n.module_specific}
    if module_lp_objs:
        from . import lpobjs
        warnings = lpobjs.undeclared(elf, module_lp_objs)
    return Result(output, moves, nmoved, len(inter), len(removed), created,
                  [sections[i].name for i in sorted(drop)], warnings)


class _Checked:
    """The checks of relocations that move, and what passed them already:
    each symbol's objects and each relocation type are checked once per
    module, each lp-obj once per target section; sites every time."""

    def __init__(self, arch: archmod.Arch, endian: str,
                 inter: dict[int, KlpName], names: dict[int, str]) -> None:
        self.arch = arch
        self.endian = endian
        self.inter = inter
        self.names = names
        self.symbols: set[int] = set()
        self.types: set[int] = set()
        self.example = {n.lp_obj: n for n in inter.values()}

    def check(self, target: Section, table: relocs.Table, flags: bytes,
              moved_syms: set[int], lp_objs: list[str]) -> None:
        """Check the relocations of @table flagged in @flags, which are
        about to move; raise CheckError naming the first bad one."""
        sym_of = table.symbols()
        for s in moved_syms - self.symbols:
            try:
                checks.check_objects(self.inter[s])
            except CheckError as exc:
                self._fail(target, table, flags, sym_of.index(s), exc)
        self.symbols |= moved_syms
        for lp in lp_objs:
            try:
                checks.check_target(target, self.example[lp])
            except CheckError as exc:
                k = next(k for k in relocs.flagged(flags)
                         if self.inter[sym_of[k]].lp_obj == lp)
                self._fail(target, table, flags, k, exc)
        types = table.types()
        self._check_late_writes(target, table, flags, types)
        moved_types = set(compress(types, flags))
        for rtype in moved_types - self.types:
            try:
                archmod.check_type(self.arch, rtype)
            except CheckError as exc:
                k = next(k for k in relocs.flagged(flags) if types[k] == rtype)
                self._fail(target, table, flags, k, exc)
        self.types |= moved_types
        offsets = list(compress(table.offsets(), flags))
        moved_types_list = list(compress(types, flags))
        if archmod.sites_fine_in_bulk(self.arch, target.data, offsets,
                                      moved_types_list):
            return
        size = len(target.data)
        bad = archmod.first_site_outside(self.arch, size, offsets,
                                         moved_types_list)
        if bad is not None:
            k = relocs.flagged(flags)[bad]
            try:
                archmod.check_site_inside(self.arch, size, offsets[bad],
                                          types[k])
            except CheckError as exc:
                self._fail(target, table, flags, k, exc)
        if self.arch.site_check is None:
            return
        bad = archmod.first_bad_site(self.arch, target.data, self.endian,
                                     offsets, moved_types_list)
        if bad is not None:
            k = relocs.flagged(flags)[bad]
            try:
                self.arch.site_check(self.arch, target.data, self.endian,
                                     offsets[bad], types[k])
            except CheckError as exc:
                self._fail(target, table, flags, k, exc)

    def _check_late_writes(self, target: Section, table: relocs.Table,
                           flags: bytes, types) -> None:
        """Module-specific relocations the architecture cannot write late
        into @target (ppc64 read-only data)."""
        if not archmod.late_writes_limited(self.arch, target.sh_flags,
                                           target.name):
            return
        sym_of = table.symbols()
        for k in relocs.flagged(flags):
            if not self.inter[sym_of[k]].module_specific:
                continue
            try:
                archmod.check_late_write(self.arch, target.sh_flags,
                                         target.name, types[k])
            except CheckError as exc:
                self._fail(target, table, flags, k, exc)

    def _fail(self, target: Section, table: relocs.Table, flags: bytes,
              k: int, exc: CheckError) -> None:
        raise CheckError(
            f"section '{target.name}' offset {table.offsets()[k]:#x}: "
            f"{archmod.type_name(self.arch, table.types()[k])} against "
            f"'{self.names[table.symbols()[k]]}': {exc}") from None


def _index_map(count: int, removed: set[int]) -> list[int]:
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


def _remap_sec(sec_map: list[int], index: int, what: str) -> int:
    if index >= len(sec_map):
        raise ElfFormatError(f"{what}: section index {index} is out of range")
    new = sec_map[index]
    if new < 0:
        raise KlpError(f"{what} refers to a relocation section that the "
                       "conversion would drop")
    return new


__all__ = ["convert", "weaken", "find_intermediates", "Result", "Move",
           "STB_LOCAL"]
