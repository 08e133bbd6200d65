# SPDX-License-Identifier: GPL-2.0-only
"""--check's rules for the relocation sections of a finished module, as
the loader reads them (kernel/module/main.c apply_relocations(),
kernel/livepatch/core.c klp_apply_section_relocs(), each arch's
apply_relocate_add(); 6.1 to 7.3)."""

from __future__ import annotations

import re

from ..arch import Arch, first_nonzero, first_outside, first_overlap
from ..elf import SHF_ALLOC, Section
from ..names import KLP_RELA_PREFIX, MAX_OBJNAME, byte_length, klp_rela_lp_obj
from . import error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from array import array

    from . import Found

_OBJ_RE = re.compile(r"[A-Za-z0-9_]+\Z")

# Types whose symbol value the kernel does not use: a relocation of these
# against symbol 0 is harmless (NONE; ppc64 TOC, TOCSAVE, ENTRY use r2).
_NO_SYMBOL = {"x86_64": {0}, "s390x": {0}, "arm64": {0, 256},
              "ppc64": {0, 51, 109, 118}}


def named_like_klp(sec: Section) -> str | None:
    if not sec.name.startswith(KLP_RELA_PREFIX):
        return None
    return error(f"section '{sec.name}' is named like a livepatch relocation "
                 f"section but has type {sec.sh_type}")


def livepatch_not_rela(sec: Section) -> str | None:
    return error(f"section '{sec.name}' has SHF_RELA_LIVEPATCH but is not "
                 "SHT_RELA: the kernel would apply its contents as RELA "
                 "entries")


def info_not_section(sec: Section, nsec: int, is_klp: bool) -> str | None:
    where = f"section '{sec.name}'"
    if 0 < sec.sh_info < nsec:
        return None
    if is_klp:
        return error(f"{where}: sh_info {sec.sh_info} is not a section index "
                     "(apply_relocations() skips it; "
                     "klp_apply_section_relocs() would not)")
    return error(f"{where}: sh_info {sec.sh_info} is not a section index: the "
                 "kernel skips it (apply_relocations())")


def link_not_symtab(sec: Section, symtab: int) -> str | None:
    if sec.sh_link == symtab:
        return None
    return error(f"section '{sec.name}': sh_link {sec.sh_link} is not the "
                 f"symbol table (index {symtab}): the kernel applies it "
                 "against the symbol table anyway (apply_relocations())")


def symbol_past_end(sec: Section, sym_of: array[int],
                    nsyms: int) -> str | None:
    if not sym_of or max(sym_of) < nsyms:
        return None
    return error(f"section '{sec.name}': symbol index {max(sym_of)} is past "
                 f"the end of the symbol table ({nsyms} symbols)")


def lost_livepatch_flag(sec: Section) -> str | None:
    """An ordinary relocation section named .klp.rela.*."""
    if not sec.name.startswith(KLP_RELA_PREFIX):
        return None
    return error(f"section '{sec.name}' lost SHF_RELA_LIVEPATCH (a tool "
                 "rewrote it): the kernel applies it when the module loads, "
                 "as ordinary relocations against livepatch symbols, whose "
                 "value is 0")


def symbol_zero(arch: Arch, sec: Section, target: Section,
                sym_of: array[int], types: array[int],
                offsets: array[int]) -> Found:
    """An ordinary relocation against symbol 0 (no symbol)."""
    if 0 not in set(sym_of):
        return None
    quiet = _NO_SYMBOL[arch.name]
    bad = next((k for k, (s, t) in enumerate(zip(sym_of, types))
                if s == 0 and t not in quiet), None)
    if bad is None:
        return None
    return bad, error(
        f"section '{sec.name}': the relocation at offset {offsets[bad]:#x} "
        f"of '{target.name}' refers to symbol 0 (no symbol): the kernel "
        "applies it against address 0 (typically left by binutils' strip "
        "on a section whose relocations were all livepatch ones)")


def livepatch_symbol_used(sec: Section, name: str | None) -> str | None:
    """@name: a livepatch symbol an ordinary relocation refers to."""
    if name is None:
        return None
    return error(f"section '{sec.name}': refers to livepatch symbol "
                 f"'{name}': an ordinary relocation is applied when the "
                 "module loads, with the symbol's value 0")


def site_outside(arch: Arch, sec: Section, target: Section,
                 offsets: list[int], types: list[int]) -> Found:
    size = len(target.data)
    k = first_outside(arch, size, offsets, types)
    if k is None:
        return None
    return k, error(f"section '{sec.name}': the relocation at offset "
                    f"{offsets[k]:#x} reaches past the end of "
                    f"'{target.name}' ({size} bytes)")


def site_nonzero(arch: Arch, sec: Section, target: Section,
                 offsets: list[int], types: list[int]) -> Found:
    if not arch.zero_sites:
        return None
    k = first_nonzero(arch, target.data, offsets, types)
    if k is None:
        return None
    return k, error(f"section '{sec.name}': the bytes at offset "
                    f"{offsets[k]:#x} of '{target.name}' are not zero: the "
                    "kernel refuses to apply the relocation (\"Invalid "
                    "relocation target, existing value is nonzero\")")


def overlap(arch: Arch, first_user: str, target: str, offsets: list[int],
            types: list[int]) -> str | None:
    """x86_64: relocations of one target (in any of its relocation
    sections) that write the same bytes: write_relocate_add() refuses a
    nonzero site, so the second always fails at load."""
    if not arch.zero_sites:
        return None
    pair = first_overlap(arch, offsets, types)
    if pair is None:
        return None
    return error(f"section '{first_user}': the relocations at offsets "
                 f"{offsets[pair[0]]:#x} and {offsets[pair[1]]:#x} of "
                 f"'{target}' write the same bytes: the kernel refuses the "
                 "second (\"Invalid relocation target, existing value is "
                 "nonzero\")")


def klp_object_name(sec: Section) -> str | None:
    """The lp-obj of a .klp.rela section, as the kernel reads it."""
    lp = klp_rela_lp_obj(sec.name)
    if lp and byte_length(lp) <= MAX_OBJNAME and _OBJ_RE.match(lp):
        return None
    return error(f"section '{sec.name}': the kernel cannot read an object "
                 f"name of at most {MAX_OBJNAME} bytes from it "
                 "(\".klp.rela.%55[^.]\", klp_apply_section_relocs())")


def klp_not_alloc(sec: Section) -> str | None:
    if sec.sh_flags & SHF_ALLOC:
        return None
    return error(f"section '{sec.name}' is not SHF_ALLOC: the livepatch core "
                 "reads it after the module's load image is freed")


def klp_target_renamed(sec: Section, lp: str, target: Section) -> str | None:
    if sec.name == f"{KLP_RELA_PREFIX}{lp}.{target.name}":
        return None
    return error(f"section '{sec.name}': sh_info points at '{target.name}', "
                 "not at the section its name ends with (a tool renumbered "
                 "sections without updating it)")


def klp_symbol_not_livepatch(sec: Section, name: str,
                             livepatch: bool) -> str | None:
    if livepatch:
        return None
    return error(f"section '{sec.name}': symbol '{name}' is not marked as a "
                 "livepatch symbol (SHN_LIVEPATCH): the kernel refuses it "
                 "(klp_resolve_symbols())")
