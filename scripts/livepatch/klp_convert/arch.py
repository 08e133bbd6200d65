# SPDX-License-Identifier: GPL-2.0-only
"""Per-architecture tables for livepatch relocations, and site decoders.

Each table lists the relocation types that the architecture's
apply_relocate_add() (arch/*/kernel/module*.c, Linux 6.1) applies and that
make sense against a symbol the livepatch core resolves at run time, the
ones refused with a reason, and how many bytes each writes at its site.
The rules that use them are in checks/relocations.py.
"""

from __future__ import annotations

import operator
import struct
from collections import namedtuple
from itertools import compress, repeat

TYPE_CHECKING = False

EM_PPC64 = 21
EM_S390 = 22
EM_X86_64 = 62
EM_AARCH64 = 183

PPC_NOP = 0x60000000
PPC64_REL24 = 10

if TYPE_CHECKING:
    from typing import NamedTuple

    class Arch(NamedTuple):
        """An architecture's tables."""
        name: str
        # klp relocation types accepted, number -> name
        accepted: dict[int, str]
        # types refused with a specific explanation: number -> (name, why)
        refused: dict[int, tuple[str, str]]
        # all known type names, for listings
        names: dict[int, str]
        # bytes apply_relocate_add() reads or writes at the site (0: none)
        widths: dict[int, int]
        # apply_relocate_add() refuses a site that is not zero (x86_64)
        zero_sites: bool
        # a call needs 'bl; nop' to restore the TOC pointer (ppc64)
        call_nop: bool
        # types written with plain stores, which fault when written late
        # into read-only memory (ppc64)
        plain_stores: frozenset[int]
else:
    Arch = namedtuple("Arch", ["name", "accepted", "refused", "names",
                               "widths", "zero_sites", "call_nop",
                               "plain_stores"])


def widest(arch: Arch, types: set[int] | frozenset[int]) -> int:
    """The widest site of relocations of @types."""
    return max(map(arch.widths.get, types, repeat(0)), default=0)


def first_outside(arch: Arch, size: int, offsets: list[int],
                  types: list[int]) -> int | None:
    """Index of the first relocation whose site does not fit in @size
    bytes (a bulk test first: at C speed when all fit)."""
    if not offsets or max(offsets) + widest(arch, set(types)) <= size:
        return None
    widths = arch.widths
    return next((k for k, (off, t) in enumerate(zip(offsets, types))
                 if off + widths.get(t, 0) > size), None)


def first_nonzero(arch: Arch, data: bytes, offsets: list[int],
                  types: list[int]) -> int | None:
    """Index of the first relocation whose site bytes are not all zero;
    every site must be inside @data (first_outside()).  One unpack per
    site at C speed, whatever the answer."""
    widths = arch.widths
    all_widths = set(map(widths.get, set(types), repeat(0)))
    found = []
    for width in all_widths - {0}:
        if len(all_widths) == 1:
            index = None
            sites = offsets
        else:
            mask = list(map(width.__eq__, map(widths.get, types, repeat(0))))
            index = list(compress(range(len(offsets)), mask))
            sites = list(compress(offsets, mask))
        unpack = _ZERO[width].unpack_from
        if set(map(unpack, repeat(data), sites)) <= {(0,)}:
            continue
        values = list(map(unpack, repeat(data), sites))
        k = next(compress(range(len(values)), map((0,).__ne__, values)))
        found.append(k if index is None else index[k])
    return min(found, default=None)


def sites_zero(arch: Arch, data: bytes, offsets: list[int],
               types: list[int]) -> bool:
    """Whether every site is inside @data and all zero: one bulk test at
    C speed (one unpack per site), which proves first_outside() and
    first_nonzero() would find nothing; False says nothing."""
    widths = arch.widths
    all_widths = set(map(widths.get, set(types), repeat(0)))
    for width in all_widths - {0}:
        sites = offsets if len(all_widths) == 1 else list(compress(
            offsets, map(width.__eq__, map(widths.get, types, repeat(0)))))
        try:
            if not set(map(_ZERO[width].unpack_from, repeat(data),
                           sites)) <= {(0,)}:
                return False
        except (struct.error, OverflowError):   # a site past the end
            return False
    return True


