# SPDX-License-Identifier: GPL-2.0-only
"""The readers and the verification on Debian's real kernel: a
/proc/kallsyms dumped from the booted kernel (modules with real homonyms
loaded), the image package's modules, and the -dbg package's System.map
and vmlinux (see debian_symbols.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import debian_symbols as debian
from symtest import assemble, calls, run
from klp_convert.ksyms_open import open_source

# The real data: a test that needs it fails with the reason when it cannot
# be produced.  (Fixtures here, not in a conftest.py: tests/convert imports
# its conftest by name.)


def _real(func, *args):
    try:
        return func(*args)
    except debian.RealDataError as exc:
        pytest.fail(f"real Debian symbol data unavailable: {exc}")


@pytest.fixture(scope="session")
def release() -> str:
    return _real(debian.release)


@pytest.fixture(scope="session")
def moddir(release) -> Path:
    return _real(debian.moddir, release)


@pytest.fixture(scope="session")
def kallsyms(release):
    """(real dump, dump with hidden addresses) of the booted kernel."""
    return _real(debian.kallsyms, release)


@pytest.fixture(scope="session")
def dbg(release):
    """(System.map, vmlinux) of the -dbg package."""
    return _real(debian.dbg, release)


R = ".klp.sym.rela."


def dump_lines(path, obj):
    """(name, type, address) of @obj's lines in a dump, in file order,
    without the undefined ones, parsed independently of the readers."""
    out = []
    for line in path.read_text(errors="surrogateescape").splitlines():
        addr, typ, rest = line.split(" ", 2)
        name, _tab, mod = rest.partition("\t")
        if (mod[1:-1] if mod else "vmlinux") == obj and typ not in "Uu":
            out.append((name, typ, int(addr, 16)))
    return out


def dump_modules(path):
    mods = []
    for line in path.read_text().splitlines():
        if "\t[" in line:
            mod = line.rsplit("\t[", 1)[1][:-1]
            if mod not in mods:
                mods.append(mod)
    return mods


def test_the_dump_has_the_modules(kallsyms):
    mods = dump_modules(kallsyms[0])
    assert {"virtio_pci", "vmw_vsock_vmci_transport", "snd_oxygen"} <= \
        set(mods)
    assert open_source(str(kallsyms[0])).objects() == ["vmlinux"] + mods


def test_module_files_count_like_the_live_kernel(kallsyms, moddir):
    """For every module of the dump, the .ko of the image package gives
    the same names and types in the same order as /proc/kallsyms, and the
    same distances between symbols of one section."""
    mods = open_source(str(moddir))
    for obj in dump_modules(kallsyms[0]):
        live = dump_lines(kallsyms[0], obj)
        ko = mods.get(obj)
        names = {n for n, _t, _a in live} | set(ko.all_names())
        ko.prefetch(names)
        found = sorted((o.index, o.name, o.type, o.section, o.addr)
                       for n in names for o in ko.occurrences(n))
        assert [(n, t) for _i, n, t, _s, _a in found] == \
            [(n, t) for n, t, _a in live], obj
        bases = {}
        for (_i, _n, _t, sec, off), (_n2, _t2, addr) in zip(found, live):
            assert bases.setdefault(sec, addr - off) == addr - off, (obj, sec)
        homonyms = [n for n, c in Counter(n for n, _t, _a in live).items()
                    if c > 1]
        if obj in ("virtio_pci", "vmw_vsock_vmci_transport", "snd_oxygen"):
            assert homonyms, f"{obj} should have homonyms"


@pytest.mark.parametrize("which", ["System.map", "vmlinux"])
def test_vmlinux_sources_count_like_the_live_kernel(kallsyms, dbg, which):
    """Every vmlinux name of the dump occurs as often in the System.map
    and the vmlinux of the same build, at the same distances (the dump's
    addresses are shifted by KASLR; percpu symbols are absolute), and
    they have no symbol that kallsyms leaves out."""
    live: dict = {}
    for name, typ, addr in dump_lines(kallsyms[0], "vmlinux"):
        live.setdefault(name, []).append((typ, addr))
    src = open_source(str(dbg[0] if which == "System.map" else dbg[1]))
    vm = src.get("vmlinux")
    vm.prefetch(set(live))
    shifts = Counter()
    for name, occs in live.items():
        mine = vm.occurrences(name)
        assert len(mine) == len(occs), name
        for (typ, addr), o in zip(occs, mine):
            if typ != "A":
                shifts[addr - o.addr] += 1
    assert len(shifts) == 1, shifts.most_common(3)
    extra = set(vm.all_names()) - set(live)
    vm.prefetch(extra)
    assert [n for n in extra if vm.occurrences(n)] == []


def test_hidden_dump_counts_the_same(kallsyms):
    real, hidden = (open_source(str(p)) for p in kallsyms)
    assert real.objects() == hidden.objects()
    for obj in real.objects():
        a, b = real.get(obj), hidden.get(obj)
        names = set(a.all_names())
        a.prefetch(names)
        b.prefetch(names)
        for n in names:
            assert [o.type for o in a.occurrences(n)] == \
                [o.type for o in b.occurrences(n)]
            assert {o.addr for o in b.occurrences(n)} <= {None}


def real_homonyms(dump, obj, count=3):
    """A few function names of @obj that occur more than once."""
    c = Counter(n for n, t, _a in dump_lines(dump, obj)
                if t in "tT" and "." not in n)
    return sorted(n for n, k in c.items() if k > 1)[:count]


def test_every_position_of_real_homonyms(tmp_path, kallsyms, moddir, capsys):
    """Every valid position of real homonyms, of vmlinux and of modules,
    converts, and resolves to the dump's n-th line; position 0 and
    count+1 are refused with every candidate listed."""
    dump = kallsyms[0]
    refs, expect = [], {}
    for obj in ("vmlinux", "virtio_pci", "snd_oxygen"):
        lines = dump_lines(dump, obj)
        for name in real_homonyms(dump, obj):
            addrs = [a for n, _t, a in lines if n == name]
            for pos, addr in enumerate(addrs, 1):
                ref = f"{R}{obj}.{obj}.{name},{pos}"
                refs.append(ref)
                expect[ref] = f"{addr:016x}"
    assert len(refs) >= 12
    mod = assemble(tmp_path / "lp.ko", calls(*refs))
    status, out, err = run(["--list", "--symbols", dump, "--symbols", moddir,
                            mod], capsys)
    assert (status, err) == (0, "")
    got = {row.split()[3]: row.split()[-1] for row in out.splitlines()[1:]}
    assert got == expect
    name = real_homonyms(dump, "virtio_pci")[0]
    n = len([1 for m, _t, _a in dump_lines(dump, "virtio_pci") if m == name])
    bad = assemble(tmp_path / "bad.ko", calls(
        f"{R}virtio_pci.virtio_pci.{name},0",
        f"{R}virtio_pci.virtio_pci.{name},{n + 1}"))
    status, _o, err = run(["--symbols", dump, bad], capsys)
    assert status == 1
    assert f"symbol '{name}' is ambiguous in module 'virtio_pci'" in err
    assert f"symbol '{name}' position {n + 1} is past the end" in err
    assert err.count(f"  position {n}: ffffffffc") == 2


def test_real_mistakes(tmp_path, kallsyms, moddir, capsys):
    mod = assemble(tmp_path / "lp.ko", calls(
        f"{R}vmlinux.vmlinux.saved_comand_line,0",
        f"{R}virtio_pci.virtio_pci.vp_modern_probe,0"))
    for src in (kallsyms[0], moddir):
        status, _o, err = run(["--symbols", kallsyms[0], "--symbols", src,
                               mod], capsys)
        assert status == 1
        assert "close names in vmlinux: saved_command_line" in err
        assert ("'vp_modern_probe' is in module 'virtio_pci_modern_dev': is "
                "sym-obj right?") in err
