# SPDX-License-Identifier: GPL-2.0-only
"""Fast unit tests of klp-convert's modules (no root, no network).

Objects are assembled with `as` + `ld -r` in a temporary directory; tests
that need them are skipped when binutils is missing.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(TOP, "scripts", "livepatch"))

from klp_convert import arch as archmod  # noqa: E402
from klp_convert import names, targets  # noqa: E402
from klp_convert.checks import module as modrules  # noqa: E402
from klp_convert.checks import relocations as relrules  # noqa: E402
from klp_convert.checks import symbols as symrules  # noqa: E402
from klp_convert.cli import main  # noqa: E402
from klp_convert.convert import convert, weaken  # noqa: E402
from klp_convert.rewrite import index_map  # noqa: E402
from klp_convert.elf import ElfFile  # noqa: E402
from klp_convert.relocs import Table  # noqa: E402
from klp_convert.errors import (CheckError, ElfFormatError, KlpError,  # noqa: E402
                                SymbolNameError)

SHN_LIVEPATCH = 0xFF20
HAVE_BINUTILS = shutil.which("as") is not None and shutil.which("ld") is not None
needs_binutils = pytest.mark.skipif(not HAVE_BINUTILS, reason="needs as and ld")


# --- names -----------------------------------------------------------------

@pytest.mark.parametrize("full, expect", [
    (".klp.sym.rela.vmlinux.vmlinux.foo,0", ("vmlinux", "vmlinux", "foo", 0)),
    (".klp.sym.rela.vmlinux.vmlinux.foo.3", ("vmlinux", "vmlinux", "foo", 3)),
    (".klp.sym.rela.mod_a.mod_a.bar.constprop.0,12",
     ("mod_a", "mod_a", "bar.constprop.0", 12)),
    (".klp.sym.rela.vmlinux.vmlinux.baz.cold.1",
     ("vmlinux", "vmlinux", "baz.cold", 1)),
])
def test_parse_intermediate(full, expect):
    got = names.parse_intermediate(full)
    assert tuple(got) == expect
    assert names.is_final_name(got.final)
    assert got.final == f".klp.sym.{expect[1]}.{expect[2]},{expect[3]}"


@pytest.mark.parametrize("full", [
    ".klp.sym.rela.vmlinux.foo,0",                  # no sym-obj
    ".klp.sym.rela.vmlinux.vmlinux.foo",            # no sympos
    ".klp.sym.rela.vmlinux.vmlinux.foo,x1",         # non-decimal sympos
    ".klp.sym.rela.vmlinux.vmlinux.a,b,0",          # ',' in symname
    ".klp.sym.rela.my-mod.my-mod.foo,0",            # '-' in object name
    ".klp.sym.rela." + "m" * 56 + "." + "m" * 56 + ".foo,0",
    ".klp.sym.rela.vmlinux.vmlinux." + "s" * 512 + ",0",
    ".klp.sym.rela.vmlinux.vmlinux.,0",             # empty symname
    ".klp.sym.rela..vmlinux.foo,0",                 # empty lp-obj
])
def test_parse_intermediate_refuses(full):
    with pytest.raises(SymbolNameError):
        names.parse_intermediate(full)


def test_limits_exactly():
    full = ".klp.sym.rela." + "m" * 55 + "." + "m" * 55 + "." + "s" * 511 + ",0"
    assert names.parse_intermediate(full).pos == 0


# --- checks ----------------------------------------------------------------

def test_module_specific_vmlinux_symbol_refused():
    assert "vmlinux symbol" in symrules.objects(names.parse_intermediate(
        ".klp.sym.rela.mod.vmlinux.foo,0"))
    assert symrules.objects(names.parse_intermediate(
        ".klp.sym.rela.mod.mod.foo,0")) is None


@pytest.mark.parametrize("sec", ["__jump_table", ".static_call_sites",
                                 ".altinstructions", ".parainstructions",
                                 ".smp_locks", "__bug_table", "__ex_table",
                                 ".orc_unwind_ip", ".retpoline_sites",
                                 ".return_sites", ".call_sites",
                                 ".ibt_endbr_seal"])
def test_special_sections(sec):
    assert targets.load_time_use(sec)
    assert targets.load_time_use(".text." + sec) is None


def test_module_checks():
    assert "livepatch=Y" in modrules.not_livepatch([b"license=GPL"])
    assert "signature" in modrules.signed(b"x~Module signature appended~\n")
    assert modrules.signed(b"\x7fELF") is None
    assert modrules.not_livepatch([b"license=GPL", b"livepatch=Y"]) is None


# --- arch ------------------------------------------------------------------

X86 = archmod.ARCHES[62]


@pytest.mark.parametrize("rtype", [0, 1, 2, 4, 11, 24])
def test_x86_accepted_types(rtype):
    assert relrules.rtype(X86, rtype) is None


@pytest.mark.parametrize("rtype", [3, 9, 41, 42, 26, 10])   # GOT32, GOTPCREL, ..., 32
def test_x86_refused_types(rtype):
    assert relrules.rtype(X86, rtype)


def test_x86_site_check():
    data = bytes(8) + b"\x01" + bytes(15)
    assert relrules.site_nonzero(X86, data, [0, 12, 16], [2, 1, 1]) is None
    assert relrules.site_nonzero(X86, data, [0, 6], [2, 2])[0] == 1
    # mixed widths, and types that write nothing (R_X86_64_NONE)
    assert relrules.site_nonzero(X86, data, [8, 0, 12], [0, 2, 1]) is None
    assert relrules.site_nonzero(X86, data, [0, 8, 5], [1, 0, 2])[0] == 2
    assert relrules.site_nonzero(X86, data, [16, 4], [1, 1])[0] == 1
    # past the end: found before the site check, on every architecture
    assert relrules.site_outside(X86, len(data), [0, 20], [2, 1])[0] == 1
    assert relrules.site_outside(X86, len(data), [0, 16], [2, 1]) is None


def test_index_map():
    assert index_map(5, {1, 3}) == [0, -1, 1, -1, 2]
    assert index_map(3, set()) == [0, 1, 2]


# --- whole objects ---------------------------------------------------------

ASM = r"""
    .section .modinfo,"a"
    .asciz "livepatch=Y"
    .section .text.f,"ax",@progbits
    .globl f
