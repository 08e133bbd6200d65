# SPDX-License-Identifier: GPL-2.0-only
"""Conversion of real objects compiled from C, checked against an
independent model of the kernel's livepatch relocation code."""

from __future__ import annotations

import os
import subprocess

from convert_support import assemble, check_accepted, run
from elfcheck import (SHN_LIVEPATCH, Elf, apply_module, apply_unconverted,
                      check_structure, reloc_multiset)


def convert(src, tmp_path):
    out = tmp_path / (src.stem + ".ko")
    assert run([src, out]) == (0, "", "")
    return out


def test_oracle_same_bytes_as_direct_link(fixture_obj, tmp_path):
    src = fixture_obj("lp_basic.c")
    out = convert(src, tmp_path)
    before, after = Elf(src.read_bytes()), Elf(out.read_bytes())
    check_structure(after)
    assert apply_module(after) == apply_unconverted(before)
    check_accepted(out)


def test_records(fixture_obj, tmp_path):
    out = convert(fixture_obj("lp_basic.c"), tmp_path)
    elf = Elf(out.read_bytes())
    klp = {s.name for s in elf.symbols if s.shndx == SHN_LIVEPATCH}
    assert klp == {
        ".klp.sym.vmlinux.saved_command_line,0", ".klp.sym.vmlinux.hidden_func,0",
        ".klp.sym.vmlinux.homonym,2", ".klp.sym.vmlinux.foo.constprop.0,1",
        ".klp.sym.test_mod.mod_var,0", ".klp.sym.test_mod.mod_func,1",
        ".klp.sym.other_mod.other_var,0"}
    # ",1" and ".1" spellings share one symbol
    names = [s.name for s in elf.symbols]
    assert names.count(".klp.sym.vmlinux.foo.constprop.0,1") == 1
    secs = {s.name for s in elf.sections}
    assert {".klp.rela.vmlinux..text.use_data", ".klp.rela.test_mod..text.use_data",
            ".klp.rela.other_mod..text.use_data", ".klp.rela.vmlinux..text.use_funcs",
            ".klp.rela.test_mod..text.use_mod", ".klp.rela.vmlinux..data.fptrs",
            } <= secs
    assert any(n.startswith(".klp.rela.vmlinux..data.rel.ro") or
               n.startswith(".klp.rela.vmlinux..rodata") for n in secs)
    # use_funcs only referenced klp symbols: its .rela section is gone
    assert ".rela.text.use_funcs" not in secs
    # use_mod also calls printk: that relocation stays where it was
    rel = elf.by_name(".rela.text.use_mod")
    kept = [elf.symbols[si].name for _o, si, _t, _a in elf.relas(rel)]
    assert "printk" in kept and not [n for n in kept if n.startswith(".klp")]


def test_relocations_preserved(fixture_obj, tmp_path):
    src = fixture_obj("lp_basic.c")
    out = convert(src, tmp_path)
    assert reloc_multiset(Elf(out.read_bytes())) == reloc_multiset(Elf(src.read_bytes()))


def test_other_sections_unchanged(fixture_obj, tmp_path):
    src = fixture_obj("lp_basic.c")
    out = convert(src, tmp_path)
    a, b = Elf(src.read_bytes()), Elf(out.read_bytes())
    changed = {".symtab", ".strtab", ".shstrtab"} | {
        s.name for s in a.rel_sections()}
    for s in a.sections[1:]:
        if s.name not in changed:
            t = b.by_name(s.name)
            assert (t.data, t.flags, t.align, t.type) == (s.data, s.flags, s.align, s.type), s.name


DEBUG_ASM = """
.section .modinfo,"a"
.asciz "livepatch=Y"
.text
.globl f
f:
    call ".klp.sym.rela.vmlinux.vmlinux.foo,0"
    ret
.section .debug_info,"",@progbits
    .quad ".klp.sym.rela.vmlinux.vmlinux.foo,0"
    .quad f
"""


def test_debug_relocations_stay(tmp_path):
    """Relocations of debug sections against a klp symbol stay in their
    .rela.debug_* section (the kernel never applies relocations to
    non-SHF_ALLOC sections, and a .klp.rela section for one would be
    skipped) and follow the renamed symbol."""
    src = assemble(DEBUG_ASM, tmp_path / "debug.o")
    out = convert(src, tmp_path)
    elf = Elf(out.read_bytes())
    rel = elf.by_name(".rela.debug_info")
    assert [(o, elf.symbols[si].name) for o, si, _t, _a in elf.relas(rel)] == [
        (0, ".klp.sym.vmlinux.foo,0"), (8, "f")]
    assert ".klp.rela.vmlinux..text" in {s.name for s in elf.sections}
    assert not [s for s in elf.sections if "klp.rela" in s.name and "debug" in s.name]
    check_structure(elf)
    check_accepted(out)


def test_comdat_groups(fixture_obj, tmp_path):
    src = fixture_obj("comdat.c")
    out = convert(src, tmp_path)
    elf = Elf(out.read_bytes())
    check_structure(elf)
    check_accepted(out)
    import struct
    groups = [s for s in elf.sections if s.type == 17]
    members = {elf.symbols[g.info].name: [elf.sections[i].name for i in
               struct.unpack(f"<{len(g.data) // 4}I", g.data)[1:]] for g in groups}
    assert members["comdat_a"] == [".text.comdat_a"]
    assert members["comdat_b"] == [".text.comdat_b", ".rela.text.comdat_b"]
    assert apply_module(elf) == apply_unconverted(Elf(src.read_bytes()))


