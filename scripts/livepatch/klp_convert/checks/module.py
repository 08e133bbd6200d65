# SPDX-License-Identifier: GPL-2.0-only
"""Whole-module rules: signature, .modinfo, machine, section count."""

from __future__ import annotations

from ..arch import ARCHES, BYTE_ORDERS, ORDER_NAMES
from ..elf import SHN_LORESERVE, SHT_NULL, ElfFile
from ..inputs import SIGNATURE_MARKER
from . import error

# The kernel reads e_shnum as is: with extended numbering (65,280 sections
# or more: e_shnum 0, e_shstrndx SHN_XINDEX) elf_validity_check() (6.1),
# elf_validity_cache_secstrings() (6.12, 7.3) refuse e_shstrndx >= e_shnum.
MAX_SECTIONS = SHN_LORESERVE - 1


def signed(raw: bytes) -> str | None:
    """A conversion would invalidate an appended signature."""
    if not raw.endswith(SIGNATURE_MARKER):
        return None
    return error("the module has an appended signature: converting it would "
                 "invalidate the signature; run klp-convert before signing")


def not_livepatch(modinfo: list[bytes]) -> str | None:
    """Intermediate symbols outside a livepatch module."""
    if b"livepatch=Y" in modinfo:
        return None
    return error("'.modinfo' has no livepatch=Y: intermediate klp symbols are "
                 "only resolved in livepatch modules (add "
                 "MODULE_INFO(livepatch, \"Y\"))")


def finished_not_livepatch(modinfo: list[bytes]) -> str | None:
    """--check: livepatch records in a module that is not a livepatch."""
    if b"livepatch=Y" in modinfo:
        return None
    return error("'.modinfo' has no livepatch=Y: the kernel keeps no "
                 "livepatch information for the module (copy_module_elf() "
                 "is only called for livepatch modules), so its "
                 "module-specific livepatch relocations are never applied")


def machine(number: int, endian: str) -> str | None:
    """A machine the kernel's livepatch supports, in a byte order its
    kernel exists in.  A kernel reads the ELF header in its own byte
    order, so a file of the other order shows it a byte-swapped
    e_machine, which elf_check_arch() refuses (elf_validity_check() in
    6.1, elf_validity_ehdr() in 6.12 and 7.3)."""
    arch = ARCHES.get(number)
    if arch is None:
        return error(f"ELF machine {number}: klp-convert supports x86_64, "
                     "ppc64, s390x and arm64")
    native = BYTE_ORDERS.get(number, endian)
    if endian == native:
        return None
    swapped = int.from_bytes(number.to_bytes(2, "little"), "big")
    return error(f"{ORDER_NAMES[endian]} ELF file for {arch.name}, which is "
                 f"{ORDER_NAMES[native]} only: the kernel reads e_machine as "
                 f"{swapped:#06x} and refuses the module (elf_check_arch())")


def section_count(count: int) -> str | None:
    if count <= MAX_SECTIONS:
        return None
    return error(f"the converted module would have {count} sections: the "
                 f"kernel loads at most {MAX_SECTIONS} (no extended section "
                 "numbering: e_shnum 0 is refused with \"Invalid ELF section "
                 "name index\", elf_validity_check())")


def extended_numbering(elf: ElfFile) -> str | None:
    """--check: e_shnum 0."""
    if elf.ehdr.e_shnum:
        return None
    return error(f"{len(elf.sections)} sections in extended numbering "
                 "(e_shnum 0): the kernel refuses it (\"Invalid ELF section "
                 "name index\", elf_validity_check())")


def null_section(elf: ElfFile) -> str | None:
    """--check: section [0]."""
    null = elf.sections[0]
    if null.sh_type == SHT_NULL and not null.sh_addr and \
            not (null.sh_size and elf.ehdr.e_shnum):
        return None
    return error("section [0] is not an empty SHT_NULL section: the kernel "
                 "refuses the module (elf_validity_check())")


def string_table_ends(elf: ElfFile) -> str | None:
    """--check: the symbol string table's first and last byte."""
    strtab = elf.strtab.data
    if strtab[:1] == b"\0" and strtab[-1:] == b"\0":
        return None
    return error(f"section '{elf.strtab.name}': a symbol string table must "
                 "start and end with a NUL byte (the 6.13+ loader refuses "
                 "it, older ones may read past its end)")


def symtab_removed(elf: ElfFile, drop: set[int]) -> str | None:
    """--strip-debug: the symbol table or its strings in a debug section."""
    if elf.symtab_index in drop or elf.symtab.sh_link in drop:
        return error("the symbol table would be removed")
    return None
