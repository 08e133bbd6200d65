# SPDX-License-Identifier: GPL-2.0-only
"""Truncated and corrupted modules: a clean error (or a harmless success),
never a traceback, no output file, the input untouched; and random
modules of the shapes of issue 10 against a model of the kernel."""

from __future__ import annotations

import contextlib
import io
import os
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convert_support import assemble, rename_symbol, run
from elfcheck import SHN_LIVEPATCH, Elf, apply_module, apply_unconverted

SEED = 20261122
CASES = 300


def _mutations(data: bytes, rng: random.Random):
    yield "empty", b""
    yield "magic-only", data[:4]
    for cut in sorted(rng.sample(range(1, len(data)), 60)):
        yield f"truncate-{cut}", data[:cut]
    # headers and tables are where corruption matters: bias flips there
    shoff = int.from_bytes(data[0x28:0x30], "little")
    hot = list(range(0, 64)) + list(range(shoff, len(data)))
    for n in range(CASES - 62):
        buf = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            pos = rng.choice(hot) if rng.random() < 0.7 else rng.randrange(len(buf))
            buf[pos] = rng.randrange(256)
        yield f"flip-{n}", bytes(buf)


@pytest.mark.parametrize("fixture", ["lp_basic.c", "comdat.c", "lp_more.c"])
def test_corrupted_inputs(fixture, fixture_obj, tmp_path, capsys):
    data = fixture_obj(fixture).read_bytes()
    rng = random.Random(SEED)
    path = tmp_path / "fuzz.ko"
    out = tmp_path / "fuzz-out.ko"
    for label, blob in _mutations(data, rng):
        path.write_bytes(blob)
        if out.exists():
            out.unlink()
        status, _o, err = run([path, out], capsys)
        assert status in (0, 1), f"{label}: status {status}: {err}"
        assert "Traceback" not in err and "internal error" not in err, f"{label}: {err}"
        assert path.read_bytes() == blob, label
        if status == 1:
            assert err.startswith(f"klp-convert: {path}: "), f"{label}: {err}"
            assert not out.exists(), label
        leftovers = [p for p in os.listdir(tmp_path) if p.endswith(".klp.tmp")]
        assert not leftovers, label


@pytest.mark.parametrize("mode", [[], ["--list"], ["--weaken"]])
def test_corrupted_in_place(mode, fixture_obj, tmp_path, capsys):
    """In place, --list and --weaken: a refused file is never modified."""
    data = fixture_obj("lp_more.c").read_bytes()
    rng = random.Random(SEED + len(mode) * 7 + len("".join(mode)))
    path = tmp_path / "fuzz.ko"
    for n, (label, blob) in enumerate(_mutations(data, rng)):
        if n % 3:                       # a third of the cases, per mode
            continue
        path.write_bytes(blob)
        os.utime(path, ns=(10**18, 10**18))
        status, _o, err = run([*mode, path], capsys)
        assert status in (0, 1), f"{label}: status {status}: {err}"
        assert "Traceback" not in err and "internal error" not in err, f"{label}: {err}"
        if status == 1:
            assert err.startswith(f"klp-convert: {path}: "), f"{label}: {err}"
            assert path.read_bytes() == blob, label
            assert os.stat(path).st_mtime_ns == 10**18, label
        if mode == ["--list"]:
            assert path.read_bytes() == blob, label
        assert sorted(os.listdir(tmp_path)) == ["fuzz.ko", "lp_more-x86_64.o"], label


# --- finished modules: --check and --strip-debug on corrupted input --------

@pytest.mark.parametrize("mode", [["--check"], ["--strip-debug"]])
def test_corrupted_finished_modules(mode, fixture_obj, tmp_path, capsys):
    """A converted module, corrupted: --check and --strip-debug give a
    clean answer, never a traceback; --check writes nothing, and what
    --strip-debug writes passes --check whenever the input did."""
    conv = tmp_path / "conv.ko"
    assert run([fixture_obj("lp_more.c"), conv])[0] == 0
    data = conv.read_bytes()
    rng = random.Random(SEED + len(mode[0]))
    path = tmp_path / "fuzz.ko"
    out = tmp_path / "fuzz-out.ko"
    for n, (label, blob) in enumerate(_mutations(data, rng)):
        if n % 2:
            continue
        path.write_bytes(blob)
        if out.exists():
            out.unlink()
        status, _o, err = run([*mode, path, *([out] if mode != ["--check"] else [])],
                              capsys)
        assert status in (0, 1), f"{label}: status {status}: {err}"
        assert "Traceback" not in err and "internal error" not in err, f"{label}: {err}"
        assert path.read_bytes() == blob, label
        if status == 1:
            assert err.startswith(f"klp-convert: {path}: ") or \
                err.startswith(f"klp-convert: {out}: "), f"{label}: {err}"
            assert not out.exists(), label
        elif mode == ["--strip-debug"] and run(["--check", path], capsys)[0] == 0:
            assert run(["--check", out], capsys)[0] == 0, label
        assert not [p for p in os.listdir(tmp_path) if p.endswith(".klp.tmp")], label


# --- hypothesis: the input shapes of issue 10 -------------------------------

TYPES = {"R_X86_64_64": 8, "R_X86_64_32S": 4, "R_X86_64_PC32": 4,
         "R_X86_64_32": 4}
