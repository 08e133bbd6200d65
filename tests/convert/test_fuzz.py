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


@pytest.mark.parametrize("fixture", ["lp_basic.c", "comdat.c"])
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
