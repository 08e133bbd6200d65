# SPDX-License-Identifier: GPL-2.0-only
"""The kernel's lookup rule, and the text readers: /proc/kallsyms dumps
and System.map (synthetic cases; test_realdata.py has Debian's)."""

from __future__ import annotations

import pytest

import symtest  # noqa: F401  (puts klp_convert on sys.path)
from klp_convert.ksyms import SymbolSourceError
from klp_convert.ksyms import (ADDRESS_ZERO, AMBIGUOUS, FOUND, NOT_FOUND,
                               PAST_END, Occurrence, klp_find)
from klp_convert.ksyms_open import open_source
from klp_convert.ksyms_text import TextSource

DUMP = """\
ffffffff81000000 T _text
ffffffff81000100 t show_stat
ffffffff81000200 T schedule
ffffffff81000300 t show_stat
0000000000000000 A fixed_percpu_data
ffffffff81000400 t foo.constprop.0
ffffffffc0001000 t helper\t[mod_a]
ffffffffc0001100 T mod_a_export\t[mod_a]
ffffffffc0001200 t helper\t[mod_a]
0000000000000000 U printk\t[mod_a]
ffffffffc0002000 t helper\t[mod_b]
ffffffffc0003000 t bpf_prog_1234_helper\t[bpf]
"""


def occ(addr, name="x", section=None):
    return Occurrence(name, addr, section, "t", None, 1)


@pytest.mark.parametrize("addrs, pos, status, index", [
    ([], 0, NOT_FOUND, None),
    ([], 1, NOT_FOUND, None),
    ([0x10], 0, FOUND, 0),
    ([0x10], 1, FOUND, 0),
    ([0x10], 2, PAST_END, None),
    ([0x10, 0x20], 0, AMBIGUOUS, None),
    ([0x10, 0x20], 2, FOUND, 1),
    ([0x10, 0x20, 0x30], 3, FOUND, 2),
    ([0x10, 0x20], 3, PAST_END, None),
    ([0], 0, ADDRESS_ZERO, 0),           # fixed_percpu_data on x86_64 6.1
    ([0x10, 0], 2, ADDRESS_ZERO, 1),
    ([None, None], 2, FOUND, 1),         # kptr_restrict: no addresses
])
def test_klp_find(addrs, pos, status, index):
    occs = [occ(a) for a in addrs]
    look = klp_find(occs, pos)
    assert look.status == status and look.count == len(addrs)
    assert look.occurrence is (occs[index] if index is not None else None)


def test_klp_find_module_offset_zero_is_an_address():
    """A .ko gives section offsets: .text+0 is a real symbol."""
    assert klp_find([occ(0, section=".text")], 0).status == FOUND


@pytest.fixture
def dump(tmp_path):
    p = tmp_path / "kallsyms.txt"
    p.write_text(DUMP)
    return p


def where(syms, name):
    """(address, type) of each occurrence; their order in the source must
    be the order given."""
    occs = syms.occurrences(name)
    assert [o.index for o in occs] == sorted(o.index for o in occs)
    return [(o.addr, o.type) for o in occs]


def test_kallsyms_objects_and_order(dump):
    src = open_source(str(dump))
    assert src.kind == "kallsyms" and isinstance(src, TextSource)
    assert src.objects() == ["vmlinux", "mod_a", "mod_b"]     # not [bpf]
    vm = src.get("vmlinux")
    assert where(vm, "show_stat") == [(0xffffffff81000100, "t"),
                                      (0xffffffff81000300, "t")]
    assert where(src.get("mod_a"), "helper") == [
        (0xffffffffc0001000, "t"), (0xffffffffc0001200, "t")]
    assert where(src.get("mod_b"), "helper") == [(0xffffffffc0002000, "t")]
    assert vm.occurrences("helper") == []        # vmlinux lines only
    assert src.get("mod_a").occurrences("printk") == []    # 'U' lines
    assert where(vm, "fixed_percpu_data") == [(0, "A")]
    assert src.get("bpf") is None and src.get("nosuch") is None


def test_kallsyms_substrings_do_not_match(dump):
    vm = open_source(str(dump)).get("vmlinux")
    assert vm.occurrences("stat") == [] and vm.occurrences("foo") == []
    assert vm.occurrences("constprop.0") == []
    assert where(vm, "foo.constprop.0") == [(0xffffffff81000400, "t")]
    assert open_source(str(dump)).get("mod_a").occurrences("mod_a") == []


def test_prefetch_many_names_equals_one_by_one(dump):
    """Above 16 names the reader takes one pass over every line: it must
    give what one search per name gives."""
    names = {"show_stat", "schedule", "helper", "_text", "fixed_percpu_data",
             "foo.constprop.0", "printk", "mod_a_export"} | \
        {f"absent_{i}" for i in range(20)}
    for obj in ("vmlinux", "mod_a"):
        one, many = (open_source(str(dump)).get(obj) for _ in range(2))
        many.prefetch(names)
        assert {n: many.occurrences(n) for n in names} == \
            {n: one.occurrences(n) for n in names}


