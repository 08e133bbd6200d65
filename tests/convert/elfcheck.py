# SPDX-License-Identifier: GPL-2.0-only
"""An ELF64 reader and a model of the kernel's livepatch relocation code,
written for the tests only: it shares no code with klp-convert.

apply_module() models what the kernel does with a *converted* module:
klp_resolve_symbols() gives every SHN_LIVEPATCH symbol the address of
".klp.sym.<obj>.<sym>,<pos>" in a fake kernel, then apply_relocate_add()
(x86_64) applies every .rela and .klp.rela section whose target is
SHF_ALLOC.  apply_unconverted() does the same for the module *before*
conversion, resolving each intermediate name directly.  Both must give the
same bytes.
"""

from __future__ import annotations

import hashlib
import re
import struct
from typing import Dict, List, NamedTuple, Tuple

SHN_LIVEPATCH = 0xFF20
SHF_ALLOC = 0x2
SHF_RELA_LIVEPATCH = 0x00100000
SHT_SYMTAB, SHT_RELA, SHT_REL = 2, 4, 9

FINAL_RE = re.compile(r"\.klp\.sym\.([^.]{1,55})\.([^,]{1,511}),([0-9]+)\Z")
INTER_RE = re.compile(r"\.klp\.sym\.rela\.([^.]+)\.([^.]+)\.(.+)[,.]([0-9]+)\Z")


class Sec(NamedTuple):
    index: int
    name: str
    type: int
    flags: int
    link: int
    info: int
    align: int
    entsize: int
    data: bytes


class Sym(NamedTuple):
    name: str
    info: int
    other: int
    shndx: int
    value: int
    size: int
    xindex: int = 0     # real section index when shndx is SHN_XINDEX

    @property
    def section(self) -> int:
        return self.xindex if self.shndx == 0xFFFF else self.shndx

    @property
    def bind(self) -> int:
        return self.info >> 4


class Elf:
    def __init__(self, raw: bytes) -> None:
        assert raw[:4] == b"\x7fELF" and raw[4] == 2
        self.e = "<" if raw[5] == 1 else ">"
        hdr = struct.unpack_from(self.e + "16sHHIQQQIHHHHHH", raw)
        self.machine = hdr[2]
        shoff, shnum, shstrndx = hdr[6], hdr[12], hdr[13]
        first = struct.unpack_from(self.e + "IIQQQQIIQQ", raw, shoff)
        if shnum == 0:
            shnum = first[5]
        if shstrndx == 0xFFFF:
            shstrndx = first[6]
        heads = [struct.unpack_from(self.e + "IIQQQQIIQQ", raw, shoff + 64 * i)
                 for i in range(shnum)]
        shstr = raw[heads[shstrndx][4]:heads[shstrndx][4] + heads[shstrndx][5]]
        self.sections: List[Sec] = []
        for i, h in enumerate(heads):
            name = shstr[h[0]:shstr.index(b"\0", h[0])].decode()
            data = b"" if h[1] == 8 else raw[h[4]:h[4] + h[5]]
            self.sections.append(Sec(i, name, h[1], h[2], h[6], h[7], h[8],
                                     h[9], data))
        st = next(s for s in self.sections if s.type == SHT_SYMTAB)
        self.symtab = st
        strtab = self.sections[st.link].data
        self.strtab = strtab
        self.symbols = [
            Sym(strtab[n:strtab.index(b"\0", n)].decode(), i, o, x, v, z)
            for n, i, o, x, v, z in struct.iter_unpack(self.e + "IBBHQQ", st.data)]
        # SHN_XINDEX: the real index is in the SHT_SYMTAB_SHNDX section
        xs = [s for s in self.sections if s.type == 18 and s.link == st.index]
        if xs:
            ext = struct.unpack(f"{self.e}{len(xs[0].data) // 4}I", xs[0].data)
            self.symbols = [s._replace(xindex=ext[i]) if s.shndx == 0xFFFF else s
                            for i, s in enumerate(self.symbols)]

    def by_name(self, name: str) -> Sec:
        return next(s for s in self.sections if s.name == name)

    def relas(self, sec: Sec) -> List[Tuple[int, int, int, int]]:
        """(offset, symbol index, type, addend)"""
        if sec.type == SHT_REL:
            return [(o, i >> 32, i & 0xFFFFFFFF, 0)
                    for o, i in struct.iter_unpack(self.e + "QQ", sec.data)]
        return [(o, i >> 32, i & 0xFFFFFFFF, a)
                for o, i, a in struct.iter_unpack(self.e + "QQq", sec.data)]

    def rel_sections(self) -> List[Sec]:
        return [s for s in self.sections if s.type in (SHT_RELA, SHT_REL)]


