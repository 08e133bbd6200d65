# SPDX-License-Identifier: GPL-2.0-only
"""Per-architecture rules for livepatch relocations.

Each table lists the relocation types that the architecture's
apply_relocate_add() (arch/*/kernel/module*.c, Linux 6.1) applies and that
make sense against a symbol the livepatch core resolves at run time.
Anything else is refused at build time, because the kernel would refuse it
at load time or, worse, apply it wrongly.
"""

from __future__ import annotations

import operator
import struct
from collections import namedtuple
from itertools import compress, repeat

from .elf import SHF_WRITE
from .errors import CheckError, UnsupportedError

EM_PPC64 = 21
EM_S390 = 22
EM_X86_64 = 62
EM_AARCH64 = 183

PPC_NOP = 0x60000000


class Arch(namedtuple("Arch", ["name", "accepted", "refused", "site_check",
                               "names", "widths"])):
    """An architecture's rules (collections.namedtuple: typing costs
    3 ms of start-up).

    name: str
    accepted: dict[int, str]: klp relocation types accepted, number -> name
    refused: dict[int, tuple[str, str]]: types refused with a specific
        explanation, number -> (name, why)
    site_check: Callable[[Arch, bytes, str, int, int], None] | None: extra
        check of one relocation site (data, endian, offset, type)
    names: dict[int, str]: all known type names, for listings
    widths: dict[int, int]: bytes that apply_relocate_add() reads or
        writes at the site, per accepted type (0: none)
    """

    __slots__ = ()


def _x86_site(arch: Arch, data: bytes, endian: str, offset: int,
              rtype: int) -> None:
    width = _X86_WIDTH.get(rtype, 0)       # inside: first_site_outside()
    if any(data[offset:offset + width]):
        raise CheckError(
            f"the {width} bytes at offset {offset:#x} are not zero: the kernel "
            "refuses to apply the relocation (\"Invalid relocation target, "
            "existing value is nonzero\")")


def sites_fine_in_bulk(arch: Arch, data: bytes, offsets: list[int],
                       types: list[int]) -> bool:
    """True if every site is known to be inside @data and acceptable from
    one bulk test (x86_64: inside and zero, at C speed); False sends the
    caller to the checks that name the first bad site."""
    return arch.site_check is _x86_site and _x86_sites_zero(data, offsets,
                                                            types)


def first_overlap(arch: Arch, offsets, types) -> tuple[int, int] | None:
    """x86_64: indices (k, j) of two relocations whose sites overlap, or
    None.  write_relocate_add() refuses a nonzero site, so of two
    relocations writing the same bytes the second always fails at load
    ("Invalid relocation target, existing value is nonzero").  Sorting
    and comparing run at C speed; still, --check runs it, the conversion
    does not (a few percent of its time for sites only hand-written
    .reloc directives can make overlap)."""
    if arch.site_check is not _x86_site or len(offsets) < 2:
        return None
    # ld -r keeps a section's relocations in offset order: when the
    # smallest step between them is at least the widest site, none overlap
    widest = max(map(_X86_WIDTH.get, set(types), repeat(0)))
    if min(map(operator.sub, offsets[1:], offsets)) >= widest:
        return None
    order = sorted(range(len(offsets)), key=offsets.__getitem__)
    starts = list(map(offsets.__getitem__, order))
    ends = [o + w for o, w in zip(starts, map(_X86_WIDTH.get,
                                             map(types.__getitem__, order),
                                             repeat(0)))]
    if all(map(operator.le, ends, starts[1:])):
        return None
    k = next(n for n, (e, s) in enumerate(zip(ends, starts[1:])) if e > s)
    return order[k], order[k + 1]


def first_site_outside(arch: Arch, size: int, offsets: list[int],
                       types: list[int]) -> int | None:
    """Index of the first relocation whose site does not fit in a section
    of @size bytes, or None.  No apply_relocate_add() checks this: it
    writes at sh_addr + r_offset, over whatever follows the section."""
    if not offsets:
        return None
    widths = arch.widths
    if max(offsets) + max(widths.get(t, 0) for t in set(types)) <= size:
        return None
    return next((k for k, (off, t) in enumerate(zip(offsets, types))
                 if off + widths.get(t, 0) > size), None)


