# SPDX-License-Identifier: GPL-2.0-only
"""Rules of the symbol verification (--symbols, --symvers): what the
target kernel would do with each intermediate symbol, and what
Module.symvers says about plain references (symcheck.py applies them)."""

from __future__ import annotations

from ..elf import SHN_UNDEF, ElfFile, Sym
from ..ksyms import (ADDRESS_ZERO, AMBIGUOUS, CLONE_RE, FOUND, PAST_END,
                     VMLINUX, Lookup, ObjectSymbols, Occurrence, klp_find)
from ..names import KLP_SYM_PREFIX, KlpName
from ..symvers import Symvers
from ..usage import CALL, Use, mismatch


def obj_text(obj: str) -> str:
    return VMLINUX if obj == VMLINUX else f"module '{obj}'"


def _error(message: str) -> str:
    """An error message (tests/docs collects the calls of this)."""
    return message


def warning(message: str) -> str:
    """A warning message (tests/docs collects the calls of this)."""
    return message


# -- checks that need no symbols -------------------------------------------

def depends(modinfo: list[bytes]) -> list[str]:
    """The module names of .modinfo's depends= fields."""
    return [dep.replace("-", "_") for field in modinfo
            if field.startswith(b"depends=")
            for dep in field[8:].decode("utf-8", "surrogateescape").split(",")
            if dep]


def check_depends(modinfo: list[bytes], lp_objs: set[str]) -> list[str]:
    """A dependency on a patched module loads it with the patch."""
    out = []
    for mod in depends(modinfo):
        if mod in lp_objs:
            out.append(_error(
                f"'.modinfo' depends= names module '{mod}', which is "
                "also an lp-obj of this patch: loading the patch would "
                f"load '{mod}' first, so the patch could never be "
                f"loaded before '{mod}' (late module patching); modpost "
                f"adds the dependency for every plain reference to a "
                f"symbol that '{mod}' exports: reach those through "
                f"KLP_RELOC_SYMBOL({mod}, {mod}, <symbol>)"))
    return out


def check_depends_declared(modinfo: list[bytes],
                           declared: set[str]) -> list[str]:
    """The same for a module that is no lp-obj but whose name the patch
    has as a string (lpobjs.declared()): probably a klp_object name, so a
    warning only."""
    return [warning(
        f"'.modinfo' depends= names module '{mod}', whose name is a string "
        "of the module's read-only data, where the klp_object names are: if "
        f"the patch patches '{mod}', loading the patch would load '{mod}' "
        "first (late module patching becomes impossible); modpost adds the "
        f"dependency for every plain reference to a symbol that '{mod}' "
        f"exports: reach those through KLP_RELOC_SYMBOL({mod}, {mod}, "
        "<symbol>)") for mod in depends(modinfo) if mod in declared]


def check_plain_refs(elf: ElfFile, syms: list[Sym], symvers: Symvers,
                     lp_objs: set[str]) -> list[str]:
    """Plain undefined references to symbols a patched module exports."""
    out = []
    for i, sym in enumerate(syms):
        if not i or sym.st_shndx != SHN_UNDEF or not sym.st_name:
            continue
        name = elf.symbol_name(sym, i)
        export = symvers.get(name)
        if name.startswith(KLP_SYM_PREFIX) or export is None or \
                export.obj not in lp_objs:
            continue
        mod = export.obj
        out.append(_error(
            f"undefined symbol '{name}' is exported by module '{mod}', "
            f"which this patch patches: a plain reference makes the patch "
            f"depend on '{mod}' (late module patching becomes impossible); "
            f"declare it with KLP_RELOC_SYMBOL({mod}, {mod}, {name}):\n"
            f"  extern <type> {name} KLP_RELOC_SYMBOL({mod}, {mod}, {name});"))
    return out


def check_exported(name: KlpName, symvers: Symvers) -> str | None:
    """A vmlinux symbol that vmlinux exports needs no livepatch
    relocation."""
    export = symvers.get(name.sym)
    if name.sym_obj != VMLINUX or export is None or export.obj != VMLINUX:
        return None
    ns = f", namespace {export.namespace}" if export.namespace else ""
    return warning(f"symbol '{name.sym}' is exported by vmlinux ({export.kind}"
                   f"{ns}, Module.symvers): a plain reference works, "
                   "KLP_RELOC_SYMBOL() is not needed")


# -- lookups ---------------------------------------------------------------

def check_compiler_name(name: KlpName) -> str | None:
    m = CLONE_RE.search(name.sym)
    if m is None:
        return None
    return warning(f"symbol '{name.sym}' is a compiler-made name "
                   f"('{m.group(0).strip('.')}'): another build of "
                   f"{obj_text(name.sym_obj)} may name it differently or not "
                   "have it")


