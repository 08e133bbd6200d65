# SPDX-License-Identifier: GPL-2.0-only
"""Rules for the relocations that the conversion moves into .klp.rela
sections: their section, symbols, target, type and site; and the
relocations --strip-debug renumbers."""

from __future__ import annotations

from itertools import compress

from .. import targets
from ..arch import (PPC64_REL24, PPC_NOP, Arch, first_nonzero, first_outside,
                    ppc64_call_next)
from ..elf import SHF_ALLOC, SHF_RELA_LIVEPATCH, SHF_WRITE, SHT_REL, Section
from ..names import KlpName
from . import error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from array import array

    from . import Found


def rel_not_rela(sec: Section, symbol: str) -> str | None:
    """@symbol: the first intermediate symbol the section references."""
    if sec.sh_type != SHT_REL:
        return None
    return error(f"section '{sec.name}' is SHT_REL and references "
                 f"'{symbol}': livepatch relocations must be SHT_RELA")


def symbol_past_end(sec: Section, sym_of: array[int],
                    nsyms: int) -> str | None:
    if not sym_of or max(sym_of) < nsyms:
        return None
    return error(f"section '{sec.name}': symbol index {max(sym_of)} is past "
                 "the end of the symbol table")


def target(sec: Section, name: KlpName) -> str | None:
    """The section that a klp relocation of @name would patch (see
    targets.py)."""
    if not sec.sh_flags & SHF_ALLOC:
        return error(f"target section '{sec.name}' is not SHF_ALLOC: the "
                     "kernel silently skips relocations for it")
    skipped = not_applied(sec.name)
    if skipped or not name.module_specific:
        return skipped
    use = targets.load_time_use(sec.name)
    if use is not None:
        return error(
            f"special section '{sec.name}' is used when the patch module "
            f"loads ({use}), before relocations for module '{name.lp_obj}' "
            "are applied: a module symbol cannot be used here (e.g. a module "
            "static key, parameter or exception table entry)")
    if targets.is_init(sec.name):
        return error(
            f"init section '{sec.name}' is freed after the patch module's "
            f"init, before relocations for module '{name.lp_obj}' are "
            "applied")
    return None


def not_applied(name: str) -> str | None:
    """A section whose relocations the kernel never applies where the code
    reads them, whatever the lp-obj."""
    if name in targets.NOT_LOADED:
        return error(
            f"section '{name}' is not loaded (rewrite_section_headers() drops "
            "its SHF_ALLOC before relocations are applied): a vmlinux "
            "relocation is skipped, a late module one would write into the "
            "freed load image")
    if name == targets.PERCPU:
        return error(
            f"section '{name}' is copied to every CPU: layout_and_allocate() "
            "drops its SHF_ALLOC before relocations are applied, so 6.1 and "
            "6.12 skip its relocations (7.x applies vmlinux ones to the "
            "copy's template), and a late module one would write into the "
            "freed load image; keep a pointer in .data instead")
    return None


def rtype(arch: Arch, number: int) -> str | None:
    """A relocation type apply_relocate_add() applies against a symbol
    that the livepatch core resolves."""
    if number in arch.accepted:
        return None
    if number in arch.refused:
        name, why = arch.refused[number]
        return error(f"relocation type {name} cannot be a livepatch "
                     f"relocation on {arch.name}: {why}")
    return error(f"relocation type {number} is not supported by "
                 f"{arch.name}'s apply_relocate_add()")


def late_writes_limited(arch: Arch, sec: Section) -> bool:
    """Whether some late (module-specific) relocations cannot be written
    into @sec: ppc64 writes data relocations with plain stores, and a
    module-specific relocation is written after module_enable_ro() made
    the patch module's text, rodata and (after init)
    .data..ro_after_init read-only (STRICT_MODULE_RWX, default y)."""
    return bool(arch.plain_stores) and not (
        sec.sh_flags & SHF_WRITE and sec.name != targets.RO_AFTER_INIT)


def late_write(arch: Arch, sec: Section, number: int) -> str | None:
    """A late (module-specific) relocation of type @number into @sec."""
    if not late_writes_limited(arch, sec) or number not in arch.plain_stores:
        return None
    return error(
        "ppc64's apply_relocate_add() writes it with a plain store (only "
        "R_PPC64_REL24 goes through patch_instruction()), and a "
        "module-specific relocation is written after module_enable_ro() "
        "made this section read-only: the store faults; put the pointer "
        "in writable data")


def site_outside(arch: Arch, size: int, offsets: list[int],
                 types: list[int]) -> Found:
    """No apply_relocate_add() checks that a site is inside its section:
    it writes at sh_addr + r_offset, over whatever follows."""
    k = first_outside(arch, size, offsets, types)
    if k is None:
        return None
    width = arch.widths.get(types[k], 0)
    return k, error(
        f"the {width} bytes at offset {offsets[k]:#x} reach past the end of "
        f"the section ({size} bytes): apply_relocate_add() would write "
        "beyond it")


def site_nonzero(arch: Arch, data: bytes, offsets: list[int],
                 types: list[int]) -> Found:
    """x86_64's write_relocate_add() refuses a site that is not zero;
    every site is inside (site_outside())."""
    if not arch.zero_sites:
        return None
    k = first_nonzero(arch, data, offsets, types)
    if k is None:
        return None
    width = arch.widths.get(types[k], 0)
    return k, error(
        f"the {width} bytes at offset {offsets[k]:#x} are not zero: the "
        "kernel refuses to apply the relocation (\"Invalid relocation "
        "target, existing value is nonzero\")")


def call_without_nop(arch: Arch, data: bytes, endian: str,
                     offsets: list[int], types: list[int]) -> Found:
    """ppc64: a call through a module stub needs 'bl; nop', whose nop
    restore_r2() replaces to restore r2."""
    if not arch.call_nop:
        return None
    calls = compress(range(len(types)), map(PPC64_REL24.__eq__, types))
    for k in calls:
        offset = offsets[k]
        insn = ppc64_call_next(data, endian, offset)
        if insn is None or insn == PPC_NOP:
            continue
        if insn < 0:
            return k, error(f"call at offset {offset:#x} has no instruction "
                            "after it")
        return k, error(
            f"call at offset {offset:#x} is not followed by a nop (found "
            f"{insn:#010x}): the kernel needs 'bl; nop' to restore r2 after "
            "a call through a module stub; declare the function so the "
            "compiler treats it as external")
    return None


# -- --strip-debug ---------------------------------------------------------

def klp_patches_dropped(sec: Section, target_name: str) -> str | None:
    """A livepatch relocation section whose target, a debug section,
    goes."""
    if not sec.sh_flags & SHF_RELA_LIVEPATCH:
        return None
    return error(f"livepatch relocation section '{sec.name}' patches debug "
                 f"section '{target_name}': the kernel never applies it; the "
                 "module is damaged")


def symbol_dropped(sec: Section, used: set[int],
                   gone: set[int]) -> str | None:
    """A relocation against a symbol defined in a section that goes."""
    lost = used & gone
    if not lost:
        return None
    return error(f"section '{sec.name}' refers to symbol [{min(lost)}], "
                 "which is defined in a debug section")


def signature_dropped(sec: Section, signature: int,
                      gone: set[int]) -> str | None:
    """A group whose signature symbol is defined in a section that goes."""
    if signature not in gone:
        return None
    return error(f"section '{sec.name}': its signature symbol is defined in "
                 "a debug section")