def check_site_inside(arch: Arch, size: int, offset: int, rtype: int) -> None:
    width = arch.widths.get(rtype, 0)
    if offset + width > size:
        raise CheckError(
            f"the {width} bytes at offset {offset:#x} reach past the end of "
            f"the section ({size} bytes): apply_relocate_add() would write "
            "beyond it")


# ppc64's apply_relocate_add() (module_64.c, 6.1, 6.12, 7.3) writes data
# relocations with plain stores; only R_PPC64_REL24 goes through
# patch_instruction().  A module-specific relocation is written late, after
# module_enable_ro() made the patch module's text, rodata and (after init)
# .data..ro_after_init read-only (STRICT_MODULE_RWX, default y on ppc64).
# x86_64 (text_poke()), s390x (s390_kernel_write()) and arm64
# (aarch64_insn_copy()) write late relocations through the text-patching
# path and have no such limit.
_PPC64_PLAIN_STORES = {38, 44, 26}
RO_AFTER_INIT = ".data..ro_after_init"


def late_writes_limited(arch: Arch, flags: int, section: str) -> bool:
    """Whether some late (module-specific) relocations cannot be written
    into a section of @flags named @section (see check_late_write())."""
    return arch.name == "ppc64" and not (flags & SHF_WRITE and
                                          section != RO_AFTER_INIT)


def check_late_write(arch: Arch, flags: int, section: str,
                     rtype: int) -> None:
    """Raise CheckError if a late (module-specific) relocation of @rtype
    cannot be written into a section of @flags named @section."""
    if late_writes_limited(arch, flags, section) and \
            rtype in _PPC64_PLAIN_STORES:
        raise CheckError(
            "ppc64's apply_relocate_add() writes it with a plain store (only "
            "R_PPC64_REL24 goes through patch_instruction()), and a "
            "module-specific relocation is written after module_enable_ro() "
            "made this section read-only: the store faults; put the pointer "
            "in writable data")


def first_bad_site(arch: Arch, data: bytes, endian: str, offsets: list[int],
                   types: list[int]) -> int | None:
    """Index of the first relocation whose site fails the architecture's
    check, or None.  A fast path for x86_64, where every site is checked."""
    if arch.site_check is None:
        return None
    if arch.site_check is _x86_site and _x86_sites_zero(data, offsets, types):
        return None
    for k, (off, rtype) in enumerate(zip(offsets, types)):
        try:
            arch.site_check(arch, data, endian, off, rtype)
        except CheckError:
            return k
    return None


def _x86_sites_zero(data: bytes, offsets: list[int], types: list[int]) -> bool:
    """Whether every site is inside @data and zero, tested at C speed with
    one unpack per site; False sends the caller to the loop that names the
    first bad site."""
    widths = {_X86_WIDTH.get(t, 0) for t in set(types)}
    for width in widths - {0}:
        sites = offsets if len(widths) == 1 else list(compress(
            offsets, map(width.__eq__, map(_X86_WIDTH.get, types, repeat(0)))))
        try:
            if not set(map(_ZERO[width].unpack_from, repeat(data), sites)) \
                    <= {(0,)}:
                return False
        except (struct.error, OverflowError):    # a site past the end
            return False
    return True


def _ppc64_site(arch: Arch, data: bytes, endian: str, offset: int,
                rtype: int) -> None:
    if rtype != 10:  # R_PPC64_REL24
        return
    # restore_r2() (module_64.c, 6.1 to 7.3) only patches the instruction
    # after a relative link branch (instr_is_relative_link_branch(): 'bl',
    # opcode 18, AA 0, LK 1); a sibling call 'b sym' does not return.
    (insn,) = struct.unpack_from(endian + "I", data, offset)
    if insn & 0xFC000003 != 0x48000001:
        return
    if offset + 8 > len(data):
        raise CheckError(f"call at offset {offset:#x} has no instruction after it")
    (insn,) = struct.unpack_from(endian + "I", data, offset + 4)
    if insn != PPC_NOP:
        raise CheckError(
            f"call at offset {offset:#x} is not followed by a nop (found "
            f"{insn:#010x}): the kernel needs 'bl; nop' to restore r2 after "
            "a call through a module stub; declare the function so the "
            "compiler treats it as external")


_X86_NAMES = {0: "R_X86_64_NONE", 1: "R_X86_64_64", 2: "R_X86_64_PC32",
              4: "R_X86_64_PLT32", 11: "R_X86_64_32S", 24: "R_X86_64_PC64"}
