# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert --strip-debug against binutils' strip --strip-debug.

On an ordinary module both remove the same sections.  On a converted
livepatch module binutils 2.40 damages the livepatch records (BFD keeps
one relocation section per target section), --check refuses its output,
and --strip-debug gives a module that --check accepts and that the
kernel model relocates exactly like the unstripped one."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess

import pytest

from convert_support import LIVEPATCH, check_accepted, compile_c, run
from elfcheck import Elf, apply_module, check_structure

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def _binutils_strip(src, dst):
    shutil.copy(src, dst)
    subprocess.run(["strip", "--strip-debug", str(dst)], check=True)
    return dst


def _binutils_version() -> str:
    out = subprocess.run(["strip", "--version"], capture_output=True,
                         text=True, check=True).stdout
    return out.splitlines()[0].split()[-1]


def _section_names(path):
    return [s.name for s in Elf(path.read_bytes()).sections]


def _allocated_relocations(elf):
    """(target, offset, type, addend, symbol or section name, klp?) of every
    relocation the kernel applies."""
    out = []
    for rs in elf.rel_sections():
        target = elf.sections[rs.info]
        if not target.flags & 0x2:
            continue
        for off, si, rtype, add in elf.relas(rs):
            sym = elf.symbols[si]
            name = sym.name or elf.sections[sym.section].name
            out.append((target.name, off, rtype, add, name, bool(rs.flags & 0x100000)))
    return sorted(out)


@pytest.mark.parametrize("fixture,flags", [("plain.c", ["-g"]), ("plain.c", ["-g3"]),
                                           ("comdat.c", ["-g"]), ("lp_basic.c", ["-g"])])
def test_ordinary_object_same_sections_as_binutils(fixture, flags, tmp_path, capsys):
    """Unconverted objects (no livepatch records): the same sections kept,
    in the same order (-g3: COMDAT groups of .debug_macro are removed
    with their members), and readelf and eu-elflint accept the result."""
    src = compile_c(os.path.join(FIXTURES, fixture), tmp_path / "m.o",
                    extra=flags)
    ref = _binutils_strip(src, tmp_path / "ref.o")
    out = tmp_path / "out.o"
    assert run(["--strip-debug", src, out], capsys)[:2] == (0, "")
    assert _section_names(out) == _section_names(ref)
    assert not [n for n in _section_names(out) if n.startswith(".debug")]
    check_accepted(out)
    assert _allocated_relocations(Elf(out.read_bytes())) == \
        _allocated_relocations(Elf(src.read_bytes()))


@pytest.fixture
def converted(fixture_obj, tmp_path):
    """lp_basic.c with debug information, converted: .text.use_funcs,
    .data and .rodata targets have only livepatch relocations."""
    src = fixture_obj("lp_basic.c")
    out = tmp_path / "lp.ko"
    assert run([src, out])[0] == 0
    return out


def test_binutils_strip_damages_a_converted_module(converted, tmp_path, capsys):
    version = _binutils_version()
    damaged = _binutils_strip(converted, tmp_path / "binutils.ko")
    status, _o, err = run(["--check", damaged], capsys)
    assert status == 1, f"binutils {version} strip no longer damages the module"
    assert "refers to symbol 0 (no symbol)" in err, err
    # the damage itself: an ordinary relocation section against symbol 0
    elf = Elf(damaged.read_bytes())
    zero = [(rs.name, off) for rs in elf.rel_sections()
            if not rs.flags & 0x100000 and elf.sections[rs.info].flags & 0x2
            for off, si, _t, _a in elf.relas(rs) if si == 0]
    assert zero, f"binutils {version}: no relocation against symbol 0"


def test_strip_debug_keeps_a_converted_module_right(converted, tmp_path, capsys):
    out = tmp_path / "stripped.ko"
    assert run(["--strip-debug", converted, out], capsys)[:2] == (0, "")
    status, text, err = run(["--check", out], capsys)
    assert status == 0 and "ok: 13 livepatch relocations" in text, err
    before, after = Elf(converted.read_bytes()), Elf(out.read_bytes())
    assert not [s for s in after.sections if s.name.startswith(".debug")]
    check_structure(after)
    check_accepted(out)
    assert apply_module(after) == apply_module(before)
    assert _allocated_relocations(after) == _allocated_relocations(before)
    # the sections that are not relocations are those binutils keeps
    ref = _binutils_strip(converted, tmp_path / "binutils.ko")

    def contents(path):
        return sorted(n for n in _section_names(path)
                      if not n.startswith((".rela", ".klp.rela")))
    assert contents(out) == contents(ref)


