# SPDX-License-Identifier: GPL-2.0-only
"""The ELF readers (a module, also compressed; a vmlinux) and the module
directory, on files built at test time."""

from __future__ import annotations

import gzip
import lzma
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import symtest  # noqa: F401  (puts klp_convert on sys.path)
from symtest import assemble, calls, run
from klp_convert import ksyms_elf
from klp_convert.ksyms import SymbolSourceError
from klp_convert.ksyms import FOUND, klp_find
from klp_convert.ksyms_open import open_source

# Two objects linked with ld -r, as a module's .ko: each has its STT_FILE.
MOD_A = """\
.file "a.c"
.text
helper: ret
.section .init.text,"ax",@progbits
early: ret
dup_init: ret
.section .data..percpu,"aw",@progbits
pcpu_var: .quad 0
.data
shared: .quad 0
.set absval, 42
.section .modinfo,"a"
.asciz "name=my_mod"
__UNIQUE_ID_license1: .asciz "license=GPL"
.text
.globl exported_fn
exported_fn: ret
"""
MOD_B = """\
.file "b.c"
.text
helper: ret
dup_init: ret
.section __ksymtab,"a"
__ksymtab_exported_fn: .quad 0
.bss
shared: .zero 8
"""


def build_module(tmp: Path, name: str = "my-mod.ko") -> Path:
    objs = []
    for tag, asm in (("a", MOD_A), ("b", MOD_B)):
        src = tmp / f"{tag}.s"
        src.write_text(asm)
        subprocess.run(["as", "--64", str(src), "-o", str(tmp / f"{tag}.o")],
                       check=True)
        objs.append(str(tmp / f"{tag}.o"))
    out = tmp / name
    subprocess.run(["ld", "-r", *objs, "-o", str(out)], check=True)
    return out


def view(occs):
    return [(o.section, o.type, o.file) for o in occs]


@pytest.fixture
def module(tmp_path):
    return open_source(str(build_module(tmp_path)))


def test_module_views(module):
    """Live (core) symbols, and the whole table while the module loads."""
    assert module.kind == "module" and module.objects() == ["my_mod"]
    syms = module.get("my_mod")
    assert view(syms.occurrences("helper")) == [
        (".text", "t", "a.c"), (".text", "t", "b.c")]
    assert view(syms.occurrences("dup_init")) == [(".text", "t", "b.c")]
    assert view(syms.load_occurrences("dup_init")) == [
        (".init.text", "t", "a.c"), (".text", "t", "b.c")]
    assert syms.occurrences("early") == []
    assert view(syms.load_occurrences("early")) == [
        (".init.text", "t", "a.c")]
    assert view(syms.occurrences("pcpu_var")) == [
        (".data..percpu", "a", "a.c")]
    assert syms.occurrences("absval") == []         # SHN_ABS: not core
    assert view(syms.load_occurrences("absval")) == [("*ABS*", "a", "a.c")]
    assert syms.occurrences("__UNIQUE_ID_license1") == []     # .modinfo
    assert len(syms.load_occurrences("__UNIQUE_ID_license1")) == 1
    assert view(syms.occurrences("shared")) == [(".data", "d", "a.c"),
                                                (".bss", "b", "b.c")]
    # exported through __ksymtab: upper case, like /proc/kallsyms
    assert view(syms.occurrences("exported_fn")) == [(".text", "T", None)]
    helper = syms.occurrences("helper")
    assert helper[0].where == ".text+0x0" and helper[1].addr > 0


def test_module_rule_in_both_views(module):
    syms = module.get("my_mod")
    live = klp_find(syms.occurrences("dup_init"), 0)
    early = klp_find(syms.load_occurrences("dup_init"), 0)
    assert live.status == FOUND and early.status == "ambiguous"


@pytest.mark.parametrize("suffix, pack", [(".ko.xz", lzma.compress),
                                          (".ko.gz", gzip.compress)])
def test_compressed_modules(tmp_path, suffix, pack):
    plain = build_module(tmp_path)
    packed = tmp_path / f"my-mod{suffix}"
    packed.write_bytes(pack(plain.read_bytes()))
    a, b = open_source(str(plain)).get("my_mod"), \
        open_source(str(packed)).get("my_mod")
    for name in ("helper", "dup_init", "shared", "absval"):
        assert a.occurrences(name) == b.occurrences(name)
        assert a.load_occurrences(name) == b.load_occurrences(name)