def fake_address(*key: object) -> int:
    """A stable kernel-text-like address for a symbol of the fake kernel."""
    h = int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:3], "little")
    return 0xFFFFFFFF81000000 + h * 16


def section_address(name: str) -> int:
    h = int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "little")
    return 0xFFFFFFFFA0000000 + h * 0x1000


def _write(buf: bytearray, off: int, rtype: int, s: int, a: int, p: int,
           check_zero: bool) -> None:
    width = {1: 8, 24: 8, 2: 4, 4: 4, 10: 4, 11: 4}.get(rtype)
    if rtype == 0:
        return
    assert width, f"unsupported x86_64 relocation type {rtype}"
    if check_zero and any(buf[off:off + width]):
        raise AssertionError(f"Invalid relocation target, existing value is "
                             f"nonzero at {off:#x}")
    val = s + a - (p if rtype in (2, 4, 24) else 0)
    # arch/x86/kernel/module.c: overflow checks of R_X86_64_32 and 32S
    if rtype == 10 and val != val & 0xFFFFFFFF:
        raise AssertionError(f"overflow in relocation type 10 at {off:#x}")
    if rtype == 11 and not -(1 << 31) <= (val if val < 1 << 63 else val - (1 << 64)) < 1 << 31:
        raise AssertionError(f"overflow in relocation type 11 at {off:#x}")
    buf[off:off + width] = (val & ((1 << (8 * width)) - 1)).to_bytes(width, "little")


def _symbol_value(elf: Elf, sym: Sym, secaddr=None) -> int:
    secaddr = secaddr or section_address
    if sym.shndx == 0:
        return fake_address("exported", sym.name)
    if sym.shndx == 0xFFF1:                     # SHN_ABS
        return sym.value
    if sym.shndx >= 0xFF00 and sym.shndx != 0xFFFF:
        raise AssertionError(f"unexpected special symbol {sym.name}")
    return secaddr(elf.sections[sym.section].name) + sym.value


def apply_unconverted(elf: Elf) -> Dict[str, bytes]:
    out = {s.name: bytearray(s.data) for s in elf.sections
           if s.flags & SHF_ALLOC and s.type not in (SHT_RELA, SHT_REL)}
    for rs in elf.rel_sections():
        target = elf.sections[rs.info]
        if not target.flags & SHF_ALLOC:
            continue
        for off, si, rtype, add in elf.relas(rs):
            sym = elf.symbols[si]
            m = INTER_RE.match(sym.name)
            if m:
                s = fake_address(m.group(2), m.group(3), int(m.group(4)))
            else:
                s = _symbol_value(elf, sym)
            _write(out[target.name], off, rtype, s, add,
                   section_address(target.name) + off, False)
    return {k: bytes(v) for k, v in out.items()}