# A type whose field cannot hold the address the livepatch core resolves
# is refused like the kernel would (or, worse, would not) at load time.
_X86_REFUSED = {
    10: ("R_X86_64_32", "a zero-extended 32-bit field cannot hold a kernel "
         "address (vmlinux and modules live in the top 2 GiB): the kernel "
         "refuses it (\"overflow in relocation type 10\"); use the "
         "sign-extended R_X86_64_32S of -mcmodel=kernel"),
}
_X86_WIDTH = {1: 8, 24: 8, 2: 4, 4: 4, 10: 4, 11: 4}
# Byte order does not matter for a test against zero.
_ZERO = {4: struct.Struct("<I"), 8: struct.Struct("<Q")}

_PPC64_ACCEPTED = {38: "R_PPC64_ADDR64", 10: "R_PPC64_REL24",
                   44: "R_PPC64_REL64", 26: "R_PPC64_REL32"}
_PPC64_TOC = "TOC-relative relocations against a klp symbol overflow: " \
    "reach the symbol through its address in .toc instead"
_PPC64_DOT_TOC = "it refers to .TOC., which klp-convert never converts"
_PPC64_REFUSED = {
    0: ("R_PPC64_NONE", "the powerpc kernel has no R_PPC64_NONE case"),
    1: ("R_PPC64_ADDR32", "a 32-bit field cannot hold a ppc64 kernel "
        "address (0xc000...): apply_relocate_add() truncates it without a "
        "word; use a 64-bit pointer"),
    47: ("R_PPC64_TOC16", _PPC64_TOC), 48: ("R_PPC64_TOC16_LO", _PPC64_TOC),
    49: ("R_PPC64_TOC16_HI", _PPC64_TOC), 50: ("R_PPC64_TOC16_HA", _PPC64_TOC),
    63: ("R_PPC64_TOC16_DS", _PPC64_TOC), 64: ("R_PPC64_TOC16_LO_DS", _PPC64_TOC),
    51: ("R_PPC64_TOC", _PPC64_DOT_TOC), 109: ("R_PPC64_TOCSAVE", _PPC64_DOT_TOC),
    118: ("R_PPC64_ENTRY", _PPC64_DOT_TOC),
    249: ("R_PPC64_REL16", _PPC64_DOT_TOC), 250: ("R_PPC64_REL16_LO", _PPC64_DOT_TOC),
    251: ("R_PPC64_REL16_HI", _PPC64_DOT_TOC), 252: ("R_PPC64_REL16_HA", _PPC64_DOT_TOC),
}

_S390_ACCEPTED = {
    0: "R_390_NONE", 5: "R_390_PC32", 6: "R_390_GOT12", 7: "R_390_GOT32",
    8: "R_390_PLT32", 13: "R_390_GOTOFF32", 14: "R_390_GOTPC",
    15: "R_390_GOT16", 18: "R_390_PLT16DBL", 19: "R_390_PC32DBL", 20: "R_390_PLT32DBL", 21: "R_390_GOTPCDBL",
    22: "R_390_64", 23: "R_390_PC64", 24: "R_390_GOT64", 25: "R_390_PLT64",
    26: "R_390_GOTENT", 27: "R_390_GOTOFF16", 28: "R_390_GOTOFF64",
    29: "R_390_GOTPLT12", 30: "R_390_GOTPLT16", 31: "R_390_GOTPLT32",
    32: "R_390_GOTPLT64", 33: "R_390_GOTPLTENT", 34: "R_390_PLTOFF16",
    35: "R_390_PLTOFF32", 36: "R_390_PLTOFF64", 58: "R_390_GOT20",
    59: "R_390_GOTPLT20"}
_S390_SHARED = "only used by shared objects; the s390 kernel refuses it"
_S390_NARROW = "bits cannot hold a kernel address: apply_rela_bits() " \
    "refuses it (\"relocation error\")"
