# SPDX-License-Identifier: GPL-2.0-only
"""The conversion plan: what moves where.

1. Find the intermediate symbols (.klp.sym.rela.<lp-obj>.<sym-obj>.<sym>,<pos>,
   undefined) and validate them.
2. Every relocation against one of them moves from its .rela<sec> into
   .klp.rela.<lp-obj>.<sec>; relocations in debug sections stay where
   they are (the kernel never applies relocations to sections that are
   not SHF_ALLOC, and a .klp.rela section for such a target would be
   silently skipped: keeping them preserves the debug information's link
   to the symbol for tools that read the .ko).
3. The symbols are renamed to .klp.sym.<sym-obj>.<sym>,<pos>, SHN_LIVEPATCH,
   GLOBAL; intermediate names with the same final name share one symbol.
4. Relocation sections left empty go; the .klp.rela sections are added
   (or extended, when a module converted before already has one).

A Plan holds 1 and 2, for the checks (convert.py) and for edit(), which
turns it into the rewrite.Edit of 3 and 4.  Relocation entries are found
and split in bulk (relocs.py).
"""

from __future__ import annotations

from itertools import compress

from . import relocs
from .checks import symbols as symrules
from .elf import (RELA_SIZE, SHF_ALLOC, SHF_INFO_LINK, SHF_RELA_LIVEPATCH,
                  SHN_LIVEPATCH, SHT_RELA, STB_GLOBAL, STT_NOTYPE, ElfFile,
                  Section, Sym, debug_section, new_sym, st_info)
from .errors import SymbolNameError
from .names import (INTERMEDIATE_PREFIX, KLP_SYM_PREFIX, KlpName,
                    klp_rela_name, parse_intermediate)
from .rewrite import Edit, NewSection

_KLP_PREFIX_B = KLP_SYM_PREFIX.encode()


class Intermediates:
    """The klp symbols of a module.

    syms: the symbol table
    inter: intermediate symbol index -> its name, taken apart
    names: intermediate symbol index -> its name
    existing: name -> index of the first SHN_LIVEPATCH symbol of that name
    """

    __slots__ = ("syms", "inter", "names", "existing")

    def __init__(self, syms: list[Sym]) -> None:
        self.syms = syms
        self.inter: dict[int, KlpName] = {}
        self.names: dict[int, str] = {}
        self.existing: dict[str, int] = {}


def find_intermediates(elf: ElfFile) -> Intermediates:
    """The module's klp symbols; SymbolNameError for the first one that
    cannot be converted."""
    found = Intermediates(elf.symbols())
    strtab = elf.strtab.data
    objtool: bool | None = None
    for i, sym in enumerate(found.syms):
        if not strtab.startswith(_KLP_PREFIX_B, sym.st_name):
            continue
        name = elf.symbol_name(sym, i)
        if sym.st_shndx == SHN_LIVEPATCH:
            found.existing.setdefault(name, i)
            continue
        if not name.startswith(INTERMEDIATE_PREFIX):
            if objtool is None:
                objtool = any(s.name.startswith(
                    symrules.OBJTOOL_RELOCS_PREFIX) for s in elf.sections)
            problem = symrules.unresolvable(name, sym, objtool)
            if problem:
                raise SymbolNameError(problem)
            continue
        problem = symrules.defined_intermediate(name, sym) or \
            symrules.local_intermediate(name, sym)
        if problem:
            raise SymbolNameError(problem)
        found.inter[i] = parse_intermediate(name)
        found.names[i] = name
    return found


class Moving:
    """The relocations of one relocation section that move.

    index, section: the relocation section; target: the section it
    applies to; table: its entries; flags: one byte per entry, 1 for
    those that move; lp_objs: the lp-objs of the intermediate symbols
    they use, in the order of the symbols; kept: the entries that stay;
    out: lp-obj -> the entries that move into its .klp.rela section.

    The set of symbols used is not kept: a module has thousands of
    sections, and a set of a hundred symbols per section is most of the
    memory of a conversion (page faults cost more than building it again
    when a rule needs it: symbols()).
    """

    __slots__ = ("index", "section", "target", "table", "flags", "lp_objs",
                 "kept", "out")

    def __init__(self, index: int, section: Section, target: Section,
                 table: relocs.Table, flags: bytes) -> None:
        self.index = index
        self.section = section
        self.target = target
        self.table = table
        self.flags = flags
        self.lp_objs: list[str] = []
        self.kept = b""
        self.out: dict[str, bytes] = {}

    def symbols(self) -> set[int]:
        """The intermediate symbols of the entries that move."""
        return set(compress(self.table.symbols(), self.flags))


