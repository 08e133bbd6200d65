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

TEXT_FORMS = ["call {s}", "movq {s}(%rip), %rax", "movq ${s}, %rax",
              "movq ${s}+{a}, %rax", "leaq {s}+{a}(%rip), %rdi", "jmp {s}"]
DATA_FORMS = [".quad {s}", ".long {s} - .", ".quad {s}+{a}", ".quad {s} - .",
              ".long {s}+{a} - ."]

# (form index, symbol, addend)
item = st.tuples(st.integers(0, 5), symbol, st.integers(0, 64).map(lambda a: a * 8))

section = st.tuples(
    st.sampled_from(["text", "data", "rodata"]),
    st.lists(item, min_size=1, max_size=8))


def render(sections) -> str:
    out = ['.section .modinfo,"a"', '.asciz "livepatch=Y"', ".text",
           "local_fn:", "ret"]
    for n, (kind, items) in enumerate(sections):
        flags = {"text": '"ax",@progbits', "data": '"aw",@progbits',
                 "rodata": '"a",@progbits'}[kind]
        out.append(f".section .{kind}.s{n},{flags}")
        for form, sym, addend in items:
            forms = TEXT_FORMS if kind == "text" else DATA_FORMS
            tmpl = forms[form % len(forms)]
            out.append("\t" + tmpl.format(s=sym, a=addend))
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
        # in place gives the same bytes as INPUT OUTPUT
        assert run([src]) == (0, "", "")
        assert src.read_bytes() == out.read_bytes()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(st.lists(section, min_size=1, max_size=4),
       st.sampled_from(KLP_SYMS), st.integers(1, 255))
def test_random_modules_with_a_bad_site(sections, sym, byte):
    """A klp relocation on a nonzero site anywhere: a clean refusal naming
    the section, nothing written."""
    asm = render(sections) + (f'.section .data.bad,"aw",@progbits\n'
                              f'.byte {byte}, 0, 0, 0, 0, 0, 0, 0\n'
                              f'.reloc .data.bad, R_X86_64_64, {sym}\n')
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = assemble(asm, tmp / "m.o")
        before = src.read_bytes()
        out = tmp / "m.ko"
        import contextlib
        import io
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = run([src, out])[0]
        assert status == 1
        assert err.getvalue().startswith(f"klp-convert: {src}: ")
        assert "'.data.bad'" in err.getvalue()
        assert not out.exists() and src.read_bytes() == before
        assert sorted(p.name for p in tmp.iterdir()) == ["m.o", "m.s"]