# (section, flags, who cannot use it: None, "module" or "all")
TARGETS = [(".data.a", '"aw"', None), (".rodata.b", '"a"', None),
           ("__param", '"a"', "module"), ("__mcount_loc", '"a"', "module"),
           (".gnu.linkonce.this_module", '"aw"', "module"),
           ("__patchable_function_entries", '"a"', "module"),
           (".init.data", '"aw"', "module"), (".data..percpu", '"aw"', "all"),
           ("__versions", '"a"', "all")]
LP_OBJS = {"vmlinux": ("vmlinux", "vmlinux"), "module": ("mod_a", "mod_a")}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(TARGETS) - 1),
                          st.sampled_from(sorted(TYPES)),
                          st.sampled_from(sorted(LP_OBJS)),
                          st.integers(0, 8)),
                min_size=1, max_size=5),
       st.text(st.characters(min_codepoint=0x61, max_codepoint=0x7ff,
                             blacklist_characters=",.\"\\"),
               min_size=1, max_size=300),
       st.tuples(st.sampled_from([0, 1, 3000]),
                 st.one_of(st.integers(0, 25), st.integers(1000, 6000))))
def test_issue10_shapes(items, symname, posdigits):
    """Targets the kernel never relocates or reads too early, relocation
    types too narrow for an address, sites past the end of an 8-byte
    section, UTF-8 names against the byte limit, positions of up to 25
    digits and of thousands (beyond Python's int() limit of 4,300), with
    and without leading zeros: klp-convert refuses exactly what an
    independent model of the kernel refuses (a position beyond ULONG_MAX
    with the position's message, never as a malformed file); what it
    accepts passes --check, strips with --strip-debug into a module that
    passes --check, and relocates like the unconverted object.  --check
    reads the same positions written into the finished names."""
    zeros, nines = posdigits
    pos = "0" * zeros + "9" * nines or "0"
    big_pos = nines >= 20               # > ULONG_MAX, compared as digits
    long_name = len(symname.encode()) > 511
    asm, refused, overlaps = _shapes_asm(items, symname)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        _finished_positions(tmp, "f" if long_name else symname, pos, big_pos)
        src = assemble(asm.replace(POS, pos), tmp / "m.o")
        before = src.read_bytes()
        out = tmp / "m.ko"
        status, err = _quiet([src, out])
        assert status == (1 if refused or long_name or big_pos else 0), err
        assert src.read_bytes() == before and "Traceback" not in err
        assert "malformed" not in err
        if status:
            assert err.count("\n") == 1 and not out.exists()
            if big_pos and not long_name:
                assert "is too large" in err, err
            return
        if overlaps:
            assert _quiet(["--check", out])[0] == 1
            return
        assert _quiet(["--check", "--strict", out])[0] == 0
        stripped = tmp / "s.ko"
        assert _quiet(["--strip-debug", out, stripped])[0] == 0
        assert _quiet(["--check", stripped])[0] == 0
        assert apply_module(Elf(out.read_bytes())) == apply_unconverted(Elf(before))


POS = "\0"                  # where _shapes_asm() puts the position


def _shapes_asm(items, symname):
    """The assembly of a module of @items (target, type, lp-obj kind,
    offset), each a relocation against an intermediate symbol named after
    @symname; and the model's verdict: (assembly, refused for a reason
    other than the name, two relocations on the same bytes).  x86_64
    refuses a nonzero site, so overlaps pass the conversion and not
    --check (the kernel model would refuse them too)."""
    lines = ['.section .modinfo,"a"', '.asciz "livepatch=Y"',
             '.section .rodata.str1.1,"aMS",@progbits,1', '.asciz "mod_a"']
    size = {}                           # each item adds 8 bytes to its section
    for t, *_rest in items:
        size[t] = size.get(t, 0) + 8
    sites = {}
    refused = overlaps = False
    for n, (t, rtype, lp, off) in enumerate(items):
        name, flags, who = TARGETS[t]
        lp_obj, sym_obj = LP_OBJS[lp]
        lines += [f".section {name},{flags}", ".quad 0",
                  f'.reloc {off}, {rtype}, ".klp.sym.rela.{lp_obj}.{sym_obj}.'
                  f'{symname}{n},{POS}"']
        width = TYPES[rtype]
        overlaps = overlaps or any(off < o + w and o < off + width
                                   for o, w in sites.get(t, []))
        sites.setdefault(t, []).append((off, width))
        refused = refused or rtype == "R_X86_64_32" or off + width > size[t] \
            or who == "all" or (who == "module" and lp == "module")
    return "\n".join(lines) + "\n", refused, overlaps


def _quiet(argv):
    """klp-convert's main() with its output captured: (status, stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        status = run(argv)[0]
    return status, err.getvalue()


def _finished_positions(tmp, symname, pos, big):
    """A module converted with position 1, its livepatch symbol then
    renamed to position @pos as written (leading zeros, thousands of
    digits): --check reads it as the kernel's %lu does, or refuses it
    (@big: beyond ULONG_MAX) with the position's message, never as a
    malformed file."""
    asm = _shapes_asm([(0, "R_X86_64_64", "vmlinux", 0)], symname)[0]
    out = tmp / "pos.ko"
    assert _quiet([assemble(asm.replace(POS, "1"), tmp / "pos.o"), out]) == \
        (0, "")
    finals = [s.name for s in Elf(out.read_bytes()).symbols
              if s.shndx == SHN_LIVEPATCH]
    assert finals
    for name in finals:
        rename_symbol(out, name, f"{name.rpartition(',')[0]},{pos}")
    status, err = _quiet(["--check", out])
    assert status == (1 if big else 0), err
    assert "malformed" not in err and "Traceback" not in err, err
    if big:
        assert "is too large" in err, err
