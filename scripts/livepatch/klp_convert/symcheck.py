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
it resolves; it raises VerifyError with every problem found.
verify_finished() does the same for the livepatch symbols of a converted
module (--check).  Each check is a function of its own that returns its
messages (checks/kernel.py).
"""

from __future__ import annotations

from collections import namedtuple

from . import relocs
from .checks.kernel import (check_compiler_name, check_depends,
                            check_depends_declared, check_exported,
                            check_load_view, check_plain_refs, check_position,
                            check_uses, depends, lookup_error,
                            not_found_error, obj_text, warning)
from .elf import SHF_RELA_LIVEPATCH, SHN_LIVEPATCH, ElfFile, Sym
from .errors import CheckError
from .ksyms import FOUND, HIDDEN, NOT_FOUND, ObjectSymbols, Sources, klp_find
from .names import KlpName, klp_rela_lp_obj, parse_final_name
from .plan import find_intermediates
from .symvers import Symvers
from .usage import Use


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


def open_targets(symbols: list[str], symvers: list[str]
                 ) -> tuple[Sources | None, Symvers | None]:
    """The --symbols sources and the --symvers tables, if any."""
    sources = table = None
    if symbols:
        from .ksyms_open import open_sources
        sources = open_sources(symbols)
    if symvers:
        table = Symvers.read(symvers)
    return sources, table


def verify_module(raw: bytes, sources: Sources | None,
                  symvers: Symvers | None) -> Report:
    """All checks of this module's intermediate symbols; raise
    VerifyError listing every problem (its .warnings has the warnings
    found on the way)."""
    elf = ElfFile(raw)
    found = find_intermediates(elf)
    return _verify(elf, found.inter, found.syms, sources, symvers)


def verify_finished(raw: bytes, sources: Sources | None,
                    symvers: Symvers | None) -> Report:
    """The same checks of a converted module (klp-convert --check with
    --symbols or --symvers): its livepatch symbols
    .klp.sym.<sym-obj>.<sym>,<pos>, each with the lp-obj of the first
    .klp.rela section that uses it.  Names that do not parse are
    verify.py's to report."""
    elf = ElfFile(raw)
    syms = elf.symbols()
    return _verify(elf, finished_names(elf, syms), syms, sources, symvers)


def finished_names(elf: ElfFile, syms: list[Sym]) -> dict[int, KlpName]:
    """Symbol index -> KlpName for the livepatch symbols of a converted
    module."""
    lp_of: dict[int, str] = {}
    for ri in elf.rel_sections():
        sec = elf.sections[ri]
        lp = klp_rela_lp_obj(sec.name)
        if not sec.sh_flags & SHF_RELA_LIVEPATCH or not lp:
            continue
        for i in set(relocs.Table(sec, elf.endian).symbols()):
            lp_of.setdefault(i, lp)
    out: dict[int, KlpName] = {}
    for i, sym in enumerate(syms):
        if sym.st_shndx != SHN_LIVEPATCH:
            continue
        final = parse_final_name(elf.symbol_name(sym, i))
        if final is not None:
            obj, name, pos = final
            out[i] = KlpName(lp_of.get(i, obj), obj, name, pos)
    return out


def _verify(elf: ElfFile, inter: dict[int, KlpName], syms: list[Sym],
            sources: Sources | None, symvers: Symvers | None) -> Report:
    if not inter:
        return Report([], {})
    lp_objs = {n.lp_obj for n in inter.values() if n.module_specific}
    modinfo = elf.modinfo()
    problems = check_depends(modinfo, lp_objs)
    others = set(depends(modinfo)) - lp_objs
    warnings: list[str] = []
    if others:
        from .lpobjs import declared
        warnings = check_depends_declared(modinfo, declared(elf, others))
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
