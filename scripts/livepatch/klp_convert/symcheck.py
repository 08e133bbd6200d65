# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert --symbols, --symvers: checks of a livepatch module against
the target kernel.

Without symbols (always, when there is something to convert):
  - .modinfo depends= must not name a module that is also an lp-obj;
  - with --symvers: no plain undefined reference to a symbol that a
    patched module (an lp-obj) exports.
With --symbols: every intermediate symbol is looked up in every source
that covers its sym-obj, with the kernel's rule (ksyms.klp_find()).
With --symvers: a warning for a vmlinux symbol that vmlinux exports.

verify_module() returns the warnings and, per intermediate symbol, where
it resolves; it raises VerifyError with every problem found.  Each check
is a function of its own that returns its messages.
"""

from __future__ import annotations

from collections import namedtuple

from .convert import find_intermediates
from .elf import SHN_UNDEF, ElfFile, Sym
from .errors import CheckError
from .ksyms import (ADDRESS_ZERO, AMBIGUOUS, CLONE_RE, FOUND, HIDDEN,
                    NOT_FOUND, PAST_END, VMLINUX, Lookup, ObjectSymbols,
                    Occurrence, Sources, klp_find)
from .names import KLP_SYM_PREFIX, KlpName
from .symvers import Symvers
from .usage import CALL, Use, mismatch


class VerifyError(CheckError):
    """Intermediate symbols do not resolve in the target kernel as
    written; the message has one problem per paragraph, and .warnings
    the warnings found on the way."""

    warnings: list[str] = []


class Report(namedtuple("Report", ["warnings", "resolved"])):
    """warnings: list[str]; resolved: dict[str, str], intermediate symbol
    name -> where it resolves (address, or section+offset in a .ko), for
    --list."""

    __slots__ = ()


def obj_text(obj: str) -> str:
    return VMLINUX if obj == VMLINUX else f"module '{obj}'"


def _error(message: str) -> str:
    """An error message (tests/docs collects the calls of this)."""
    return message


def warning(message: str) -> str:
    """A warning message (tests/docs collects the calls of this)."""
    return message


# -- checks that need no symbols -------------------------------------------

def check_depends(modinfo: list[bytes], lp_objs: set[str]) -> list[str]:
    """A dependency on a patched module loads it with the patch."""
    out = []
    for field in modinfo:
        if not field.startswith(b"depends="):
            continue
        for dep in field[8:].decode("utf-8", "surrogateescape").split(","):
            mod = dep.replace("-", "_")
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


def check_plain_refs(elf: ElfFile, syms: list[Sym], symvers: Symvers,
                     lp_objs: set[str]) -> list[str]:
    """Plain undefined references to symbols a patched module exports."""
    out = []
    for i, sym in enumerate(syms):
        if not i or sym[3] != SHN_UNDEF or not sym[0]:
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
    from .suggest import close_names     # difflib: only when needed
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


class _Verifier:
    """Looks every intermediate symbol up in the sources."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.found: list[tuple[int, str]] = []       # (order, message)
        self.warnings: list[str] = []
        self.resolved: dict[str, str] = {}
        self.missing: list[tuple[int, KlpName, ObjectSymbols]] = []
        self.count = 0

    def prefetch(self, names: list[KlpName]) -> None:
        by_obj: dict[str, set[str]] = {}
        for n in names:
            by_obj.setdefault(n.sym_obj, set()).add(n.sym)
        for obj, wanted in by_obj.items():
            for syms in self.sources.covering(obj):
                syms.prefetch(wanted)

    @property
    def problems(self) -> list[str]:
        """Every error, in the order of the symbols."""
        return [text for _order, text in sorted(self.found,
                                                key=lambda p: p[0])]

    def symbol(self, full: str, name: KlpName, uses: list[Use]) -> None:
        order = self.count = self.count + 1
        covering = self.sources.covering(name.sym_obj)
        if not covering:
            self.warnings.append(warning(
                f"symbol '{name.sym}' not verified: no --symbols source "
                f"covers {obj_text(name.sym_obj)}"))
            return
        for syms in covering:
            occs = syms.occurrences(name.sym)
            look = klp_find(occs, name.pos)
            if look.status == NOT_FOUND:
                self.missing.append((order, name, syms))
                continue
            if look.status != FOUND:
                self.found.append((order, "\n".join(
                    lookup_error(name, syms, look, occs))))
                continue
            early = check_load_view(name, syms, look)
            if early:
                self.found.append((order, "\n".join(early)))
            if self.resolved.get(full, HIDDEN) == HIDDEN:
                self.resolved[full] = look.occurrence.where
            for w in (check_position(name, look),
                      check_uses(name, look.occurrence, uses)):
                if w and w not in self.warnings:
                    self.warnings.append(w)
        w = check_compiler_name(name)
        if w and w not in self.warnings:
            self.warnings.append(w)

    def finish(self) -> None:
        """The not-found errors, with the objects that do have the names
        (one search for all of them)."""
        if not self.missing:
            return
        holders = self.sources.holders({n.sym for _o, n, _s in self.missing})
        for order, name, syms in self.missing:
            self.found.append((order, "\n".join(
                not_found_error(name, syms, holders[name.sym]))))


def verify_symbols(elf: ElfFile, inter: dict[int, KlpName],
                   syms: list[Sym], sources: Sources) -> _Verifier:
    """Look every intermediate symbol up, once per distinct name, in the
    order of first use."""
    from .usage import relocation_uses
    v = _Verifier(sources)
    v.prefetch(list(inter.values()))
    by_name: dict[KlpName, list[Use]] = {}
    for i, used in relocation_uses(elf, set(inter)).items():
        by_name.setdefault(inter[i], []).extend(used)
    first: dict[KlpName, str] = {}
    for i, name in inter.items():
        first.setdefault(name, elf.symbol_name(syms[i], i))
    for name, uses in by_name.items():
        v.symbol(first[name], name, uses)
    v.finish()
    # every spelling of a name resolves where its first one does
    v.resolved = {elf.symbol_name(syms[i], i): v.resolved[first[n]]
                  for i, n in inter.items() if first[n] in v.resolved}
    return v


def verify_module(raw: bytes, sources: Sources | None,
                  symvers: Symvers | None) -> Report:
    """All checks of this module; raise VerifyError listing every
    problem (its .warnings has the warnings found on the way)."""
    elf = ElfFile(raw)
    inter, _existing, syms = find_intermediates(elf)
    if not inter:
        return Report([], {})
    lp_objs = {n.lp_obj for n in inter.values() if n.module_specific}
    problems = check_depends(elf.modinfo(), lp_objs)
    warnings: list[str] = []
    resolved: dict[str, str] = {}
    if symvers is not None:
        problems = check_plain_refs(elf, syms, symvers, lp_objs) + problems
        warnings += [w for w in map(lambda n: check_exported(n, symvers),
                                    dict.fromkeys(inter.values())) if w]
    if sources is not None:
        v = verify_symbols(elf, inter, syms, sources)
        problems += v.problems
        warnings += v.warnings
        resolved = v.resolved
    warnings = list(dict.fromkeys(warnings))
    if problems:
        exc = VerifyError("\n".join(dict.fromkeys(problems)))
        exc.warnings = warnings
        raise exc
    return Report(warnings, resolved)