f:
    call ".klp.sym.rela.vmlinux.vmlinux.foo,0"
    call ".klp.sym.rela.vmlinux.vmlinux.foo.0"
    call Q_klp_sym_rela_vmlinux_vmlinux_foo0
    call Q_klp_sym_rela_vmlinux_vmlinux_bar0
    call printk
    movq ".klp.sym.rela.mod_a.mod_a.var,1"(%rip), %rax
    ret
    .section .debug_info,"",@progbits
    .quad ".klp.sym.rela.vmlinux.vmlinux.foo,0"
    .section .rodata.str1.1,"aMS",@progbits,1
    .asciz "mod_a"
"""


@pytest.fixture
def obj(tmp_path):
    if not HAVE_BINUTILS:
        pytest.skip("needs as and ld")
    (tmp_path / "m.s").write_text(ASM)
    subprocess.run(["as", "--64", "-o", str(tmp_path / "m0.o"),
                    str(tmp_path / "m.s")], check=True)
    subprocess.run(["ld", "-r", "-o", str(tmp_path / "m.o"),
                    str(tmp_path / "m0.o")], check=True)
    return tmp_path / "m.o"


def _symbols(raw):
    elf = ElfFile(raw)
    return [(elf.symbol_name(s, i), s) for i, s in enumerate(elf.symbols())]


def _rela_sections(raw):
    elf = ElfFile(raw)
    out = {}
    for ri in elf.rel_sections():
        sec = elf.sections[ri]
        table = Table(sec, elf.endian)
        out[sec.name] = (sec, list(zip(table.offsets(), table.symbols(),
                                       table.types())))
    return elf, out


def test_convert_merges_and_keeps_debug(obj):
    raw = obj.read_bytes()
    res = convert(raw)
    assert res.symbols == 3 and res.merged == 1 and res.relocations == 3
    syms = dict(_symbols(res.output))
    for name in (".klp.sym.vmlinux.foo,0", ".klp.sym.mod_a.var,1"):
        assert syms[name][3] == SHN_LIVEPATCH
        assert syms[name][1] == 0x10          # GLOBAL NOTYPE
    assert not any(n.startswith(".klp.sym.rela.") for n in syms)
    elf, rel = _rela_sections(res.output)
    names_by_index = [n for n, _ in _symbols(res.output)]
    assert sorted(rel) == [".klp.rela.mod_a..text.f", ".klp.rela.vmlinux..text.f",
                           ".rela.debug_info", ".rela.text.f"]
    sec, entries = rel[".klp.rela.vmlinux..text.f"]
    assert sec.sh_flags == 0x2 | 0x40 | 0x00100000 and sec.sh_entsize == 24
    assert elf.sections[sec.sh_info].name == ".text.f"
    assert [names_by_index[s] for _, s, _ in entries] == \
        [".klp.sym.vmlinux.foo,0"] * 2
    # debug relocation stays, against the converted symbol
    assert [names_by_index[s] for _, s, _ in rel[".rela.debug_info"][1]] == \
        [".klp.sym.vmlinux.foo,0"]
    # ordinary relocations stay
    assert {names_by_index[s] for _, s, _ in rel[".rela.text.f"][1]} == \
        {"Q_klp_sym_rela_vmlinux_vmlinux_foo0",
         "Q_klp_sym_rela_vmlinux_vmlinux_bar0", "printk"}
    # idempotent
    assert convert(res.output).output is None


def test_mixed_existing_and_intermediate(obj):
    """A module that already has SHN_LIVEPATCH symbols and also new
    intermediate ones: convert the new ones, keep the old, share a symbol
    when the final names are equal."""
    first = convert(obj.read_bytes()).output
    mixed = first.replace(b"Q_klp_sym_rela_vmlinux_vmlinux_foo0",
                          b".klp.sym.rela.vmlinux.vmlinux.foo,0") \
                 .replace(b"Q_klp_sym_rela_vmlinux_vmlinux_bar0",
                          b".klp.sym.rela.vmlinux.vmlinux.bar,0")
    res = convert(mixed)
    assert res.symbols == 2 and res.merged == 1
    syms = [n for n, _ in _symbols(res.output)]
    assert syms.count(".klp.sym.vmlinux.foo,0") == 1
    assert ".klp.sym.vmlinux.bar,0" in syms
    elf, rel = _rela_sections(res.output)
    names_by_index = syms
    klp_names = [s.name for s in elf.sections if s.name.startswith(".klp.rela.")]
    assert sorted(klp_names) == [".klp.rela.mod_a..text.f",
                                 ".klp.rela.vmlinux..text.f"]   # no duplicate
    assert [names_by_index[s] for _, s, _ in rel[".rela.text.f"][1]] == ["printk"]
    klp = [names_by_index[s] for _, s, _ in
           rel[".klp.rela.vmlinux..text.f"][1]]
    assert sorted(klp) == sorted([".klp.sym.vmlinux.foo,0"] * 3 +
                                 [".klp.sym.vmlinux.bar,0"])
    assert convert(res.output).output is None


def test_weaken_then_convert(obj):
    raw = obj.read_bytes()
    weak, n = weaken(raw)
    assert n == 3 and weak is not None and len(weak) == len(raw)
    assert weaken(weak)[0] is None
    for name, s in _symbols(weak):
        if name.startswith(".klp.sym.rela."):
            assert s[1] >> 4 == 2   # STB_WEAK
    a, b = convert(raw).output, convert(weak).output
    assert a == b


def test_cli_errors_name_file_and_write_nothing(obj, tmp_path, capsys):
    raw = obj.read_bytes().replace(b"livepatch=Y", b"livepatch=N")
    bad = tmp_path / "bad.o"
    bad.write_bytes(raw)
    out = tmp_path / "out.o"
    assert main([str(bad), str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"klp-convert: {bad}: ") and "livepatch=Y" in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if ".klp.tmp" in p.name] == []


# --- relocs: bulk columns and run splitting --------------------------------

@pytest.mark.parametrize("endian", ["<", ">"])
def test_relocs_table_columns_and_remap(endian):
    from klp_convert import relocs
    from klp_convert.elf import SHT_RELA, Section
    entries = [(0x10, (7 << 32) | 2, -4), (0x1_0000_0020, (300_000 << 32) | 4, 0),
               (0x30, (1 << 32) | 11, 5)]
    data = b"".join(struct.pack(endian + "QQq", *e) for e in entries)
    sec = Section((1, SHT_RELA, 0, 0, 0, len(data), 0, 0, 8, 24), data)
    t = relocs.Table(sec, endian)
    assert list(t.symbols()) == [7, 300_000, 1]
    assert list(t.types()) == [2, 4, 11]
    assert list(t.offsets()) == [0x10, 0x1_0000_0020, 0x30]
    sym_map = {7: 3, 300_000: 299_999, 1: 1}
    remapped = t.remapped([sym_map.get(i, 0) for i in range(300_001)])
    assert [struct.unpack_from(endian + "QQq", remapped, k * 24)
            for k in range(3)] == [
        (o, (sym_map[i >> 32] << 32) | (i & 0xFFFFFFFF), a) for o, i, a in entries]
    bad = Section((1, SHT_RELA, 0, 0, 0, 20, 0, 0, 8, 24), data[:20])
    with pytest.raises(ElfFormatError, match="bad relocation entry size"):
        relocs.Table(bad, endian)


@pytest.mark.parametrize("flags", [b"", b"\0", b"\1", b"\1\1\0\0\1",
                                   b"\0\1\0\1\0\1", bytes(50) + b"\1" * 50])
def test_relocs_split_keeps_order(flags):
    from klp_convert import relocs
    data = b"".join(bytes([k]) * 3 for k in range(len(flags)))
    kept, taken = relocs.split(data, 3, flags)
    assert kept == b"".join(bytes([k]) * 3 for k, f in enumerate(flags) if not f)
    assert taken == b"".join(bytes([k]) * 3 for k, f in enumerate(flags) if f)
    assert relocs.flagged(flags) == [k for k, f in enumerate(flags) if f]
    assert relocs.flags_of([5, 6, 5], {5}) == b"\1\0\1"


def test_temp_file_collisions(obj, tmp_path, capsys):
    """Leftovers of killed runs with our pid are stepped over; when all 100
    names are taken the error names them and the output is untouched."""
    out = tmp_path / "out.ko"
    out.write_bytes(b"old")
    stale = [tmp_path / f".out.ko.{os.getpid()}.{n}.klp.tmp" for n in range(100)]
    for p in stale[:99]:
        p.write_bytes(b"stale")
    assert main([str(obj), str(out)]) == 0
    assert convert(obj.read_bytes()).output == out.read_bytes()
    assert all(p.read_bytes() == b"stale" for p in stale[:99])
    assert not stale[99].exists()
    stale[99].write_bytes(b"stale")
    assert main([str(obj), str(out)]) == 1
    err = capsys.readouterr().err
    assert err == (f"klp-convert: {out}: cannot create a temporary file "
                   f"{tmp_path}/.out.ko.{os.getpid()}.*.klp.tmp\n")
    assert convert(obj.read_bytes()).output == out.read_bytes()


def test_cli_elf32_and_truncated(obj, tmp_path, capsys):
    raw = bytearray(obj.read_bytes())
    e32 = tmp_path / "e32.o"
    raw32 = bytearray(raw)
    raw32[4] = 1        # ELFCLASS32
    e32.write_bytes(bytes(raw32))
    assert main([str(e32)]) == 1
    for cut in (10, 63, 64, 200, len(raw) // 2, len(raw) - 1):
        t = tmp_path / f"t{cut}.o"
        t.write_bytes(bytes(raw[:cut]))
        assert main([str(t)]) == 1, cut
        assert t.read_bytes() == bytes(raw[:cut])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert all(line.startswith("klp-convert: ") for line in err.splitlines())


def test_cli_mode_preserved_and_usage(obj, tmp_path):
    os.chmod(obj, 0o640)
    out = tmp_path / "o.ko"
    assert main([str(obj), str(out)]) == 0
    assert os.stat(out).st_mode & 0o777 == 0o640
    assert main([]) == 2
    assert main(["--bogus", str(obj)]) == 2


def test_unknown_klp_symbol_refused(obj):
    raw = obj.read_bytes().replace(b"Q_klp_sym_rela_vmlinux_vmlinux_bar0",
                                   b".klp.sym.vmlinux.bar,0\0AAAAAAAAAAAA")
    with pytest.raises(KlpError, match="not an intermediate"):
        convert(raw)


def test_big_endian_struct_roundtrip():
    """The writer keeps the byte order of the input (s390x/ppc64 BE are
    covered by the cross-architecture tests with real objects)."""
    assert struct.pack(">Q", 1) != struct.pack("<Q", 1)
