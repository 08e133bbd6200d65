# SPDX-License-Identifier: GPL-2.0-only
"""benchmarks/bench_convert.py's generator builds a valid 1k-relocation
module and klp-convert converts it correctly (no timing here)."""

from __future__ import annotations

import importlib.util

from convert_support import TOP, check_accepted, run
from elfcheck import (SHN_LIVEPATCH, Elf, apply_module, apply_unconverted,
                      check_structure, reloc_multiset)


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_convert", TOP / "benchmarks" / "bench_convert.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generator_1k(tmp_path):
    mod = tmp_path / "m1000.o"
    _bench().build_module(str(mod), 1000)
    before = Elf(mod.read_bytes())
    assert b"livepatch=Y" in before.by_name(".modinfo").data
    texts = [s for s in before.sections if s.name.startswith(".text.")]
    assert len(texts) == 1000
    inter = sum(1 for rs in before.rel_sections() for _o, si, _t, _a in before.relas(rs)
                if before.symbols[si].name.startswith(".klp.sym.rela."))
    assert inter == 1000
    out = tmp_path / "m1000.ko"
    assert run([mod, out]) == (0, "", "")
    after = Elf(out.read_bytes())
    check_structure(after)
    check_accepted(out)
    klp = sum(len(rs.data) // 24 for rs in after.rel_sections()
              if rs.name.startswith(".klp.rela."))
    assert klp == 1000
    assert reloc_multiset(after) == reloc_multiset(before)
    assert apply_module(after) == apply_unconverted(before)
    assert all(s.bind == 1 for s in after.symbols if s.shndx == SHN_LIVEPATCH)
