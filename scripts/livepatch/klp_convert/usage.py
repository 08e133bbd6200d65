# SPDX-License-Identifier: GPL-2.0-only
"""How a livepatch module uses each intermediate symbol: a call, a data
access, or something this cannot tell (an address taken, an absolute
value).

Told from the relocation type and, where the type alone does not say,
the instruction around the relocation site:

x86_64   R_X86_64_PLT32, or PC32 after e8/e9 (call/jmp rel32): a call;
         PC32 as the disp32 of a RIP-relative ModRM (mod 00, r/m 101)
         after a memory-operand opcode (mov, cmp, add, test, ... but not
         lea): a data access.
ppc64    R_PPC64_REL24: a call (data is reached through the TOC).
s390x    R_390_PLT*: a call; PC32DBL in brasl: a call, in the
         relative-long loads, stores and compares (c4xx, c6xx): data.
arm64    CALL26/JUMP26: a call; LDST*_ABS_LO12_NC, LD_PREL_LO19: data.
"""

from __future__ import annotations

from collections import namedtuple
from itertools import compress

from . import arch as archmod
from . import relocs
from .elf import SHF_ALLOC, ElfFile

CALL = "call"
DATA = "data"

# One-byte opcodes whose ModRM memory operand is read or written.
_X86_MEM_OPS = frozenset({
    0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0x0a, 0x0b, 0x10, 0x11, 0x12, 0x13,
    0x18, 0x19, 0x1a, 0x1b, 0x20, 0x21, 0x22, 0x23, 0x28, 0x29, 0x2a, 0x2b,
    0x30, 0x31, 0x32, 0x33, 0x38, 0x39, 0x3a, 0x3b, 0x63, 0x69, 0x6b, 0x80,
    0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0xc0, 0xc1,
    0xc6, 0xc7, 0xd0, 0xd1, 0xd2, 0xd3, 0xf6, 0xf7, 0xfe, 0xff})
# Two-byte (0f xx) ones: movzx/movsx, cmpxchg, xadd, bt*, SSE moves.
_X86_MEM_OPS_0F = frozenset({0xb6, 0xb7, 0xbe, 0xbf, 0xb0, 0xb1, 0xc0, 0xc1,
                             0xa3, 0xab, 0xb3, 0xbb, 0xba, 0x10, 0x11, 0x28,
                             0x29, 0x6f, 0x7f, 0xaf})
_X86_PC32, _X86_PLT32 = 2, 4
_S390_PLT = frozenset({8, 18, 20, 25})
_S390_PC32DBL = 19
_A64_CALLS = frozenset({282, 283})
_A64_DATA = frozenset({273, 278, 284, 285, 286, 299})
_PPC64_REL24 = 10

TEXT_TYPES = frozenset("tT")
DATA_TYPES = frozenset("dDbBrRgGsSvVcCaA")


class Use(namedtuple("Use", ["section", "offset", "rtype", "kind"])):
    """One relocation against an intermediate symbol: target section
    (str), offset (int), relocation type name (str), and CALL, DATA or
    None."""

    __slots__ = ()


def _x86(data: bytes, off: int, rtype: int) -> str | None:
    if rtype not in (_X86_PC32, _X86_PLT32):
        return None
    if off >= 1 and data[off - 1] in (0xe8, 0xe9) or rtype == _X86_PLT32:
        return CALL
    if off < 2 or data[off - 1] & 0xC7 != 0x05:
        return None
    op = data[off - 2]
    if op == 0x8d:                      # lea: an address
        return None
    if off >= 3 and data[off - 3] == 0x0f:
        return DATA if op in _X86_MEM_OPS_0F else None
    return DATA if op in _X86_MEM_OPS else None


def _s390(data: bytes, off: int, rtype: int) -> str | None:
    if rtype in _S390_PLT:
        return CALL
    if rtype != _S390_PC32DBL or off < 2:
        return None
    op, sub = data[off - 2], data[off - 1] & 0x0F
    if op == 0xc0:
        return CALL if sub == 0x5 else None     # brasl; larl is an address
    return DATA if op in (0xc4, 0xc6) else None


def classify(machine: int, data: bytes, off: int, rtype: int) -> str | None:
    """CALL, DATA or None for one relocation site."""
    if machine == archmod.EM_X86_64:
        return _x86(data, off, rtype)
    if machine == archmod.EM_S390:
        return _s390(data, off, rtype)
    if machine == archmod.EM_AARCH64:
        if rtype in _A64_CALLS:
            return CALL
        return DATA if rtype in _A64_DATA else None
    if machine == archmod.EM_PPC64 and rtype == _PPC64_REL24:
        return CALL
    return None


def relocation_uses(elf: ElfFile, symbols: set[int]) -> dict[int, list[Use]]:
    """The uses of each symbol of @symbols (indices) by relocations of
    allocated sections, in file order; the symbols in the order of their
    first use, unused ones last."""
    out: dict[int, list[Use]] = {}
    arch = archmod.ARCHES.get(elf.machine)
    wanted = frozenset(symbols)
    for ri in elf.rel_sections():
        sec = elf.sections[ri]
        target = elf.sections[sec.sh_info]
        if not target.sh_flags & SHF_ALLOC:
            continue
        table = relocs.Table(sec, elf.endian)
        sym_of = table.symbols()
        flags = relocs.flags_of(sym_of, wanted)
        if 1 not in flags:
            continue
        offsets, types = table.offsets(), table.types()
        for k in compress(range(len(flags)), flags):
            rtype = types[k]
            name = archmod.type_name(arch, rtype) if arch else str(rtype)
            out.setdefault(sym_of[k], []).append(Use(
                target.name, offsets[k], name,
                classify(elf.machine, target.data, offsets[k], rtype)))
    for i in sorted(symbols):
        out.setdefault(i, [])
    return out


def mismatch(kind: str | None, typ: str) -> bool:
    """A call to a data symbol, or a data access to a function."""
    return (kind == CALL and typ in DATA_TYPES) or \
        (kind == DATA and typ in TEXT_TYPES)