_S390_REFUSED = {
    9: ("R_390_COPY", _S390_SHARED), 10: ("R_390_GLOB_DAT", _S390_SHARED),
    11: ("R_390_JMP_SLOT", _S390_SHARED), 12: ("R_390_RELATIVE", _S390_SHARED),
    1: ("R_390_8", f"a field of 8 {_S390_NARROW}"),
    2: ("R_390_12", f"a field of 12 {_S390_NARROW}"),
    3: ("R_390_16", f"a field of 16 {_S390_NARROW}"),
    57: ("R_390_20", f"a field of 20 {_S390_NARROW}"),
    4: ("R_390_32", "a 32-bit absolute field holds no module address and "
        "no vmlinux address since vmlinux moved above 4 GiB "
        "(CONFIG_KERNEL_IMAGE_BASE, default 0x3ffe0000000 in 6.12; 6.1 "
        "links it at 0x100000): use R_390_64 or a PC-relative access"),
    16: ("R_390_PC16", "it reaches only 32 KiB around the site, and the "
         "symbol lies in another object: apply_rela_bits() refuses it"),
    17: ("R_390_PC16DBL", "it reaches only 64 KiB around the site, and the "
         "symbol lies in another object: apply_rela_bits() refuses it"),
}

_A64_ACCEPTED = {
    0: "R_ARM_NONE", 256: "R_AARCH64_NONE", 257: "R_AARCH64_ABS64",
    260: "R_AARCH64_PREL64", 261: "R_AARCH64_PREL32",
    264: "R_AARCH64_MOVW_UABS_G0_NC", 266: "R_AARCH64_MOVW_UABS_G1_NC",
    268: "R_AARCH64_MOVW_UABS_G2_NC", 269: "R_AARCH64_MOVW_UABS_G3",
    272: "R_AARCH64_MOVW_SABS_G2",
    275: "R_AARCH64_ADR_PREL_PG_HI21", 276: "R_AARCH64_ADR_PREL_PG_HI21_NC",
    277: "R_AARCH64_ADD_ABS_LO12_NC", 278: "R_AARCH64_LDST8_ABS_LO12_NC",
    282: "R_AARCH64_JUMP26", 283: "R_AARCH64_CALL26",
    284: "R_AARCH64_LDST16_ABS_LO12_NC", 285: "R_AARCH64_LDST32_ABS_LO12_NC",
    286: "R_AARCH64_LDST64_ABS_LO12_NC",
    288: "R_AARCH64_MOVW_PREL_G0_NC", 289: "R_AARCH64_MOVW_PREL_G1",
    290: "R_AARCH64_MOVW_PREL_G1_NC", 291: "R_AARCH64_MOVW_PREL_G2",
    292: "R_AARCH64_MOVW_PREL_G2_NC", 293: "R_AARCH64_MOVW_PREL_G3",
    299: "R_AARCH64_LDST128_ABS_LO12_NC"}
_A64_ABS = "an absolute field of that size cannot hold an arm64 kernel " \
    "address (0xffff...): reloc_data() or reloc_insn_movw() refuses it " \
    "(-ERANGE)"
_A64_NEAR = "around the site, and the symbol lies in another object: " \
    "apply_relocate_add() refuses it (-ERANGE)"
_A64_REFUSED = {
    258: ("R_AARCH64_ABS32", _A64_ABS), 259: ("R_AARCH64_ABS16", _A64_ABS),
    263: ("R_AARCH64_MOVW_UABS_G0", _A64_ABS),
    265: ("R_AARCH64_MOVW_UABS_G1", _A64_ABS),
    267: ("R_AARCH64_MOVW_UABS_G2", _A64_ABS),
    270: ("R_AARCH64_MOVW_SABS_G0", _A64_ABS),
    271: ("R_AARCH64_MOVW_SABS_G1", _A64_ABS),
    262: ("R_AARCH64_PREL16", f"it reaches only 32 KiB {_A64_NEAR}"),
    287: ("R_AARCH64_MOVW_PREL_G0", f"it reaches only 32 KiB {_A64_NEAR}"),
    279: ("R_AARCH64_TSTBR14", f"it reaches only 32 KiB {_A64_NEAR}"),
    273: ("R_AARCH64_LD_PREL_LO19", f"it reaches only 1 MiB {_A64_NEAR}"),
    274: ("R_AARCH64_ADR_PREL_LO21", f"it reaches only 1 MiB {_A64_NEAR}"),
    280: ("R_AARCH64_CONDBR19", f"it reaches only 1 MiB {_A64_NEAR}"),
}