def apply_module(elf: Elf, secaddr=None) -> Dict[str, bytes]:
    """The kernel's view of a converted module: normal relocations at module
    load, klp relocations after klp_resolve_symbols().  @secaddr maps a
    section name to its load address (default: section_address)."""
    secaddr = secaddr or section_address
    out = {s.name: bytearray(s.data) for s in elf.sections
           if s.flags & SHF_ALLOC and s.type not in (SHT_RELA, SHT_REL)}
    resolved: Dict[int, int] = {}
    for i, sym in enumerate(elf.symbols):
        if sym.shndx == SHN_LIVEPATCH:
            m = FINAL_RE.match(sym.name)
            assert m, f"kernel cannot parse livepatch symbol {sym.name!r}"
            resolved[i] = fake_address(m.group(1), m.group(2), int(m.group(3)))
    for pass_klp in (False, True):
        for rs in elf.rel_sections():
            target = elf.sections[rs.info]
            if not target.flags & SHF_ALLOC:
                continue
            is_klp = bool(rs.flags & SHF_RELA_LIVEPATCH)
            if is_klp != pass_klp:
                continue
            for off, si, rtype, add in elf.relas(rs):
                sym = elf.symbols[si]
                if is_klp:
                    assert sym.shndx == SHN_LIVEPATCH, (
                        f"symbol {sym.name} is not marked as a livepatch symbol")
                    s = resolved[si]
                else:
                    assert sym.shndx != SHN_LIVEPATCH, (
                        f"{rs.name} references livepatch symbol {sym.name}")
                    s = _symbol_value(elf, sym, secaddr)
                _write(out[target.name], off, rtype, s, add,
                       secaddr(target.name) + off, is_klp)
    return {k: bytes(v) for k, v in out.items()}


def check_structure(elf: Elf) -> None:
    """The format rules of Documentation/livepatch/module-elf-format.rst."""
    symtab_index = elf.symtab.index
    nlocal = elf.symtab.info
    assert all(s.bind == 0 for s in elf.symbols[:nlocal]), "local after global"
    assert all(s.bind != 0 for s in elf.symbols[nlocal:]), "sh_info of .symtab"
    assert elf.strtab[:1] == b"\0" and elf.strtab[-1:] == b"\0"
    klp_names = [s.name for s in elf.symbols if s.shndx == SHN_LIVEPATCH]
    assert len(klp_names) == len(set(klp_names)), "duplicate livepatch symbols"
    for s in elf.sections:
        assert s.link < len(elf.sections), f"{s.name}: sh_link out of range"
        if s.type in (SHT_RELA, SHT_REL):
            assert 0 < s.info < len(elf.sections) and s.link == symtab_index
            assert s.data, f"empty relocation section {s.name} kept"
    for s in elf.symbols:
        assert not s.name.startswith(".klp.sym.rela."), f"{s.name} left"
        assert s.section < len(elf.sections) or 0xFF00 <= s.section < 0xFFFF, s.name
        if s.shndx == SHN_LIVEPATCH:
            assert FINAL_RE.match(s.name), s.name
            assert s.bind == 1 and s.value == 0
    for rs in elf.rel_sections():
        if rs.name.startswith(".klp.rela."):
            assert rs.type == SHT_RELA
            assert rs.flags & (SHF_ALLOC | SHF_RELA_LIVEPATCH) == \
                SHF_ALLOC | SHF_RELA_LIVEPATCH, rs.name
            assert rs.link == symtab_index and rs.entsize == 24
            assert rs.align == 8 and rs.data and len(rs.data) % 24 == 0, rs.name
            assert rs.flags & 0x40, f"{rs.name}: SHF_INFO_LINK"
            target = elf.sections[rs.info]
            lp_obj = rs.name[len(".klp.rela."):].split(".", 1)[0]
            assert rs.name == f".klp.rela.{lp_obj}.{target.name}"
            assert target.flags & SHF_ALLOC
            for _o, si, _t, _a in elf.relas(rs):
                sym = elf.symbols[si]
                assert sym.shndx == SHN_LIVEPATCH
                if lp_obj != "vmlinux":
                    assert not sym.name.startswith(".klp.sym.vmlinux.")
        else:
            assert not rs.flags & SHF_RELA_LIVEPATCH
            if elf.sections[rs.info].flags & SHF_ALLOC:
                for _o, si, _t, _a in elf.relas(rs):
                    assert elf.symbols[si].shndx != SHN_LIVEPATCH, rs.name


def reloc_multiset(elf: Elf) -> List[tuple]:
    """Every relocation as (target section, offset, type, addend, final name)."""
    out = []
    for rs in elf.rel_sections():
        target = elf.sections[rs.info].name
        for off, si, rtype, add in elf.relas(rs):
            name = elf.symbols[si].name
            m = INTER_RE.match(name)
            if m:
                name = f".klp.sym.{m.group(2)}.{m.group(3)},{int(m.group(4))}"
            out.append((target, off, rtype, add, name))
    return sorted(out)
