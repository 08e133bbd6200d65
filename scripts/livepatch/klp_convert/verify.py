# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert --check: is a finished module one the kernel loads and
relocates as meant?

A converted module passes through strip, signing, compression and
packaging tools before it reaches a kernel, and binutils' strip rewrites
relocation sections (see Documentation/livepatch/klp-convert.rst, "Strip,
sign, install").  This reads the module as the loader does
(kernel/module/main.c: elf_validity_check(), simplify_symbols(),
apply_relocations(); kernel/livepatch/core.c: klp_apply_section_relocs(),
klp_resolve_symbols(); each arch's apply_relocate_add(); 6.1 to 7.3),
applies the rules of checks/ and reports every problem, naming the
section.
"""

from __future__ import annotations

from collections import namedtuple

from . import arch as archmod
from . import lpobjs, relocs
from .checks import finished as finrules
from .checks import module as modrules
from .checks import relocations as relrules
from .checks import symbols as symrules
from .elf import (SHF_ALLOC, SHF_RELA_LIVEPATCH, SHN_LIVEPATCH, SHT_NOBITS,
                  SHT_REL, SHT_RELA, ElfFile, Section)
from .errors import ElfFormatError
from .names import KLP_SYM_PREFIX, VMLINUX, KlpName, klp_rela_lp_obj, \
    parse_final_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .checks import Found

_KLP_B = KLP_SYM_PREFIX.encode()


class Report(namedtuple("Report", ["problems", "warnings", "klp_sections",
                                   "klp_relocations", "klp_symbols"])):
    """problems: list[str]: what the kernel would refuse or misapply
    warnings: list[str]: accepted, probably not meant (errors.warning())
    klp_sections, klp_relocations, klp_symbols: int: livepatch content"""

    __slots__ = ()


class _Module:
    """The module being checked and what is found so far."""

    def __init__(self, raw: bytes) -> None:
        self.elf = ElfFile(raw)
        self.arch: archmod.Arch | None = archmod.ARCHES.get(self.elf.machine)
        self.syms = self.elf.symbols()
        self.livepatch = {i for i, s in enumerate(self.syms)
                          if s.st_shndx == SHN_LIVEPATCH}
        self.problems: list[str] = []
        self.lp_objs: dict[str, str] = {}
        # x86_64: target -> (offsets, types, relocation sections)
        self.sites: dict[int, tuple[list[int], list[int], list[str]]] = {}
        self.klp_sections = self.klp_relocations = 0

    def report(self, *problems: str | None) -> bool:
        """Collect the problems that are there; True if there was one."""
        found = [p for p in problems if p]
        self.problems += found
        return bool(found)

    def report_found(self, found: Found) -> bool:
        return self.report(found[1] if found else None)

    def name(self, index: int) -> str:
        try:
            return self.elf.symbol_name(self.syms[index], index)
        except ElfFormatError:
            return f"[{index}]"


def verify(raw: bytes) -> Report:
    """Check the ELF image @raw (decompressed, without signature)."""
    mod = _Module(raw)
    elf = mod.elf
    mod.report(modrules.extended_numbering(elf),
               modrules.section_count(len(elf.sections)))
    if mod.report(modrules.machine(elf.machine, elf.endian)):
        mod.arch = None
    mod.report(modrules.null_section(elf), modrules.string_table_ends(elf))
    _check_symbols(mod)
    for index, sec in enumerate(elf.sections):
        if index:
            _check_section(mod, sec)
    if mod.arch is not None:
        for target, (offsets, types, users) in mod.sites.items():
            mod.report(finrules.overlap(mod.arch, users[0],
                                        elf.sections[target].name, offsets,
                                        types))
    klp = mod.klp_sections or mod.livepatch
    if klp:
        mod.report(modrules.finished_not_livepatch(elf.modinfo()))
    warnings = lpobjs.undeclared(elf, mod.lp_objs) if klp else []
    return Report(mod.problems, warnings, mod.klp_sections,
                  mod.klp_relocations, len(mod.livepatch))


def _check_symbols(mod: _Module) -> None:
    nsec = len(mod.elf.sections)
    strtab = mod.elf.strtab.data
    for i, sym in enumerate(mod.syms):
        if not mod.report(symrules.invalid_section(mod.name(i), sym, nsec)) \
                and i:
            mod.report(symrules.common(
                mod.name(i), sym, strtab.startswith(b"__gnu_lto",
                                                    sym.st_name)))
        if not strtab.startswith(_KLP_B, sym.st_name):
            mod.report(symrules.misnamed_livepatch(mod.name(i), sym))
        else:
            mod.report(symrules.finished_klp_symbol(mod.name(i), sym))


def _check_section(mod: _Module, sec: Section) -> None:
    is_klp = bool(sec.sh_flags & SHF_RELA_LIVEPATCH)
    if not is_klp and sec.sh_type not in (SHT_REL, SHT_RELA):
        mod.report(finrules.named_like_klp(sec))
        return
    if is_klp and sec.sh_type != SHT_RELA:
        mod.report(finrules.livepatch_not_rela(sec))
        return
    elf = mod.elf
    if mod.report(finrules.info_not_section(sec, len(elf.sections), is_klp)):
        return
    mod.report(finrules.link_not_symtab(sec, elf.symtab_index))
    try:
        table = relocs.Table(sec, elf.endian)
    except ElfFormatError as exc:
        mod.report(str(exc))
        return
    if mod.report(finrules.symbol_past_end(sec, table.symbols(),
                                           len(mod.syms))):
        return
    target = elf.sections[sec.sh_info]
    if is_klp:
        _check_klp(mod, sec, target, table)
    elif target.sh_flags & SHF_ALLOC:
        _check_ordinary(mod, sec, target, table)


def _check_ordinary(mod: _Module, sec: Section, target: Section,
                    table: relocs.Table) -> None:
    """A relocation section apply_relocations() applies at load."""
    mod.report(finrules.lost_livepatch_flag(sec))
    sym_of, types = table.symbols(), table.types()
    if mod.arch is not None:
        mod.report_found(finrules.symbol_zero(mod.arch, sec, target, sym_of,
                                              types, table.offsets()))
    used = set(sym_of) & mod.livepatch
    mod.report(finrules.livepatch_symbol_used(
        sec, mod.name(min(used)) if used else None))
    _check_sites(mod, sec, target, table)


def _check_sites(mod: _Module, sec: Section, target: Section,
                 table: relocs.Table) -> None:
    """Offsets inside the target; x86_64 sites zero."""
    arch = mod.arch
    if arch is None or target.sh_type == SHT_NOBITS:
        return
    offsets, types = list(table.offsets()), list(table.types())
    if mod.report_found(finrules.site_outside(arch, sec, target, offsets,
                                              types)):
        return
    if not arch.zero_sites:
        return
    sites = mod.sites.setdefault(sec.sh_info, ([], [], []))
    sites[0].extend(offsets)
    sites[1].extend(types)
    sites[2].append(sec.name)
    mod.report_found(finrules.site_nonzero(arch, sec, target, offsets,
                                           types))


def _check_klp(mod: _Module, sec: Section, target: Section,
               table: relocs.Table) -> None:
    """A livepatch relocation section (klp_apply_section_relocs())."""
    mod.klp_sections += 1
    mod.klp_relocations += table.count
    if mod.report(finrules.klp_object_name(sec)):
        return
    lp = klp_rela_lp_obj(sec.name)
    mod.lp_objs.setdefault(lp, sec.name)
    mod.report(finrules.klp_not_alloc(sec),
               finrules.klp_target_renamed(sec, lp, target))
    problem = relrules.target(target, KlpName(lp, lp, "", 0))
    if mod.report(f"section '{sec.name}': {problem}" if problem else None):
        return
    for s in set(table.symbols()):
        _check_klp_symbol(mod, sec, lp, s)
    _check_klp_types(mod, sec, lp, target, table)


def _check_klp_symbol(mod: _Module, sec: Section, lp: str,
                      index: int) -> None:
    name = mod.name(index)
    if mod.report(finrules.klp_symbol_not_livepatch(
            sec, name, index in mod.livepatch)):
        return
    final = parse_final_name(name)
    if final is None:
        return                              # reported with the symbol
    obj = final[0]
    problem = symrules.objects(KlpName(lp, obj, "", 0))
    mod.report(f"section '{sec.name}': symbol '{name}': {problem}"
               if problem else None)


def _check_klp_types(mod: _Module, sec: Section, lp: str, target: Section,
                     table: relocs.Table) -> None:
    arch = mod.arch
    if arch is None:
        return
    types = table.types()
    for rtype in set(types):
        problem = relrules.rtype(arch, rtype) or (
            relrules.late_write(arch, target, rtype) if lp != VMLINUX
            else None)
        if problem:
            offset = table.offsets()[types.index(rtype)]
            mod.report(f"section '{sec.name}': offset {offset:#x}: {problem}")
            return
    _check_sites(mod, sec, target, table)
    offsets = list(table.offsets())
    found = relrules.call_without_nop(arch, target.data, mod.elf.endian,
                                      offsets, list(types))
    mod.report(f"section '{sec.name}': {found[1]}" if found else None)
