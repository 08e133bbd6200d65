# SPDX-License-Identifier: GPL-2.0-only
"""Truncated and corrupted modules: a clean error (or a harmless success),
never a traceback, no output file, the input untouched."""

from __future__ import annotations

import os
import random

import pytest

from conftest import run

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