# Bytes written at the site, from each apply_relocate_add() (6.1 to 7.3).
# ppc64: a call also reads the next instruction (see _ppc64_site).
_PPC64_WIDTH = {1: 4, 38: 8, 10: 4, 44: 8, 26: 4}
# s390x: apply_rela_bits() writes 1, 2, 2, 4, 4, 8 bytes for fields of
# 8, 12, 16, 20, 32, 64 bits.
_S390_WIDTH = {0: 0, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 2, 7: 4, 8: 4, 13: 4,
               14: 4, 15: 2, 16: 2, 17: 2, 18: 2, 19: 4, 20: 4, 21: 4, 22: 8,
               23: 8, 24: 8, 25: 8, 26: 4, 27: 2, 28: 8, 29: 2, 30: 2, 31: 4,
               32: 8, 33: 4, 34: 2, 35: 4, 36: 8, 57: 4, 58: 4, 59: 4}
# arm64: data relocations by size, instruction relocations one insn.
_A64_WIDTH = {t: 4 for t in range(263, 300)}
_A64_WIDTH.update({0: 0, 256: 0, 257: 8, 258: 4, 259: 2, 260: 8, 261: 4,
                   262: 2})


def _names(accepted: dict[int, str], refused: dict[int, tuple]) -> dict[int, str]:
    names = dict(accepted)
    names.update({k: v[0] for k, v in refused.items()})
    return names


ARCHES: dict[int, Arch] = {
    EM_X86_64: Arch("x86_64", _X86_NAMES, _X86_REFUSED, _x86_site,
                    _names(_X86_NAMES, _X86_REFUSED), _X86_WIDTH),
    EM_PPC64: Arch("ppc64", _PPC64_ACCEPTED, _PPC64_REFUSED, _ppc64_site,
                   _names(_PPC64_ACCEPTED, _PPC64_REFUSED), _PPC64_WIDTH),
    EM_S390: Arch("s390x", _S390_ACCEPTED, _S390_REFUSED, None,
                  _names(_S390_ACCEPTED, _S390_REFUSED), _S390_WIDTH),
    EM_AARCH64: Arch("arm64", _A64_ACCEPTED, _A64_REFUSED, None,
                     _names(_A64_ACCEPTED, _A64_REFUSED), _A64_WIDTH),
}


# Byte orders each architecture's kernel exists in.  A kernel reads the
# ELF header in its own byte order, so a file of the other order shows it
# a byte-swapped e_machine, which elf_check_arch() refuses
# (elf_validity_check() in 6.1, elf_validity_ehdr() in 6.12 and 7.3).
# ppc64 and arm64 kernels exist in both orders.
_BYTE_ORDERS = {EM_X86_64: "<", EM_S390: ">"}
_ORDER_NAMES = {"<": "little-endian", ">": "big-endian"}


def arch_for(machine: int, endian: str) -> Arch:
    """The rules for @machine, in a file of byte order @endian ("<" or
    ">")."""
    try:
        arch = ARCHES[machine]
    except KeyError:
        raise UnsupportedError(
            f"ELF machine {machine}: klp-convert supports x86_64, ppc64, "
            "s390x and arm64") from None
    native = _BYTE_ORDERS.get(machine, endian)
    if endian != native:
        swapped = int.from_bytes(machine.to_bytes(2, "little"), "big")
        raise UnsupportedError(
            f"{_ORDER_NAMES[endian]} ELF file for {arch.name}, which is "
            f"{_ORDER_NAMES[native]} only: the kernel reads e_machine as "
            f"{swapped:#06x} and refuses the module (elf_check_arch())")
    return arch


_PYELFTOOLS_ENUMS = {"x86_64": "ENUM_RELOC_TYPE_x64", "ppc64": "ENUM_RELOC_TYPE_PPC64",
                     "s390x": "ENUM_RELOC_TYPE_S390X",
                     "arm64": "ENUM_RELOC_TYPE_AARCH64"}


def type_name(arch: Arch, rtype: int) -> str:
    name = arch.names.get(rtype)
    if name is None:
        # Types outside our tables only show up in error messages: ask
        # pyelftools for their name (imported here, off the hot path).
        try:
            from elftools.elf import enums
            table = getattr(enums, _PYELFTOOLS_ENUMS[arch.name], {})
            name = next((k for k, v in table.items() if v == rtype), None)
        except ImportError:
            name = None
    return name or str(rtype)


def check_type(arch: Arch, rtype: int) -> None:
    if rtype in arch.accepted:
        return
    if rtype in arch.refused:
        name, why = arch.refused[rtype]
        raise CheckError(f"relocation type {name} cannot be a livepatch "
                         f"relocation on {arch.name}: {why}")
    raise CheckError(f"relocation type {rtype} is not supported by "
                     f"{arch.name}'s apply_relocate_add()")