def test_zstd_without_support_is_a_clear_error(tmp_path, monkeypatch):
    """Python reads zstd only from 3.14 on (or with zstandard): without
    either, a .ko.zst is refused with what to do."""
    packed = tmp_path / "my-mod.ko.zst"
    packed.write_bytes(ksyms_elf.ZSTD_MAGIC + b"a zstd frame")
    monkeypatch.setitem(sys.modules, "zstandard", None)
    monkeypatch.setitem(sys.modules, "compression", None)
    with pytest.raises(SymbolSourceError) as e:
        open_source(str(packed))
    assert e.value.path == str(packed)
    assert str(e.value) == (
        "zstd-compressed file, and this Python cannot read zstd (it needs "
        "Python 3.14 or the zstandard module, Debian's python3-zstandard); "
        "decompress it first with unzstd")


def test_corrupt_compressed_module(tmp_path):
    bad = tmp_path / "x.ko.xz"
    bad.write_bytes(ksyms_elf.XZ_MAGIC + b"garbage")
    with pytest.raises(SymbolSourceError, match="cannot decompress"):
        open_source(str(bad))


def test_module_name_from_file_without_modinfo_name(tmp_path):
    src = tmp_path / "m.s"
    src.write_text(".text\nfoo: ret\n")
    subprocess.run(["as", "--64", str(src), "-o", str(tmp_path / "m.o")],
                   check=True)
    ko = tmp_path / "snd-foo-bar.ko"
    subprocess.run(["ld", "-r", str(tmp_path / "m.o"), "-o", str(ko)],
                   check=True)
    assert open_source(str(ko)).objects() == ["snd_foo_bar"]


# -- vmlinux ---------------------------------------------------------------

VM_A = """
static int __attribute__((noinline, used)) show(int x) { return x + 1; }
int counter_a = 3;
static int table[4] __attribute__((used));
int __attribute__((weak)) maybe(void) { return 1; }
int main(void) { return show(counter_a) + table[0]; }
"""
VM_B = """
static int __attribute__((noinline, used)) show(int x) { return x * 2; }
static const int table[4] __attribute__((used)) = {1, 2, 3, 4};
int __crc_something = 1;
int use_b(int x) { return show(x) + table[x & 3]; }
"""

MKSYSMAP = re.compile(r" [aNUw] | \$| \.L| __crc_| __kstrtab_| __kstrtabns_")


@pytest.fixture
def vmlinux(tmp_path):
    for tag, src in (("a", VM_A), ("b", VM_B)):
        (tmp_path / f"{tag}.c").write_text(src)
    out = tmp_path / "vmlinux"
    subprocess.run(["gcc", "-O2", "-fno-pie", "-no-pie", "-nostdlib",
                    "-static", "-Wl,-e,main", str(tmp_path / "a.c"),
                    str(tmp_path / "b.c"), "-o", str(out)], check=True)
    return out


def nm_oracle(path: Path) -> dict:
    """What kallsyms would hold, from binutils: `nm -n`, scripts/mksysmap's
    patterns, then absolute symbols dropped (scripts/kallsyms)."""
    out = subprocess.run(["nm", "-n", str(path)], capture_output=True,
                         text=True, check=True).stdout
    names: dict = {}
    for line in out.splitlines():
        if MKSYSMAP.search(line):
            continue
        addr, typ, name = line.split()
        if typ in "AuUnN":
            continue
        names.setdefault(name, []).append((int(addr, 16), typ))
    return names


def test_vmlinux_matches_nm(vmlinux):
    """nm's letters and address order, and scripts/mksysmap's filter,
    for every symbol of a linked executable."""
    src = open_source(str(vmlinux))
    assert src.kind == "vmlinux" and src.objects() == ["vmlinux"]
    vm = src.get("vmlinux")
    oracle = nm_oracle(vmlinux)
    assert "show" in oracle and "table" in oracle and "maybe" in oracle
    names = set(oracle) | set(vm.all_names())
    vm.prefetch(names)
    got = {n: [(o.addr, o.type) for o in vm.occurrences(n)] for n in names}
    assert {n: v for n, v in got.items() if v} == oracle
    assert vm.occurrences("__crc_something") == []


