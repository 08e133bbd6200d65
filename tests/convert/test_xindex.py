# SPDX-License-Identifier: GPL-2.0-only
"""More than 65,280 sections: extended section numbering (e_shnum 0,
e_shstrndx SHN_XINDEX) and symbols whose section is in .symtab_shndx."""

from __future__ import annotations

import struct

from conftest import assemble, run
from elfcheck import Elf, check_structure

NSECT = 66000


def _asm() -> str:
    out = ['.section .modinfo,"a"', '.asciz "livepatch=Y"']
    for i in range(NSECT):
        out.append(f'.section .text.f{i},"ax",@progbits\n.globl f{i}\nf{i}:\nret')
    # .rela.text.only (below the high-numbered sections) becomes empty and
    # is dropped: every later index moves down by one
    out.insert(2, '.section .text.only,"ax",@progbits\nonly:\n'
               'call ".klp.sym.rela.vmlinux.vmlinux.foo,0"\nret')
    out.append('.section .text.last,"ax",@progbits\n.globl last\nlast:\n'
               'call ".klp.sym.rela.vmlinux.vmlinux.foo,0"\ncall f65999\nret')
    return "\n".join(out) + "\n"


def _symbol_sections(elf: Elf) -> dict:
    shndx = next(s for s in elf.sections if s.type == 18)
    table = struct.unpack(f"<{len(shndx.data) // 4}I", shndx.data)
    out = {}
    for i, sym in enumerate(elf.symbols):
        if sym.shndx == 0xFFFF:
            idx = table[i]
        elif sym.shndx >= 0xFF00:       # SHN_ABS, SHN_LIVEPATCH, ...
            continue
        else:
            idx = sym.shndx
        if sym.name and 0 < idx < len(elf.sections):
            out[sym.name] = elf.sections[idx].name
    return out


def test_extended_section_numbering(tmp_path):
    src = assemble(_asm(), tmp_path / "many.o")
    out = tmp_path / "many.ko"
    assert run([src, out]) == (0, "", "")
    before, after = Elf(src.read_bytes()), Elf(out.read_bytes())
    assert len(after.sections) > 0xFF00
    raw = out.read_bytes()
    assert struct.unpack_from("<HH", raw, 60) == (0, 0xFFFF)   # e_shnum, e_shstrndx
    assert ".rela.text.only" not in {s.name for s in after.sections}
    assert _symbol_sections(after) == _symbol_sections(before)
    assert _symbol_sections(after)["f65999"] == ".text.f65999"
    klp = [s for s in after.sections if s.name.startswith(".klp.rela.")]
    assert {s.name for s in klp} == {".klp.rela.vmlinux..text.only",
                                     ".klp.rela.vmlinux..text.last"}
    for s in klp:
        assert after.sections[s.info].name == s.name[len(".klp.rela.vmlinux."):]
    check_structure(after)
