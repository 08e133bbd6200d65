# SPDX-License-Identifier: GPL-2.0-only
"""Property-based tests over random modules (random x86_64 assembly)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import assemble, run
from elfcheck import Elf, apply_module, apply_unconverted, check_structure, reloc_multiset

KLP_SYMS = [
    '".klp.sym.rela.vmlinux.vmlinux.alpha,0"',
    '".klp.sym.rela.vmlinux.vmlinux.beta.isra.0,3"',
    '".klp.sym.rela.vmlinux.vmlinux.beta.isra.0.3"',    # same final name
    '".klp.sym.rela.target_mod.target_mod.gamma,1"',
    '".klp.sym.rela.other_mod.target_mod.gamma,1"',     # same final name
]
PLAIN_SYMS = ["printk", "local_fn", "jiffies"]

symbol = st.sampled_from(KLP_SYMS + PLAIN_SYMS)

section = st.tuples(
    st.sampled_from(["text", "data", "rodata"]),
    st.lists(st.tuples(st.booleans(), symbol), min_size=1, max_size=8))


def render(sections) -> str:
    out = ['.section .modinfo,"a"', '.asciz "livepatch=Y"', ".text",
           "local_fn:", "ret"]
    for n, (kind, items) in enumerate(sections):
        flags = {"text": '"ax",@progbits', "data": '"aw",@progbits',
                 "rodata": '"a",@progbits'}[kind]
        out.append(f".section .{kind}.s{n},{flags}")
        for first, sym in items:
            if kind == "text":
                tmpl = "call {s}" if first else "movq {s}(%rip), %rax"
            else:
                tmpl = ".quad {s}" if first else ".long {s} - ."
            out.append("\t" + tmpl.format(s=sym))
    return "\n".join(out) + "\n"


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(st.lists(section, min_size=1, max_size=6))
def test_random_modules(sections):
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = assemble(render(sections), tmp / "m.o")
        out = tmp / "m.ko"
        assert run([src, out]) == (0, "", "")
        before, after = Elf(src.read_bytes()), Elf(out.read_bytes())
        check_structure(after)
        assert reloc_multiset(after) == reloc_multiset(before)
        assert apply_module(after) == apply_unconverted(before)
        again = tmp / "again.ko"
        assert run([out, again]) == (0, "", "")
        assert again.read_bytes() == out.read_bytes()
