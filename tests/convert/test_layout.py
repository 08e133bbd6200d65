# SPDX-License-Identifier: GPL-2.0-only
"""Section alignment and the size of the written file.

The kernel places each section at its sh_addralign (module_get_offset(),
kernel/module/main.c); binutils accepts any power of two and aligns the
section in the file too (ld -r of a 2 MiB-aligned section puts it at file
offset 0x200000).  Alignments that real kernels use (2 MiB for huge-page
aligned data, and more) must convert; a corrupt one is refused with the
section's name, and a layout that would exceed what the kernel loads is
refused before anything is allocated."""

from __future__ import annotations

import struct

import pytest

from convert_support import assemble, check_accepted, run
from elfcheck import Elf

MODINFO = '.section .modinfo,"a"\n.asciz "livepatch=Y"\n'
KLP = '".klp.sym.rela.vmlinux.vmlinux.foo,0"'


def _module(tmp_path, p2align: int):
    asm = (MODINFO + f'.section .data.big,"aw",@progbits\n.p2align {p2align}\n'
           f'.quad {KLP}\n.text\ncall {KLP}\nret\n')
    return assemble(asm, tmp_path / f"align{p2align}.o")


@pytest.mark.parametrize("p2align", [12, 21, 22])
def test_large_alignment_converts(p2align, tmp_path, capsys):
    src = _module(tmp_path, p2align)
    out = tmp_path / "out.ko"
    status, _o, err = run([src, out], capsys)
    assert status == 0, err
    elf = Elf(out.read_bytes())
    big = elf.by_name(".data.big")
    assert big.align == 1 << p2align
    raw = out.read_bytes()
    shoff = struct.unpack_from("<Q", raw, 0x28)[0]
    offset = struct.unpack_from("<Q", raw, shoff + 64 * big.index + 24)[0]
    assert offset % (1 << p2align) == 0       # as binutils lays it out
    assert ".klp.rela.vmlinux..data.big" in {s.name for s in elf.sections}
    check_accepted(out)


def _set_align(path, name, align):
    raw = bytearray(path.read_bytes())
    elf = Elf(bytes(raw))
    shoff = struct.unpack_from("<Q", raw, 0x28)[0]
    struct.pack_into("<Q", raw, shoff + 64 * elf.by_name(name).index + 48, align)
    path.write_bytes(bytes(raw))


def test_alignment_not_a_power_of_two_names_the_section(tmp_path, capsys):
    src = _module(tmp_path, 3)
    _set_align(src, ".data.big", 24)
    status, _o, err = run([src, tmp_path / "out.ko"], capsys)
    assert status == 1
    assert err.endswith("'.data.big': alignment 24 is not a power of two\n"), err
    assert not (tmp_path / "out.ko").exists()


def test_alignment_too_large_for_a_module(tmp_path, capsys):
    """2^40: a layout of a terabyte is refused from its size, before the
    writer allocates it."""
    src = _module(tmp_path, 3)
    _set_align(src, ".data.big", 1 << 40)
    status, _o, err = run([src, tmp_path / "out.ko"], capsys)
    assert status == 1
    assert "section '.data.big' (alignment 1099511627776)" in err, err
    assert "at most 2147483647 bytes" in err
    assert not (tmp_path / "out.ko").exists()