def first_overlap(arch: Arch, offsets: list[int],
                  types: list[int]) -> tuple[int, int] | None:
    """Indices (k, j) of two relocations whose sites overlap, or None.
    Sorting and comparing run at C speed."""
    if len(offsets) < 2:
        return None
    widths = arch.widths
    # ld -r keeps a section's relocations in offset order: when the
    # smallest step between them is at least the widest site, none overlap
    if min(map(operator.sub, offsets[1:], offsets)) >= \
            widest(arch, set(types)):
        return None
    order = sorted(range(len(offsets)), key=offsets.__getitem__)
    starts = list(map(offsets.__getitem__, order))
    ends = [o + w for o, w in zip(starts, map(widths.get,
                                             map(types.__getitem__, order),
                                             repeat(0)))]
    if all(map(operator.le, ends, starts[1:])):
        return None
    k = next(n for n, (e, s) in enumerate(zip(ends, starts[1:])) if e > s)
    return order[k], order[k + 1]


def ppc64_call_next(data: bytes, endian: str, offset: int) -> int | None:
    """ppc64: for a relative link branch ('bl', opcode 18, AA 0, LK 1) at
    @offset, the instruction after it (-1 if there is none); None for
    anything else.  restore_r2() (module_64.c, 6.1 to 7.3) only patches
    the instruction after a 'bl'; a sibling call 'b sym' does not
    return."""
    (insn,) = struct.unpack_from(endian + "I", data, offset)
    if insn & 0xFC000003 != 0x48000001:
        return None
    if offset + 8 > len(data):
        return -1
    return int(struct.unpack_from(endian + "I", data, offset + 4)[0])


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


def _names(accepted: dict[int, str],
           refused: dict[int, tuple[str, str]]) -> dict[int, str]:
    names = dict(accepted)
    names.update({k: v[0] for k, v in refused.items()})
    return names


# ppc64's apply_relocate_add() (module_64.c, 6.1, 6.12, 7.3) writes data
# relocations with plain stores; only R_PPC64_REL24 goes through
# patch_instruction().  x86_64 (text_poke()), s390x (s390_kernel_write())
# and arm64 (aarch64_insn_copy()) write late relocations through the
# text-patching path.
_PPC64_PLAIN_STORES = frozenset({38, 44, 26})

ARCHES: dict[int, Arch] = {
    EM_X86_64: Arch("x86_64", _X86_NAMES, _X86_REFUSED,
                    _names(_X86_NAMES, _X86_REFUSED), _X86_WIDTH,
                    True, False, frozenset()),
    EM_PPC64: Arch("ppc64", _PPC64_ACCEPTED, _PPC64_REFUSED,
                   _names(_PPC64_ACCEPTED, _PPC64_REFUSED), _PPC64_WIDTH,
                   False, True, _PPC64_PLAIN_STORES),
    EM_S390: Arch("s390x", _S390_ACCEPTED, _S390_REFUSED,
                  _names(_S390_ACCEPTED, _S390_REFUSED), _S390_WIDTH,
                  False, False, frozenset()),
    EM_AARCH64: Arch("arm64", _A64_ACCEPTED, _A64_REFUSED,
                     _names(_A64_ACCEPTED, _A64_REFUSED), _A64_WIDTH,
                     False, False, frozenset()),
}


# Byte orders each architecture's kernel exists in (ppc64 and arm64:
# both).
BYTE_ORDERS = {EM_X86_64: "<", EM_S390: ">"}
ORDER_NAMES = {"<": "little-endian", ">": "big-endian"}


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