def test_unordered_dump_is_grouped_by_object(tmp_path):
    """A dump that is not in /proc/kallsyms shape (here concatenated from
    two greps) still counts each object's lines in file order."""
    lines = DUMP.splitlines(keepends=True)
    p = tmp_path / "k.txt"
    p.write_text("".join(lines[6:9] + lines[:6] + lines[9:]))
    src = open_source(str(p))
    assert where(src.get("mod_a"), "helper") == [
        (0xffffffffc0001000, "t"), (0xffffffffc0001200, "t")]
    assert where(src.get("vmlinux"), "show_stat") == [
        (0xffffffff81000100, "t"), (0xffffffff81000300, "t")]


def test_hidden_addresses(tmp_path):
    p = tmp_path / "k.txt"
    p.write_text("".join("0" * 16 + line[16:] for line in
                         DUMP.splitlines(keepends=True)))
    src = open_source(str(p))
    vm = src.get("vmlinux")
    assert not vm.addresses_known
    assert [o.addr for o in vm.occurrences("show_stat")] == [None, None]
    # order is all that counts: position 2 still resolves
    assert klp_find(vm.occurrences("show_stat"), 2).status == FOUND
    assert klp_find(vm.occurrences("fixed_percpu_data"), 0).status == FOUND
    assert vm.occurrences("show_stat")[0].where == "(address hidden)"


SYSMAP = """\
0000000000000000 D fixed_percpu_data
0000000000001000 A some_absolute
ffffffff81000000 T _text
ffffffff81000100 t show_stat
ffffffff81000300 t show_stat
ffffffff82000000 R kallsyms_names
ffffffff82000100 T __kcfi_typeid_foo
ffffffff82000200 A __gp
"""


def test_system_map_applies_the_kallsyms_filter(tmp_path):
    p = tmp_path / "System.map-6.1.0-test"
    p.write_text(SYSMAP)
    src = open_source(str(p))
    assert src.kind == "System.map"
    vm = src.get("vmlinux")
    assert len(vm.occurrences("show_stat")) == 2
    assert vm.occurrences("some_absolute") == []     # absolute: dropped
    assert len(vm.occurrences("__gp")) == 1           # kept absolute
    assert vm.occurrences("kallsyms_names") == []    # 6.1 ignored name
    assert vm.occurrences("__kcfi_typeid_foo") == []
    assert where(vm, "fixed_percpu_data") == [(0, "D")]
    # the same lines read as a dump keep them: kallsyms already filtered
    dump = open_source(f"kallsyms:{p}").get("vmlinux")
    assert len(dump.occurrences("some_absolute")) == 1
    assert open_source(f"sysmap:{tmp_path / 'System.map-6.1.0-test'}") \
        .kind == "System.map"


def test_bad_sources(tmp_path):
    p = tmp_path / "junk"
    p.write_bytes(b"\x00\x01binary")
    with pytest.raises(SymbolSourceError) as e:
        open_source(str(p))
    assert e.value.path == str(p) and "not a symbol source" in str(e.value)
    p.write_text("hello\n")
    with pytest.raises(SymbolSourceError, match="no symbols: not a kallsyms"):
        open_source(str(p))
    with pytest.raises(SymbolSourceError, match="No such file"):
        open_source(str(tmp_path / "missing"))
    with pytest.raises(SymbolSourceError, match="not a directory"):
        open_source(f"moddir:{p}")


def test_compressed_dump_and_system_map(tmp_path):
    import gzip
    import lzma
    gz = tmp_path / "kallsyms.txt.gz"
    gz.write_bytes(gzip.compress(DUMP.encode()))
    src = open_source(str(gz))
    assert src.kind == "kallsyms" and len(src.get("mod_a").occurrences(
        "helper")) == 2
    xz = tmp_path / "System.map-6.1.0-test.xz"
    xz.write_bytes(lzma.compress(SYSMAP.encode()))
    src = open_source(str(xz))
    assert src.kind == "System.map"
    assert src.get("vmlinux").occurrences("some_absolute") == []


@pytest.mark.parametrize("width", [16, 8])
def test_prefetch_with_any_address_width(tmp_path, width):
    """One pass over the names slices them at a fixed column when every
    line has the same address width, and parses each line otherwise."""
    lines = [f"{0x81000000 + 16 * i:0{width}x} t name_{i % 30}\n"
             for i in range(90)]
    p = tmp_path / "k.txt"
    p.write_text("".join(lines))
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("".join(lines[:45]) + "81000999 T odd_one\n" +
                     "".join(lines[45:]))
    names = {f"name_{i}" for i in range(1, 30)} | {"odd_one"}
    hidden = tmp_path / "hidden.txt"        # identical lines of homonyms
    hidden.write_text("".join("0" * width + ln[width:] for ln in lines))
    for path in (p, mixed, hidden):
        many, one = (open_source(str(path)).get("vmlinux") for _ in range(2))
        many.prefetch(names)
        for n in names:
            assert many.occurrences(n) == one.occurrences(n)
        assert len(many.occurrences("name_7")) == 3
