# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert's output, byte for byte, against the committed outputs of
the converter as it was before issue 12 reshaped it (main 8ac4df8).

The inputs are committed too (tests/convert/golden: objects compiled from
the fixtures for four architectures, an assembled one with debug
relocations, and benchmarks/bench_convert.py's 100,000-relocation module,
xz-compressed): neither git history nor today's compiler output matters.
Every mode that writes or prints is covered: conversion, --list,
--weaken, --strip-debug (of the converted module) and --check.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
sys.path.insert(0, str(GOLDEN))

import make_golden  # noqa: E402

MANIFEST = json.loads((GOLDEN / "MANIFEST.json").read_text())


@pytest.mark.parametrize("output", sorted(MANIFEST))
def test_same_bytes_as_before(output, tmp_path):
    entry = MANIFEST[output]
    raw = make_golden.input_bytes(entry["input"])
    data = make_golden.run_mode(make_golden.TOP / "scripts" / "livepatch" /
                                "klp-convert", entry["mode"], raw, tmp_path)
    if "file" in entry:
        assert data == (GOLDEN / entry["file"]).read_bytes()
    else:
        assert (len(data), hashlib.sha256(data).hexdigest()) == \
            (entry["size"], entry["sha256"])


def test_every_mode_is_covered():
    assert {e["mode"] for e in MANIFEST.values()} == \
        {"convert", "list", "weaken", "strip", "check"}
    assert {"x86_64", "ppc64le", "s390x", "aarch64"} <= {
        e["input"].split("-")[1].split(".")[0] for e in MANIFEST.values()}