def test_vmlinux_source_files(vmlinux):
    """Address order, not table order: b.c's read-only table comes before
    a.c's bss one although a.c's symbols come first in .symtab."""
    vm = open_source(f"vmlinux:{vmlinux}").get("vmlinux")
    assert [(o.type, o.file) for o in vm.occurrences("show")] == [
        ("t", "a.c"), ("t", "b.c")]
    table = vm.occurrences("table")
    assert [(o.type, o.file) for o in table] == [("r", "b.c"), ("b", "a.c")]
    assert table[0].addr < table[1].addr and table[0].index > table[1].index
    assert vm.occurrences("counter_a")[0].file is None        # global
    assert [o.type for o in vm.occurrences("maybe")] == ["W"]


# -- module directory ----------------------------------------------------

def test_module_directory(tmp_path):
    tree = tmp_path / "lib" / "modules" / "6.1.0-test"
    (tree / "kernel" / "drivers").mkdir(parents=True)
    ko = build_module(tmp_path)
    shutil.copy(ko, tree / "kernel" / "drivers" / "my-mod.ko")
    (tree / "kernel" / "other.ko.xz").write_bytes(
        lzma.compress(ko.read_bytes()))
    (tree / "modules.dep").write_text(
        "kernel/drivers/my-mod.ko:\nkernel/other.ko.xz: "
        "kernel/drivers/my-mod.ko\n")
    src = open_source(str(tree))
    assert src.kind == "module directory"
    assert sorted(src.objects()) == ["my_mod", "other"]
    assert len(src.get("my_mod").occurrences("helper")) == 2
    assert src.get("my-mod") is None and src.get("nosuch") is None
    assert src.holders({"helper", "nowhere"}) == {
        "helper": ["my_mod", "other"], "nowhere": []}
    (tree / "modules.dep").unlink()              # walked instead
    assert sorted(open_source(str(tree)).objects()) == ["my_mod", "other"]


def test_module_directory_twice(tmp_path):
    tree = tmp_path / "mods"
    (tree / "updates").mkdir(parents=True)
    (tree / "kernel").mkdir()
    ko = build_module(tmp_path)
    shutil.copy(ko, tree / "updates" / "my-mod.ko")
    shutil.copy(ko, tree / "kernel" / "my_mod.ko")
    src = open_source(str(tree))
    with pytest.raises(SymbolSourceError, match="module 'my_mod' is there "
                       "more than once"):
        src.get("my_mod")
    (tree / "updates" / "my-mod.ko").unlink()
    (tree / "kernel" / "my_mod.ko").unlink()
    with pytest.raises(SymbolSourceError, match="no kernel modules"):
        open_source(str(tree))


def test_holders_in_a_tree_of_compressed_modules(tmp_path):
    """The "also in" search reads compressed modules (Debian's trees are
    all .ko.xz since trixie); a damaged one, a FIFO and a module without
    the name are skipped."""
    tree = tmp_path / "lib" / "modules" / "6.12.0-test" / "kernel"
    (tree / "drivers").mkdir(parents=True)
    ko = build_module(tmp_path)
    (tree / "drivers" / "my-mod.ko.xz").write_bytes(
        lzma.compress(ko.read_bytes()))
    (tree / "other.ko.gz").write_bytes(gzip.compress(
        build_module(tmp_path, "other.ko").read_bytes().replace(
            b"helper\0", b"helpex\0")))
    (tree / "damaged.ko.xz").write_bytes(lzma.compress(ko.read_bytes())[:60])
    os.mkfifo(tree / "fifo.ko.xz")
    src = open_source(str(tree.parent))
    found = src.holders({"helper", "exported_fn", "nowhere"})
    assert {k: sorted(v) for k, v in found.items()} == {
        "helper": ["my_mod"], "exported_fn": ["my_mod", "other"],
        "nowhere": []}
    assert len(src.get("my_mod").occurrences("helper")) == 2


def test_not_found_hint_from_compressed_modules(tmp_path, capsys):
    """Through main(): the hint names the module of a .ko.xz tree."""
    tree = tmp_path / "mods"
    tree.mkdir()
    (tree / "my-mod.ko.xz").write_bytes(
        lzma.compress(build_module(tmp_path).read_bytes()))
    dump = tmp_path / "kallsyms.txt"
    dump.write_text("ffffffff81000000 T _text\n")
    lp = assemble(tmp_path / "lp.ko",
                  calls(".klp.sym.rela.vmlinux.vmlinux.helper,0"))
    status, _o, err = run(["--symbols", dump, "--symbols", tree, lp], capsys)
    assert status == 1
    assert f"klp-convert: {lp}:   'helper' is in module 'my_mod': is " \
        "sym-obj right?" in err.splitlines(), err