def _insert_empty_rela(src, dst, target: str):
    """A copy of @src with an empty ordinary relocation section for
    @target placed just after it (as other tools leave them)."""
    import sys
    sys.path.insert(0, str(LIVEPATCH))
    from klp_convert.elf import SHF_INFO_LINK, SHT_RELA, ElfFile, Section
    from klp_convert.writer import build
    e = ElfFile(src.read_bytes())
    secs = e.sections
    tgt = next(i for i, s in enumerate(secs) if s.name == target)
    pos = tgt + 1
    m = [i if i < pos else i + 1 for i in range(len(secs))]
    e.symtab.data = b"".join(
        struct.pack("<IBBHQQ", n, info, other,
                    m[shndx] if 0 < shndx < 0xFF00 else shndx, v, size)
        for n, info, other, shndx, v, size in e.symbols())
    for s in secs[1:]:
        s.sh_link = m[s.sh_link] if s.sh_link else 0
        if s.sh_type == SHT_RELA and s.sh_info:
            s.sh_info = m[s.sh_info]
    shstr = secs[e.shstrndx]
    name_off = len(shstr.data)
    shstr.data = bytes(shstr.data) + f".rela{target}\0".encode()
    new = Section((name_off, SHT_RELA, SHF_INFO_LINK, 0, 0, 0,
                   m[e.symtab_index], m[tgt], 8, 24), b"")
    new.name = f".rela{target}"
    secs.insert(pos, new)
    dst.write_bytes(build(e.endian, e.ehdr, secs, m[e.shstrndx]))
    return dst


def test_binutils_strip_leaves_stale_indices(converted, tmp_path, capsys):
    """An empty ordinary .rela.data.fptrs kept before its .klp.rela section:
    binutils drops it and copies the livepatch section with its old
    symbol indices, now past the end of the smaller symbol table."""
    src = _insert_empty_rela(converted, tmp_path / "empty.ko", ".data.fptrs")
    assert run(["--check", src], capsys)[0] == 0
    damaged = _binutils_strip(src, tmp_path / "binutils.ko")
    status, _o, err = run(["--check", damaged], capsys)
    assert status == 1
    assert ("section '.klp.rela.vmlinux..data.fptrs': symbol index" in err
            and "past the end of the symbol table" in err), err
    out = tmp_path / "ours.ko"
    assert run(["--strip-debug", src, out], capsys)[0] == 0
    assert run(["--check", out], capsys)[0] == 0
    assert apply_module(Elf(out.read_bytes())) == apply_module(Elf(src.read_bytes()))


def test_in_place_and_nothing_to_strip(converted, tmp_path, capsys):
    out = tmp_path / "copy.ko"
    assert run(["--strip-debug", converted, out], capsys)[0] == 0
    assert run(["--strip-debug", converted], capsys)[0] == 0
    assert converted.read_bytes() == out.read_bytes()
    mtime = os.stat(converted).st_mtime_ns
    assert run(["--strip-debug", converted], capsys)[:2] == (0, "")
    assert os.stat(converted).st_mtime_ns == mtime, "rewritten for nothing"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".klp.tmp")]


def test_refuses_signed_and_compressed(converted, tmp_path, capsys):
    signed = tmp_path / "signed.ko"
    signed.write_bytes(converted.read_bytes() + b"S" * 8 +
                       struct.pack(">BBBBB3xI", 0, 0, 2, 0, 0, 8) +
                       b"~Module signature appended~\n")
    before = signed.read_bytes()
    status, _o, err = run(["--strip-debug", signed], capsys)
    assert status == 1 and "appended signature" in err
    assert signed.read_bytes() == before
    import lzma
    xz = tmp_path / "m.ko.xz"
    xz.write_bytes(lzma.compress(converted.read_bytes(),
                                 check=lzma.CHECK_CRC32))
    status, _o, err = run(["--strip-debug", xz, tmp_path / "o.ko"], capsys)
    assert status == 1 and "xz-compressed module: decompress it first" in err
    assert not (tmp_path / "o.ko").exists()
