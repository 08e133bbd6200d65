# SPDX-License-Identifier: GPL-2.0-only
"""Property-based tests over random modules (random x86_64 assembly)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convert_support import assemble, run
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


# (section name, flags, which klp relocations the kernel cannot apply
# there: False none, True module-specific ones (read or freed at patch
# load), "all" every one (the loader drops the section's SHF_ALLOC))
SECTIONS = [
    (".text.a", '"ax",@progbits', False), (".data.b", '"aw",@progbits', False),
    (".rodata.c", '"a",@progbits', False), ("__jump_table", '"aw",@progbits', True),
    ("__ex_table", '"a",@progbits', True), (".altinstructions", '"a",@progbits', True),
    (".orc_unwind_ip", '"a",@progbits', True), (".init.text", '"ax",@progbits', True),
    (".init.data", '"aw",@progbits', True), (".debug_info", '"",@progbits', False),
    (".note.x", '"",@note', False), ("__param", '"a",@progbits', True),
    ("__mcount_loc", '"a",@progbits', True), ("__ksymtab", '"a",@progbits', True),
    (".gnu.linkonce.this_module", '"aw",@progbits', True),
    (".note.gnu.build-id", '"a",@note', True),
    (".data..percpu", '"aw",@progbits', "all"), ("__versions", '"a",@progbits', "all"),
    (".data..ro_after_init", '"aw",@progbits', False),
]
# (name, lp-obj, sym-obj)
RULE_SYMS = [
    ("vmlinux", "vmlinux", "alpha"), ("mod_a", "mod_a", "beta"),
    ("mod_a", "vmlinux", "gamma"), ("vmlinux", "mod_a", "delta"),
    ("mod_b", "mod_a", "eps"),
]


def _expected_error(placements) -> bool:
    """The kernel's refusals, modelled independently of the converter."""
    for sec, sym in placements:
        name, _flags, special = SECTIONS[sec]
        lp, obj, _s = RULE_SYMS[sym] if sym is not None else (None, None, None)
        if lp is None:
            continue
        if lp != "vmlinux" and obj == "vmlinux":
            return True       # module section, vmlinux symbol
        if lp == "vmlinux" and obj != "vmlinux":
            return True       # lp-obj vmlinux can never reach a module symbol
        if name == ".note.x":
            return True       # not SHF_ALLOC (and not debug info)
        if special == "all":
            return True       # SHF_ALLOC dropped before relocation
        if lp != "vmlinux" and special:
            return True       # late relocation in a special or init section
    return False


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(SECTIONS) - 1),
                          st.one_of(st.none(), st.integers(0, len(RULE_SYMS) - 1))),
                min_size=1, max_size=6))
def test_random_placements_follow_the_kernel_rules(placements):
    """Intermediate symbols of every lp-obj/sym-obj combination in special,
    .init, debug and non-allocated sections: klp-convert refuses exactly
    the modules the kernel would refuse, cleanly; the others pass the
    oracle."""
    out_lines = ['.section .modinfo,"a"', '.asciz "livepatch=Y"']
    for sec, sym in placements:
        name, flags, _special = SECTIONS[sec]
        out_lines.append(f".section {name},{flags}")
        out_lines.append(".long 0")
        if sym is None:
            out_lines.append(".quad printk")
        else:
            lp, obj, s = RULE_SYMS[sym]
            out_lines.append(f'.quad ".klp.sym.rela.{lp}.{obj}.{s},0"')
    import contextlib
    import io
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        src = assemble("\n".join(out_lines) + "\n", tmp / "m.o")
        before = src.read_bytes()
        out = tmp / "m.ko"
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = run([src, out])[0]
        assert status == (1 if _expected_error(placements) else 0), err.getvalue()
        assert src.read_bytes() == before
        if status:
            assert err.getvalue().startswith(f"klp-convert: {src}: ")
            assert err.getvalue().count("\n") == 1
            assert not out.exists()
            return
        elf = Elf(out.read_bytes())
        check_structure(elf)
        assert reloc_multiset(elf) == reloc_multiset(Elf(before))
        assert apply_module(elf) == apply_unconverted(Elf(before))