class Plan:
    """What the conversion does to a module.

    elf, found: the module and its klp symbols
    tables: every relocation table, by section index
    moving: the relocation sections whose entries move, in index order
    merged: intermediate symbol index -> the symbol that replaces it
        (the first of the same final name)
    """

    __slots__ = ("elf", "found", "tables", "moving", "merged", "used")

    def __init__(self, elf: ElfFile, found: Intermediates) -> None:
        self.elf = elf
        self.found = found
        self.tables: dict[int, relocs.Table] = {}
        self.moving: list[Moving] = []
        self.merged: dict[int, int] = {}
        self.used: set[int] = set()

    @property
    def unused(self) -> list[int]:
        """Intermediate symbols that no moving relocation uses."""
        return [i for i in self.found.inter if i not in self.used]


def make_plan(elf: ElfFile, found: Intermediates) -> Plan:
    plan = Plan(elf, found)
    first = dict(found.existing)
    for i, name in found.inter.items():
        rep = first.setdefault(name.final, i)
        if rep != i:
            plan.merged[i] = rep
    inter = frozenset(found.inter)
    lp_syms: dict[str, set[int]] = {}
    for i, name in found.inter.items():
        lp_syms.setdefault(name.lp_obj, set()).add(i)
    for ri in list(elf.rel_sections()):
        sec = elf.sections[ri]
        table = plan.tables[ri] = relocs.Table(sec, elf.endian)
        target = elf.sections[sec.sh_info]
        flags = relocs.flags_of(table.symbols(), inter)
        if 1 in flags and not debug_section(target):
            plan.moving.append(_moving(ri, sec, target, table, flags,
                                       lp_syms, plan.used))
    return plan


def _moving(ri: int, sec: Section, target: Section, table: relocs.Table,
            flags: bytes, lp_syms: dict[str, set[int]],
            used: set[int]) -> Moving:
    """The entries of @table that move; the symbols they use are added
    to @used."""
    m = Moving(ri, sec, target, table, flags)
    sym_of = table.symbols()
    if len(lp_syms) == 1:               # the usual case: one lp-obj
        used.update(compress(sym_of, flags))
        m.lp_objs = list(lp_syms)
    else:
        symbols = m.symbols()
        used |= symbols
        m.lp_objs = [lp for lp, members in lp_syms.items()
                     if not members.isdisjoint(symbols)]
    m.kept, out = relocs.split(sec.data, table.entsize, flags)
    if len(m.lp_objs) == 1:
        m.out[m.lp_objs[0]] = out
    else:
        for lp in m.lp_objs:
            mine = relocs.flags_of(sym_of, lp_syms[lp])
            m.out[lp] = relocs.split(sec.data, table.entsize, mine)[1]
    return m


def edit(plan: Plan) -> Edit:
    """The rewrite that carries the plan out."""
    ed = Edit()
    found = plan.found
    ed.drop_symbols = dict(plan.merged)
    info = st_info(STB_GLOBAL, STT_NOTYPE)
    for i, name in found.inter.items():
        if i not in plan.merged:
            ed.symbols[i] = (name.final, new_sym(
                (0, info, found.syms[i].st_other, SHN_LIVEPATCH, 0, 0)))
    referenced = {s.st_shndx for s in found.syms}
    for m in plan.moving:
        ed.data[m.index] = m.kept
        if not m.kept and m.section.sh_size and m.index not in referenced:
            ed.drop_sections.add(m.index)
    _klp_sections(plan, ed)
    return ed


def _klp_sections(plan: Plan, ed: Edit) -> None:
    """Append the moving entries to the .klp.rela section of their lp-obj
    and target: one the module has (converted before, e.g. kpatch-built),
    or a new one."""
    elf = plan.elf
    entries: dict[tuple[str, int], list[bytes]] = {}
    for m in plan.moving:
        for lp in m.lp_objs:
            entries.setdefault((lp, m.section.sh_info), []).append(m.out[lp])
    existing = {(s.name, s.sh_info): i for i, s in enumerate(elf.sections)
                if i and i not in ed.drop_sections and s.sh_type == SHT_RELA
                and s.sh_flags & SHF_RELA_LIVEPATCH
                and s.sh_link == elf.symtab_index
                and s.sh_entsize == RELA_SIZE}
    for (lp, target), pieces in entries.items():
        name = klp_rela_name(lp, elf.sections[target].name)
        old = existing.get((name, target))
        if old is not None:
            ed.data[old] = ed.data.get(old, elf.sections[old].data) + \
                b"".join(pieces)
            continue
        ed.appended.append(NewSection(
            name, SHT_RELA, SHF_ALLOC | SHF_INFO_LINK | SHF_RELA_LIVEPATCH,
            b"".join(pieces), 8, RELA_SIZE, target))
