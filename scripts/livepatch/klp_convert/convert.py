# SPDX-License-Identifier: GPL-2.0-only
"""The conversion: a plan (plan.py), the checks over it (the rules of
checks/), and the rewrite that carries it out (rewrite.py).  Everything
the plan does not name keeps its bytes."""

from __future__ import annotations

from collections import namedtuple
from itertools import compress

from . import arch as archmod
from . import rewrite
from .checks import module as modrules
from .checks import relocations as relrules
from .checks import symbols as symrules
from .elf import RELA_SIZE, STB_WEAK, SYM_SIZE, ElfFile, bind, st_info
from .errors import CheckError, ElfFormatError, UnsupportedError
from .plan import Moving, Plan, edit, find_intermediates, make_plan
from .relocs import flagged

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .checks import Found


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


def weaken(raw: bytes) -> tuple[bytes | None, int]:
    """Mark intermediate symbols weak (before modpost).  Returns the new
    file contents, or None if nothing changes, and the number of symbols."""
    elf = ElfFile(raw)
    found = find_intermediates(elf)
    syms = found.syms
    todo = [i for i in found.inter if bind(syms[i].st_info) != STB_WEAK]
    if not todo:
        return None, len(found.inter)
    out = bytearray(raw)
    base = elf.symtab.sh_offset
    for i in todo:
        out[base + i * SYM_SIZE + 4] = st_info(STB_WEAK, syms[i].st_info)
    return bytes(out), len(found.inter)


def convert(raw: bytes, want_moves: bool = False) -> Result:
    elf = ElfFile(raw)
    found = find_intermediates(elf)
    if not found.inter:
        return Result(None, [], 0, 0, 0, [], [], [])
    problem = modrules.signed(raw) or modrules.not_livepatch(elf.modinfo())
    if problem:
        raise CheckError(problem)
    problem = modrules.machine(elf.machine, elf.endian)
    if problem:
        raise UnsupportedError(problem)
    arch = archmod.ARCHES[elf.machine]
    plan = make_plan(elf, found)
    check(plan, arch)
    ed = edit(plan)
    problem = modrules.section_count(ed.section_count(elf))
    if problem:
        raise CheckError(problem)
    moves = listing(plan, arch) if want_moves else []
    nmoved = sum(len(m.flags) - m.flags.count(0) for m in plan.moving)
    created = [s.name for s in ed.appended]
    dropped = [elf.sections[i].name for i in sorted(ed.drop_sections)]
    output = rewrite.apply(elf, ed)
    return Result(output, moves, nmoved, len(found.inter), len(plan.merged),
                  created, dropped, _warnings(elf, plan))


def _warnings(elf: ElfFile, plan: Plan) -> list[str]:
    found = plan.found
    lp_objs = {n.lp_obj: found.names[i] for i, n in found.inter.items()
               if n.module_specific}
    if not lp_objs:
        return []
    from . import lpobjs
    return lpobjs.undeclared(elf, lp_objs)


# -- the checks over the plan ----------------------------------------------

def check(plan: Plan, arch: archmod.Arch) -> None:
    """Raise the first problem of the plan: relocation sections in index
    order, then the symbols that no relocation uses."""
    nsyms = len(plan.found.syms)
    moving = {m.index: m for m in plan.moving}
    checked = _Checked(plan)
    for ri, table in plan.tables.items():
        problem = relrules.symbol_past_end(table.section, table.symbols(),
                                           nsyms)
        if problem:
            raise ElfFormatError(problem)
        if ri in moving:
            _check_moving(plan, arch, moving[ri], checked)
    for i in plan.unused:
        problem = checked.objects.get(i)
        if problem:
            raise CheckError(f"symbol '{plan.found.names[i]}': {problem}")


class _Checked:
    """The problems of each symbol's objects (the rule runs once per
    symbol), and what passed the checks already: each relocation type is
    checked once per module, each lp-obj once per target section."""

    def __init__(self, plan: Plan) -> None:
        inter = plan.found.inter
        self.objects = {i: p for i, p in zip(inter, map(symrules.objects,
                                                        inter.values())) if p}
        self.types: set[int] = set()
        self.example = {n.lp_obj: n for n in inter.values()}