def candidate_lines(occs: list[Occurrence]) -> list[str]:
    out = []
    for n, occ in enumerate(occs, 1):
        file = f"  {occ.file}" if occ.file else ""
        out.append(f"  position {n}: {occ.where} {occ.type} {occ.name}{file}")
    return out


def lookup_error(name: KlpName, syms: ObjectSymbols, look: Lookup,
                 occs: list[Occurrence]) -> list[str]:
    """The message for a lookup the kernel would refuse (not NOT_FOUND)."""
    where = f"{obj_text(name.sym_obj)} ({syms.source})"
    if look.status == AMBIGUOUS:
        head = _error(
            f"symbol '{name.sym}' is ambiguous in {where}: {look.count} "
            "symbols have this name and position 0 requires a unique one; "
            "the kernel would refuse the patch (\"unresolvable ambiguity\");"
            f" give the position of the one you mean with "
            f"KLP_RELOC_SYMBOL_POS({name.lp_obj}, {name.sym_obj}, "
            f"{name.sym}, <position>):")
    elif look.status == ADDRESS_ZERO:
        return [_error(
            f"symbol '{name.sym}' position {name.pos} in {where} is at "
            "address 0, which the kernel takes for \"not found\": it would "
            "refuse the patch")]
    else:
        head = _error(
            f"symbol '{name.sym}' position {name.pos} is past the end: "
            f"{where} has {look.count} symbols of this name; the kernel "
            "would refuse the patch (\"symbol position ... not found\"):")
    return [head] + candidate_lines(occs)


_LOAD_FAILS = {AMBIGUOUS: "an ambiguous name", PAST_END: "too few symbols",
               ADDRESS_ZERO: "address 0"}


def check_load_view(name: KlpName, syms: ObjectSymbols,
                    live: Lookup) -> list[str]:
    """A module patched by this very relocation is looked up while it
    loads when the patch came first: its whole symbol table counts
    then."""
    if not syms.has_load_view or name.lp_obj != name.sym_obj:
        return []
    occs = syms.load_occurrences(name.sym)
    load = klp_find(occs, name.pos)
    if load.status == FOUND and load.occurrence.index == \
            live.occurrence.index:
        return []
    what = (f"{load.occurrence.where} {load.occurrence.type}"
            if load.status == FOUND else _LOAD_FAILS.get(load.status, ""))
    return [_error(
        f"symbol '{name.sym}' position {name.pos} in "
        f"{obj_text(name.sym_obj)} ({syms.source}) depends on when the "
        f"module loads: once it is live the kernel finds "
        f"{live.occurrence.where} {live.occurrence.type}, while it loads "
        f"(the patch loaded first) {what}, because symbols of init and "
        "other sections that the module does not keep count then:")] + \
        candidate_lines(occs)


def not_found_error(name: KlpName, syms: ObjectSymbols,
                    holders: list[str]) -> list[str]:
    lines = [_error(
        f"symbol '{name.sym}' not found in {obj_text(name.sym_obj)} "
        f"({syms.source}): the kernel would refuse the patch (\"symbol "
        f"'{name.sym}' not found in symbol table\")")]
    if syms.has_load_view:
        early = syms.load_occurrences(name.sym)
        if early:
            lines.append(
                f"  {obj_text(name.sym_obj)} has it only while it loads "
                f"(section '{early[0].section}'), not once it is live")
    from ..suggest import close_names    # difflib: only when needed
    close = close_names(name.sym, syms.names_blob())
    close = [c for c in close if syms.has(c)]
    if close:
        lines.append(f"  close names in {obj_text(name.sym_obj)}: "
                     f"{', '.join(close)}")
    others = [obj_text(o) for o in holders if o != name.sym_obj]
    if others:
        lines.append(f"  '{name.sym}' is in {', '.join(others)}: is "
                     "sym-obj right?")
    return lines


def check_uses(name: KlpName, occ: Occurrence, uses: list[Use]) -> str | None:
    """The first relocation that uses the symbol against its type."""
    bad = [u for u in uses if mismatch(u.kind, occ.type)]
    if not bad:
        return None
    u = bad[0]
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    where = f"section '{u.section}' offset {u.offset:#x}: {u.rtype}"
    if u.kind == CALL:
        return warning(f"{where} calls '{name.sym}'{more}, but in "
                       f"{obj_text(name.sym_obj)} it is data (type "
                       f"'{occ.type}'): is the declaration's type right?")
    return warning(f"{where} reads or writes '{name.sym}' as data{more}, but "
                   f"in {obj_text(name.sym_obj)} it is a function (type "
                   f"'{occ.type}'): is the declaration's type right?")


def check_position(name: KlpName, look: Lookup) -> str | None:
    if name.pos == 0 or look.count != 1:
        return None
    return warning(f"symbol '{name.sym}' is unique in "
                   f"{obj_text(name.sym_obj)} but written with position "
                   f"{name.pos}: position 0 "
                   "(KLP_RELOC_SYMBOL()) would also catch a kernel where it "
                   "is no longer unique")
