# SPDX-License-Identifier: GPL-2.0-only
"""A module that mixes KLP_RELOC_SYMBOL() with klp-build's output before
'objtool klp post-link' (weak undefined .klp.sym.<obj>.<sym>,<pos>
symbols and __klp_relocs.<obj> sections) is refused with a message that
says to run the post-link first; after the post-link, klp-convert
converts its own symbols and adds to objtool's records.

objtool is the real one of the 7.x tree, built and driven as in
tests/series/test_objtool_interop.py (whose helpers this reuses)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SERIES = Path(__file__).resolve().parents[1] / "series"
sys.path.insert(0, str(SERIES))

import linux7  # noqa: E402
import test_objtool_interop as interop  # noqa: E402


@pytest.fixture(scope="module")
def objtool() -> Path:
    try:
        return linux7.objtool()
    except linux7.Missing as exc:
        pytest.fail(str(exc))


def _mixed_module(objtool: Path, tmp_path: Path) -> Path:
    """klp-build's module (objtool klp diff output and its init object)
    linked with a hand-written part that uses KLP_RELOC_SYMBOL()."""
    pending = interop.objtool_module(objtool, tmp_path)
    ours = interop.compile_c(interop.FIX / "lp.c", tmp_path / "lp.o")
    ko = tmp_path / "mixed.ko"
    interop.sh("ld", "-r", str(pending), str(ours), "-o", str(ko))
    names = interop.sections(ko)
    assert "__klp_relocs.demo" in names
    assert not any(n.startswith(".klp.rela.") for n in names)
    return ko


def test_refused_before_post_link(objtool, tmp_path):
    ko = _mixed_module(objtool, tmp_path)
    before = ko.read_bytes()
    proc = interop.klp_convert(str(ko))
    assert proc.returncode == 1
    assert proc.stderr == (
        f"klp-convert: {ko}: undefined symbol '.klp.sym.demo.counter,0' is "
        "a livepatch symbol of 'objtool klp diff' that 'objtool klp "
        "post-link' has not finished yet (the module has __klp_relocs.* "
        "sections): run 'objtool klp post-link' on the module first, then "
        "klp-convert\n")
    assert ko.read_bytes() == before
    assert interop.klp_convert("--list", str(ko)).returncode == 1


def test_converted_after_post_link(objtool, tmp_path):
    ko = _mixed_module(objtool, tmp_path)
    done = tmp_path / "done.ko"
    interop.post_link(objtool, ko, done)
    names = interop.sections(done)
    assert ".klp.rela.demo..text.demo_bump" in names        # objtool's
    assert not any(".klp.rela.vmlinux..text.lp_" in n for n in names)
    proc = interop.klp_convert(str(done))
    assert proc.returncode == 0, proc.stderr
    names = interop.sections(done)
    assert {".klp.rela.demo..text.demo_bump",              # objtool's, kept
            ".klp.rela.vmlinux..text.lp_read",             # ours
            ".klp.rela.demo..text.lp_read"} <= set(names)
    symbols = interop.livepatch_symbols(done)
    assert {".klp.sym.demo.counter,0",                     # objtool's
            ".klp.sym.demo.counter,1",                     # ours
            ".klp.sym.vmlinux.saved_command_line,0"} <= set(symbols)
    assert ".klp.sym.rela." not in interop.sh("readelf", "-sW", str(done))
    # converting again changes nothing
    again = done.read_bytes()
    assert interop.klp_convert(str(done)).returncode == 0
    assert done.read_bytes() == again
