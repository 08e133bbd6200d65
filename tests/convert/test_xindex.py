# SPDX-License-Identifier: GPL-2.0-only
"""65,280 sections and more: extended section numbering (e_shnum 0,
e_shstrndx SHN_XINDEX, symbols whose section is in .symtab_shndx).

The kernel does not support it: elf_validity_check() (6.1) and
elf_validity_cache_secstrings() (6.12, 7.3) refuse e_shstrndx >= e_shnum,
which is always true with e_shnum 0 ("Invalid ELF section name index"),
and simplify_symbols() refuses a symbol whose st_shndx (SHN_XINDEX) is not
below e_shnum.  klp-convert reads such files but refuses to write one,
also when the conversion itself crosses the limit."""

from __future__ import annotations

import struct

from convert_support import assemble, check_accepted, run
from elfcheck import (Elf, apply_module, apply_unconverted, check_structure,
                      reloc_multiset)

NSECT = 66000
LIMIT = 0xFF00
KLP = '".klp.sym.rela.vmlinux.vmlinux.foo,0"'


def _asm() -> str:
    out = ['.section .modinfo,"a"', '.asciz "livepatch=Y"']
    for i in range(NSECT):
        out.append(f'.section .text.f{i},"ax",@progbits\n.globl f{i}\nf{i}:\nret')
    out.insert(2, f'.section .text.only,"ax",@progbits\nonly:\ncall {KLP}\nret')
    out.append(f'.section .text.last,"ax",@progbits\n.globl last\nlast:\n'
               f'call {KLP}\ncall f65999\nret')
    return "\n".join(out) + "\n"


def test_extended_numbering_is_refused(tmp_path, capsys):
    src = assemble(_asm(), tmp_path / "many.o")
    before = src.read_bytes()
    assert struct.unpack_from("<HH", before, 60) == (0, 0xFFFF)
    assert any(s.type == 18 for s in Elf(before).sections), "no .symtab_shndx"
    count = len(Elf(before).sections) + 1       # one .rela out, two .klp in
    status, _o, err = run([src, tmp_path / "many.ko"], capsys)
    assert status == 1
    assert err == (f"klp-convert: {src}: the converted module would have "
                   f"{count} sections: the kernel loads at most 65279 "
                   "(no extended section numbering: e_shnum 0 is refused with "
                   "\"Invalid ELF section name index\", elf_validity_check())\n")
    assert not (tmp_path / "many.ko").exists() and src.read_bytes() == before
    # --list reads the extended numbering and gives the same answer
    assert run(["--list", src], capsys) == (1, "", err)


def _near_limit(total_in: int) -> str:
    """An object of @total_in sections (8 fixed ones, plain text sections,
    two sections with an ordinary and a klp relocation each): converting it
    adds two .klp.rela sections and drops none."""
    out = ['.section .modinfo,"a"', '.asciz "livepatch=Y"']
    for i in range(total_in - 8 - 4):
        out.append(f'.section .text.p{i},"ax",@progbits\nret')
    for m in range(2):
        out.append(f'.section .text.m{m},"ax",@progbits\ncall {KLP}\n'
                   'call printk\nret')
    return "\n".join(out) + "\n"


def test_conversion_crossing_the_limit_is_refused(tmp_path, capsys):
    src = assemble(_near_limit(LIMIT - 1), tmp_path / "cross.o")
    assert len(Elf(src.read_bytes()).sections) == LIMIT - 1
    status, _o, err = run([src, tmp_path / "cross.ko"], capsys)
    assert status == 1
    assert f"would have {LIMIT + 1} sections" in err
    assert not (tmp_path / "cross.ko").exists()


def test_conversion_just_below_the_limit(tmp_path):
    """65,277 sections in, 65,279 out: e_shnum holds the count itself, and
    every symbol its section index directly."""
    src = assemble(_near_limit(LIMIT - 3), tmp_path / "below.o")
    out = tmp_path / "below.ko"
    assert run([src, out]) == (0, "", "")
    raw = out.read_bytes()
    assert struct.unpack_from("<H", raw, 60)[0] == LIMIT - 1
    after, before = Elf(raw), Elf(src.read_bytes())
    assert all(s.shndx != 0xFFFF for s in after.symbols)
    check_structure(after)
    assert reloc_multiset(after) == reloc_multiset(before)
    assert apply_module(after) == apply_unconverted(before)
    check_accepted(out)