def test_no_intermediate_symbols_is_byte_identical(fixture_obj, tmp_path):
    src = fixture_obj("plain.c")
    before = src.read_bytes()
    mtime = os.stat(src).st_mtime_ns
    assert run([src]) == (0, "", "")
    assert os.stat(src).st_mtime_ns == mtime and src.read_bytes() == before
    out = tmp_path / "copy.ko"
    assert run([src, out]) == (0, "", "")
    assert out.read_bytes() == before


def test_idempotent(fixture_obj, tmp_path):
    out = convert(fixture_obj("lp_basic.c"), tmp_path)
    once = out.read_bytes()
    again = tmp_path / "again.ko"
    assert run([out, again]) == (0, "", "")
    assert again.read_bytes() == once
    assert run([out]) == (0, "", "")
    assert out.read_bytes() == once


def test_in_place(fixture_obj, tmp_path):
    src = fixture_obj("lp_basic.c")
    ref = convert(src, tmp_path)
    os.chmod(src, 0o640)
    assert run([src]) == (0, "", "")
    assert src.read_bytes() == ref.read_bytes()
    assert os.stat(src).st_mode & 0o777 == 0o640
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".klp.tmp")]


def test_weaken_then_convert(fixture_obj, tmp_path):
    src = fixture_obj("lp_basic.c")
    ref = convert(src, tmp_path)
    weak = tmp_path / "weak.o"
    weak.write_bytes(src.read_bytes())
    assert run(["--weaken", weak]) == (0, "", "")
    elf = Elf(weak.read_bytes())
    inter = [s for s in elf.symbols if s.name.startswith(".klp.sym.rela.")]
    assert inter and all(s.bind == 2 for s in inter)
    # nothing else changed
    assert sum(x != y for x, y in zip(weak.read_bytes(), src.read_bytes())) == len(inter)
    mtime = os.stat(weak).st_mtime_ns
    assert run(["--weaken", weak]) == (0, "", "")
    assert os.stat(weak).st_mtime_ns == mtime, "unchanged file rewritten"
    out = tmp_path / "weak.ko"
    assert run([weak, out]) == (0, "", "")
    assert out.read_bytes() == ref.read_bytes()
    assert all(s.bind == 1 for s in Elf(out.read_bytes()).symbols
               if s.shndx == SHN_LIVEPATCH)


def test_already_converted_passes_through(fixture_obj, tmp_path):
    """A module converted before (by us or e.g. kpatch) is left alone."""
    out = convert(fixture_obj("lp_basic.c"), tmp_path)
    data = out.read_bytes()
    res = subprocess.run(["python3", "-m", "klp_convert.cli", str(out)],
                         cwd=os.path.join(os.path.dirname(__file__), "..", "..",
                                          "scripts", "livepatch"),
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes() == data


def test_more_records(fixture_obj, tmp_path):
    """lp_more.c: a weak intermediate symbol becomes a GLOBAL livepatch
    symbol; one final name reached through two lp-objs is one symbol used
    by two .klp.rela sections; .rodata and .data targets; a dotted name in
    a module lp-obj."""
    src = fixture_obj("lp_more.c")
    out = convert(src, tmp_path)
    elf = Elf(out.read_bytes())
    check_structure(elf)
    check_accepted(out)
    assert apply_module(elf) == apply_unconverted(Elf(src.read_bytes()))
    klp = [s for s in elf.symbols if s.shndx == SHN_LIVEPATCH]
    assert sorted(s.name for s in klp) == sorted({
        ".klp.sym.vmlinux.weak_var,0", ".klp.sym.vmlinux.table,3",
        ".klp.sym.target_mod.gamma,1", ".klp.sym.mymod.bar.isra.0,0",
        ".klp.sym.vmlinux.baz.cold,1"})
    assert all(s.bind == 1 and s.value == 0 and s.size == 0 for s in klp)
    secs = {s.name: s for s in elf.sections}
    for name in (".klp.rela.target_mod..text.use_gamma",
                 ".klp.rela.other_mod..text.use_gamma",
                 ".klp.rela.vmlinux..rodata.ro_table",
                 ".klp.rela.target_mod..rodata.ro_table",
                 ".klp.rela.vmlinux..data.data_ptrs",
                 ".klp.rela.mymod..text.use_mod"):
        assert name in secs, name
    gamma = [s.index for s in elf.sections
             if s.name.endswith("..text.use_gamma")]
    users = {elf.symbols[si].name for rs in gamma
             for _o, si, _t, _a in elf.relas(elf.sections[rs])}
    assert users == {".klp.sym.target_mod.gamma,1"}
    # jiffies and printk stay ordinary relocations
    rest = {elf.symbols[si].name for rs in elf.rel_sections()
            if not rs.name.startswith(".klp.") for _o, si, _t, _a in elf.relas(rs)}
    assert {"jiffies", "printk"} <= rest
    # weakening first gives the same result
    weak = tmp_path / "weak.o"
    weak.write_bytes(src.read_bytes())
    assert run(["--weaken", weak]) == (0, "", "")
    assert run([weak, tmp_path / "weak.ko"]) == (0, "", "")
    assert (tmp_path / "weak.ko").read_bytes() == out.read_bytes()