def _check_moving(plan: Plan, arch: archmod.Arch, m: Moving,
                  checked: _Checked) -> None:
    """The rules for the relocations of @m that move; raise CheckError
    naming the first bad one.  Nothing here works per relocation unless
    a rule found a problem."""
    inter = plan.found.inter
    sym_of = m.table.symbols()
    problem = relrules.rel_not_rela(
        m.section, plan.found.names[sym_of[m.flags.index(1)]])
    if problem:
        raise CheckError(problem)
    if checked.objects:
        bad = m.symbols() & checked.objects.keys()
        if bad:
            s = min(bad)
            _raise_at(plan, arch, m, sym_of.index(s), checked.objects[s])
    for lp in m.lp_objs:
        problem = relrules.target(m.target, checked.example[lp])
        if problem:
            k = next(k for k in flagged(m.flags)
                     if inter[sym_of[k]].lp_obj == lp)
            _raise_at(plan, arch, m, k, problem)
    if relrules.late_writes_limited(arch, m.target):
        _check_late_writes(plan, arch, m)
    types = m.table.types()
    moved = list(compress(types, m.flags))
    moved_types = set(moved)
    for rtype in moved_types - checked.types:
        problem = relrules.rtype(arch, rtype)
        if problem:
            k = next(k for k in flagged(m.flags) if types[k] == rtype)
            _raise_at(plan, arch, m, k, problem)
    checked.types |= moved_types
    _check_sites(plan, arch, m, moved)


def _check_late_writes(plan: Plan, arch: archmod.Arch, m: Moving) -> None:
    """Module-specific relocations the architecture cannot write late
    into the target (ppc64 read-only data)."""
    inter = plan.found.inter
    sym_of, types = m.table.symbols(), m.table.types()
    for k in flagged(m.flags):
        if inter[sym_of[k]].module_specific:
            _raise_at(plan, arch, m, k,
                      relrules.late_write(arch, m.target, types[k]))


def _check_sites(plan: Plan, arch: archmod.Arch, m: Moving,
                 moved_types: list[int]) -> None:
    """Each site rule runs once over all the sites that move (of
    @moved_types).  Where sites must be zero (x86_64), one bulk test
    that they are all inside and zero spares the first two rules their
    passes."""
    offsets = list(compress(m.table.offsets(), m.flags))
    data = m.target.data
    if not (arch.zero_sites and archmod.sites_zero(arch, data, offsets,
                                                   moved_types)):
        _raise_found(plan, arch, m, relrules.site_outside(
            arch, len(data), offsets, moved_types))
        _raise_found(plan, arch, m, relrules.site_nonzero(
            arch, data, offsets, moved_types))
    _raise_found(plan, arch, m, relrules.call_without_nop(
        arch, data, plan.elf.endian, offsets, moved_types))


def _raise_found(plan: Plan, arch: archmod.Arch, m: Moving,
                 found: Found) -> None:
    """Raise the problem a rule found at the n-th relocation that moves."""
    if found is not None:
        _raise_at(plan, arch, m, flagged(m.flags)[found[0]], found[1])


def _raise_at(plan: Plan, arch: archmod.Arch, m: Moving, k: int,
              problem: str | None) -> None:
    """Raise @problem for entry @k of @m, if there is a problem."""
    if problem is None:
        return
    table = m.table
    raise CheckError(
        f"section '{m.target.name}' offset {table.offsets()[k]:#x}: "
        f"{archmod.type_name(arch, table.types()[k])} against "
        f"'{plan.found.names[table.symbols()[k]]}': {problem}")


def listing(plan: Plan, arch: archmod.Arch) -> list[Move]:
    """--list: every relocation that moves, then the intermediate symbols
    that no relocation uses."""
    found = plan.found
    moves: list[Move] = []
    for m in plan.moving:
        sym_of = m.table.symbols()
        offsets, types = m.table.offsets(), m.table.types()
        for k in flagged(m.flags):
            s = sym_of[k]
            moves.append(Move(m.target.name, offsets[k],
                              archmod.type_name(arch, types[k]),
                              found.names[s], found.inter[s].lp_obj,
                              found.inter[s].final))
    for i in plan.unused:
        name = found.inter[i]
        moves.append(Move("-", -1, "-", found.names[i], name.lp_obj,
                          name.final))
    return moves


__all__ = ["convert", "weaken", "find_intermediates", "Result", "Move"]
