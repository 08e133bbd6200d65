# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert --check: is a finished module one the kernel loads and
relocates as meant?

A converted module passes through strip, signing, compression and
packaging tools before it reaches a kernel, and binutils' strip rewrites
relocation sections (see Documentation/livepatch/klp-convert.rst, "Strip,
sign, install").  This reads the module as the loader does
(kernel/module/main.c: elf_validity_check(), simplify_symbols(),
apply_relocations(); kernel/livepatch/core.c: klp_apply_section_relocs(),
klp_resolve_symbols(); each arch's apply_relocate_add(); 6.1 to 7.3) and
reports what it would refuse or apply wrongly, naming the section.
"""

from __future__ import annotations

import re
from collections import namedtuple

from . import arch as archmod
from . import checks, lpobjs, relocs
from .elf import (SHF_ALLOC, SHF_RELA_LIVEPATCH, SHN_ABS, SHN_COMMON,
                  SHN_LIVEPATCH, SHN_UNDEF, SHT_NOBITS, SHT_NULL,
                  SHT_REL, SHT_RELA, ElfFile, Section)
from .errors import CheckError, ElfFormatError, UnsupportedError
from .names import (INTERMEDIATE_PREFIX, KLP_RELA_PREFIX, KLP_SYM_PREFIX,
                    MAX_OBJNAME, VMLINUX, KlpName, byte_length, is_final_name)

_KLP_B = KLP_SYM_PREFIX.encode()
_OBJ_RE = re.compile(r"[A-Za-z0-9_]+\Z")

# Types whose symbol value the kernel does not use: a relocation of these
# against symbol 0 is harmless (NONE; ppc64 TOC, TOCSAVE, ENTRY use r2).
_NO_SYMBOL = {"x86_64": {0}, "s390x": {0}, "arm64": {0, 256},
              "ppc64": {0, 51, 109, 118}}


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
        self.arch: archmod.Arch | None = None
        self.syms = self.elf.symbols()
        self.livepatch = {i for i, s in enumerate(self.syms)
                          if s[3] == SHN_LIVEPATCH}
        self.problems: list[str] = []
        self.lp_objs: dict[str, str] = {}
        # x86_64: target -> (offsets, types, relocation sections)
        self.sites: dict[int, tuple[list, list, list]] = {}
        self.klp_sections = self.klp_relocations = 0

    def fail(self, what: str) -> None:
        self.problems.append(what)

    def name(self, index: int) -> str:
        try:
            return self.elf.symbol_name(self.syms[index], index)
        except ElfFormatError:
            return f"[{index}]"


def verify(raw: bytes) -> Report:
    """Check the ELF image @raw (decompressed, without signature)."""
    mod = _Module(raw)
    _check_header(mod)
    _check_symbols(mod)
    for index, sec in enumerate(mod.elf.sections):
        if index:
            _check_section(mod, sec)
    _check_overlaps(mod)
    klp = mod.klp_sections or mod.livepatch
    if klp and b"livepatch=Y" not in mod.elf.modinfo():
        mod.fail("'.modinfo' has no livepatch=Y: the kernel keeps no "
                 "livepatch information for the module (copy_module_elf() "
                 "is only called for livepatch modules), so its "
                 "module-specific livepatch relocations are never applied")
    warnings = lpobjs.undeclared(mod.elf, mod.lp_objs) if klp else []
    return Report(mod.problems, warnings, mod.klp_sections,
                  mod.klp_relocations, len(mod.livepatch))


def _check_overlaps(mod: _Module) -> None:
    """x86_64: relocations of one target (in any of its relocation
    sections, ordinary or livepatch) that write the same bytes."""
    for target, (offsets, types, users) in mod.sites.items():
        pair = archmod.first_overlap(mod.arch, offsets, types)
        if pair is None:
            continue
        name = mod.elf.sections[target].name
        mod.fail(f"section '{users[0]}': the relocations at offsets "
                 f"{offsets[pair[0]]:#x} and {offsets[pair[1]]:#x} of "
                 f"'{name}' write the same bytes: the kernel refuses the "
                 "second (\"Invalid relocation target, existing value is "
                 "nonzero\")")


def _check_header(mod: _Module) -> None:
    elf = mod.elf
    if elf.ehdr[12] == 0:
        mod.fail(f"{len(elf.sections)} sections in extended numbering "
                 "(e_shnum 0): the kernel refuses it (\"Invalid ELF section "
                 "name index\", elf_validity_check())")
    try:
        checks.check_section_count(len(elf.sections))
    except CheckError as exc:
        mod.fail(str(exc))
    try:
        mod.arch = archmod.arch_for(elf.machine, elf.endian)
    except UnsupportedError as exc:
        mod.fail(str(exc))
    null = elf.sections[0]
    if null.sh_type != SHT_NULL or null.sh_addr or (null.sh_size and
                                                     elf.ehdr[12]):
        mod.fail("section [0] is not an empty SHT_NULL section: the kernel "
                 "refuses the module (elf_validity_check())")
    strtab = elf.strtab.data
    if strtab[:1] != b"\0" or strtab[-1:] != b"\0":
        mod.fail(f"section '{elf.strtab.name}': a symbol string table must "
                 "start and end with a NUL byte (the 6.13+ loader refuses "
                 "it, older ones may read past its end)")


def _check_symbols(mod: _Module) -> None:
    nsec = len(mod.elf.sections)
    strtab = mod.elf.strtab.data
    special = (SHN_UNDEF, SHN_ABS, SHN_COMMON, SHN_LIVEPATCH)
    for i, (st_name, _info, _other, shndx, _v, _s) in enumerate(mod.syms):
        if shndx >= nsec and shndx not in special:
            mod.fail(f"symbol '{mod.name(i)}': section index {shndx:#x} is "
                     "invalid for the kernel (\"has an invalid section "
                     "index\", simplify_symbols())")
        elif shndx == SHN_COMMON and i and \
                not strtab.startswith(b"__gnu_lto", st_name):
            mod.fail(f"symbol '{mod.name(i)}' is a common symbol: the kernel "
                     "refuses it (\"please compile with -fno-common\", "
                     "simplify_symbols())")
        if not strtab.startswith(_KLP_B, st_name):
            if shndx == SHN_LIVEPATCH:
                mod.fail(f"symbol '{mod.name(i)}' is SHN_LIVEPATCH but not "
                         "named .klp.sym.<object>.<symbol>,<position>")
            continue
        name = mod.name(i)
        if name.startswith(INTERMEDIATE_PREFIX):
            mod.fail(f"symbol '{name}' is an intermediate klp symbol left "
                     "unconverted: run klp-convert on the module before it "
                     "is installed (weak, it would load as address 0)")
        elif shndx == SHN_LIVEPATCH and not is_final_name(name):
            mod.fail(f"symbol '{name}': the kernel cannot parse the name "
                     "(\".klp.sym.%55[^.].%511[^,],%lu\", "
                     "klp_resolve_symbols())")
        elif shndx == SHN_UNDEF:
            mod.fail(f"symbol '{name}' is undefined but not SHN_LIVEPATCH: "
                     "the loader cannot resolve it (\"Unknown symbol\")")


def _check_section(mod: _Module, sec: Section) -> None:
    is_klp = bool(sec.sh_flags & SHF_RELA_LIVEPATCH)
    if not is_klp and sec.sh_type not in (SHT_REL, SHT_RELA):
        if sec.name.startswith(KLP_RELA_PREFIX):
            mod.fail(f"section '{sec.name}' is named like a livepatch "
                     f"relocation section but has type {sec.sh_type}")
        return
    where = f"section '{sec.name}'"
    if is_klp and sec.sh_type != SHT_RELA:
        mod.fail(f"{where} has SHF_RELA_LIVEPATCH but is not SHT_RELA: the "
                 "kernel would apply its contents as RELA entries")
        return
    nsec = len(mod.elf.sections)
    if not 0 < sec.sh_info < nsec:
        mod.fail(f"{where}: sh_info {sec.sh_info} is not a section index "
                 "(apply_relocations() skips it; klp_apply_section_relocs() "
                 "would not)" if is_klp else
                 f"{where}: sh_info {sec.sh_info} is not a section index: the "
                 "kernel skips it (apply_relocations())")
        return
    if sec.sh_link != mod.elf.symtab_index:
        mod.fail(f"{where}: sh_link {sec.sh_link} is not the symbol table "
                 f"(index {mod.elf.symtab_index}): the kernel applies it "
                 "against the symbol table anyway (apply_relocations())")
    try:
        table = relocs.Table(sec, mod.elf.endian)
    except ElfFormatError as exc:
        mod.fail(str(exc))
        return
    sym_of = table.symbols()
    if table.count and max(sym_of) >= len(mod.syms):
        mod.fail(f"{where}: symbol index {max(sym_of)} is past the end of "
                 f"the symbol table ({len(mod.syms)} symbols)")
        return
    target = mod.elf.sections[sec.sh_info]
    if is_klp:
        _check_klp(mod, sec, target, table)
    elif target.sh_flags & SHF_ALLOC:
        _check_ordinary(mod, sec, target, table)


def _check_ordinary(mod: _Module, sec: Section, target: Section,
                    table: relocs.Table) -> None:
    """A relocation section apply_relocations() applies at load."""
    where = f"section '{sec.name}'"
    if sec.name.startswith(KLP_RELA_PREFIX):
        mod.fail(f"{where} lost SHF_RELA_LIVEPATCH (a tool rewrote it): the "
                 "kernel applies it when the module loads, as ordinary "
                 "relocations against livepatch symbols, whose value is 0")
    sym_of, types = table.symbols(), table.types()
    if 0 in set(sym_of) and mod.arch is not None:
        quiet = _NO_SYMBOL[mod.arch.name]
        bad = next((k for k, (s, t) in enumerate(zip(sym_of, types))
                    if s == 0 and t not in quiet), None)
        if bad is not None:
            mod.fail(f"{where}: the relocation at offset "
                     f"{table.offsets()[bad]:#x} of '{target.name}' refers to "
                     "symbol 0 (no symbol): the kernel applies it against "
                     "address 0 (typically left by binutils' strip on a "
                     "section whose relocations were all livepatch ones)")
    used = set(sym_of) & mod.livepatch
    if used:
        mod.fail(f"{where}: refers to livepatch symbol "
                 f"'{mod.name(min(used))}': an ordinary relocation is "
                 "applied when the module loads, with the symbol's value 0")
    _check_sites(mod, sec, target, table, types)


def _check_sites(mod: _Module, sec: Section, target: Section,
                 table: relocs.Table, types) -> None:
    """Offsets inside the target; x86_64 sites zero."""
    if mod.arch is None or target.sh_type == SHT_NOBITS:
        return
    offsets = table.offsets()
    size = len(target.data)
    bad = archmod.first_site_outside(mod.arch, size, offsets, types)
    if bad is not None:
        mod.fail(f"section '{sec.name}': the relocation at offset "
                 f"{offsets[bad]:#x} reaches past the end of "
                 f"'{target.name}' ({size} bytes)")
        return
    if mod.arch.name != "x86_64":
        return
    sites = mod.sites.setdefault(sec.sh_info, ([], [], []))
    sites[0].extend(offsets)
    sites[1].extend(types)
    sites[2].append(sec.name)
    bad = archmod.first_bad_site(mod.arch, target.data, mod.elf.endian,
                                 list(offsets), list(types))
    if bad is not None:
        mod.fail(f"section '{sec.name}': the bytes at offset "
                 f"{offsets[bad]:#x} of '{target.name}' are not zero: the "
                 "kernel refuses to apply the relocation (\"Invalid "
                 "relocation target, existing value is nonzero\")")


def _check_klp(mod: _Module, sec: Section, target: Section,
               table: relocs.Table) -> None:
    """A livepatch relocation section (klp_apply_section_relocs())."""
    where = f"section '{sec.name}'"
    mod.klp_sections += 1
    mod.klp_relocations += table.count
    lp = sec.name[len(KLP_RELA_PREFIX):].split(".", 1)[0] \
        if sec.name.startswith(KLP_RELA_PREFIX) else ""
    if not lp or byte_length(lp) > MAX_OBJNAME or not _OBJ_RE.match(lp):
        mod.fail(f"{where}: the kernel cannot read an object name of at most "
                 f"{MAX_OBJNAME} bytes from it (\".klp.rela.%55[^.]\", "
                 "klp_apply_section_relocs())")
        return
    mod.lp_objs.setdefault(lp, sec.name)
    if not sec.sh_flags & SHF_ALLOC:
        mod.fail(f"{where} is not SHF_ALLOC: the livepatch core reads it "
                 "after the module's load image is freed")
    if sec.name != f"{KLP_RELA_PREFIX}{lp}.{target.name}":
        mod.fail(f"{where}: sh_info points at '{target.name}', not at the "
                 "section its name ends with (a tool renumbered sections "
                 "without updating it)")
    try:
        checks.check_target(target, KlpName(lp, lp, "", 0))
    except CheckError as exc:
        mod.fail(f"{where}: {exc}")
        return
    sym_of, types = table.symbols(), table.types()
    for s in set(sym_of):
        _check_klp_symbol(mod, where, lp, s)
    _check_klp_types(mod, where, lp, target, table, types)


def _check_klp_symbol(mod: _Module, where: str, lp: str, index: int) -> None:
    name = mod.name(index)
    if index not in mod.livepatch:
        mod.fail(f"{where}: symbol '{name}' is not marked as a livepatch "
                 "symbol (SHN_LIVEPATCH): the kernel refuses it "
                 "(klp_resolve_symbols())")
        return
    if not is_final_name(name):
        return                              # reported with the symbol
    obj = name[len(KLP_SYM_PREFIX):].split(".", 1)[0]
    try:
        checks.check_objects(KlpName(lp, obj, "", 0))
    except CheckError as exc:
        mod.fail(f"{where}: symbol '{name}': {exc}")


def _check_klp_types(mod: _Module, where: str, lp: str, target: Section,
                     table: relocs.Table, types) -> None:
    arch = mod.arch
    if arch is None:
        return
    for rtype in set(types):
        try:
            archmod.check_type(arch, rtype)
            if lp != VMLINUX:
                archmod.check_late_write(arch, target.sh_flags, target.name,
                                         rtype)
        except CheckError as exc:
            k = types.index(rtype)
            mod.fail(f"{where}: offset {table.offsets()[k]:#x}: {exc}")
            return
    _check_sites(mod, table.section, target, table, types)
    if arch.site_check is None or arch.name == "x86_64":
        return
    offsets = table.offsets()
    bad = archmod.first_bad_site(arch, target.data, mod.elf.endian,
                                 list(offsets), list(types))
    if bad is not None:
        try:
            arch.site_check(arch, target.data, mod.elf.endian, offsets[bad],
                            types[bad])
        except CheckError as exc:
            mod.fail(f"{where}: {exc}")
