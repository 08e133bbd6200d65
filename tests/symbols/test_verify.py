# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert --symbols / --symvers / --strict: every error and warning
of the verification, on synthetic symbol tables, through main()."""

from __future__ import annotations

import subprocess

import pytest

from symtest import assemble, calls, run
from test_elf import build_module

R = ".klp.sym.rela."

DUMP = """\
ffffffff81000000 T _text
ffffffff81000100 t show_stat
ffffffff81000180 T saved_command_line_len
ffffffff81000200 D saved_command_line
ffffffff81000300 t show_stat
ffffffff81000400 t cmdline_proc_show.isra.0
ffffffff81000500 T unique_fn
0000000000000000 A fixed_percpu_data
ffffffffc0001000 t helper\t[mod_a]
ffffffffc0001200 t helper\t[mod_a]
ffffffffc0001300 d mod_a_data\t[mod_a]
ffffffffc0002000 t other_helper\t[mod_b]
"""

SYMVERS = """\
0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\t
0x12345679\tunique_fn\tvmlinux\tEXPORT_SYMBOL_GPL\tMY_NS
0x1234567a\tmod_a_api\tdrivers/misc/mod_a\tEXPORT_SYMBOL_GPL\t
0x1234567b\tmod_b_api\tdrivers/misc/mod-b\tEXPORT_SYMBOL\t
"""


@pytest.fixture
def dump(tmp_path):
    p = tmp_path / "kallsyms.txt"
    p.write_text(DUMP)
    return p


@pytest.fixture
def symvers(tmp_path):
    p = tmp_path / "Module.symvers"
    p.write_text(SYMVERS)
    return p


def lp(tmp_path, *names, data=(), modinfo=None, extra=""):
    return assemble(tmp_path / "lp.ko", calls(*names, data=data) + extra,
                    modinfo)


def converted(capsys, argv, out):
    status, o, err = run(argv, capsys)
    return status, o, err, out.exists()


def test_verified_conversion(tmp_path, dump, capsys):
    mod = lp(tmp_path, f"{R}vmlinux.vmlinux.show_stat,2",
             f"{R}mod_a.mod_a.helper,1",
             data=(f"{R}vmlinux.vmlinux.saved_command_line,0",))
    out = tmp_path / "out.ko"
    status, _o, err, written = converted(
        capsys, ["--symbols", dump, mod, out], out)
    assert (status, err, written) == (0, "", True)
    status, o, err = run(["--list", "--symbols", dump, mod], capsys)
    assert status == 0 and not err
    rows = [line.split() for line in o.splitlines()]
    assert rows[0][-1] == "RESOLVED"
    resolved = {r[3]: r[-1] for r in rows[1:]}
    assert resolved == {
        f"{R}vmlinux.vmlinux.show_stat,2": "ffffffff81000300",
        f"{R}mod_a.mod_a.helper,1": "ffffffffc0001000",
        f"{R}vmlinux.vmlinux.saved_command_line,0": "ffffffff81000200"}


def test_not_found(tmp_path, dump, capsys):
    mod = lp(tmp_path, f"{R}vmlinux.vmlinux.saved_comand_line,0",
             f"{R}mod_b.mod_b.helper,0")
    out = tmp_path / "out.ko"
    status, _o, err, written = converted(
        capsys, ["--symbols", dump, mod, out], out)
    assert status == 1 and not written
    lines = err.splitlines()
    assert lines[0] == (
        f"klp-convert: {mod}: symbol 'saved_comand_line' not found in vmlinux"
        f" ({dump}): the kernel would refuse the patch (\"symbol "
        "'saved_comand_line' not found in symbol table\")")
    assert lines[1] == (f"klp-convert: {mod}:   close names in vmlinux: "
                        "saved_command_line, saved_command_line_len")
    assert f"symbol 'helper' not found in module 'mod_b' ({dump})" in lines[2]
    assert lines[3] == (f"klp-convert: {mod}:   close names in module "
                        "'mod_b': other_helper")
    assert lines[4] == (f"klp-convert: {mod}:   'helper' is in module "
                        "'mod_a': is sym-obj right?")


def test_ambiguous_and_past_the_end(tmp_path, dump, capsys):
    mod = lp(tmp_path, f"{R}vmlinux.vmlinux.show_stat,0",
             f"{R}mod_a.mod_a.helper,3")
    before = mod.read_bytes()
    status, _o, err = run(["--symbols", dump, mod], capsys)
    assert status == 1 and mod.read_bytes() == before
    p = f"klp-convert: {mod}: "
    assert err.splitlines() == [
        p + f"symbol 'show_stat' is ambiguous in vmlinux ({dump}): 2 symbols "
        "have this name and position 0 requires a unique one; the kernel "
        "would refuse the patch (\"unresolvable ambiguity\"); give the "
        "position of the one you mean with KLP_RELOC_SYMBOL_POS(vmlinux, "
        "vmlinux, show_stat, <position>):",
        p + "  position 1: ffffffff81000100 t show_stat",
        p + "  position 2: ffffffff81000300 t show_stat",
        p + f"symbol 'helper' position 3 is past the end: module 'mod_a' "
        f"({dump}) has 2 symbols of this name; the kernel would refuse the "
        "patch (\"symbol position ... not found\"):",
        p + "  position 1: ffffffffc0001000 t helper",
        p + "  position 2: ffffffffc0001200 t helper"]


def test_address_zero(tmp_path, dump, capsys):
    mod = lp(tmp_path, data=(f"{R}vmlinux.vmlinux.fixed_percpu_data,0",))
    status, _o, err = run(["--symbols", dump, mod], capsys)
    assert status == 1
    assert "symbol 'fixed_percpu_data' position 0 in vmlinux" in err
    assert "is at address 0, which the kernel takes for \"not found\"" in err
    hidden = dump.with_name("hidden.txt")
    hidden.write_text("".join("0" * 16 + ln[16:]
                              for ln in DUMP.splitlines(True)))
    assert run(["--symbols", hidden, mod], capsys)[0] == 0


def test_warnings_and_strict(tmp_path, dump, capsys):
    mod = lp(tmp_path, f"{R}vmlinux.vmlinux.unique_fn,1",
             f"{R}vmlinux.vmlinux.cmdline_proc_show.isra.0,0",
             f"{R}vmlinux.vmlinux.saved_command_line,0",
             f"{R}mod_c.mod_c.anything,0",
             data=(f"{R}vmlinux.vmlinux.unique_fn,1",))
    out = tmp_path / "out.ko"
    status, _o, err, written = converted(
        capsys, ["--symbols", dump, mod, out], out)
    assert status == 0 and written
    p = f"klp-convert: {mod}: warning: "
    got = err.splitlines()
    assert p + ("symbol 'unique_fn' is unique in vmlinux but written with "
                "position 1: position 0 (KLP_RELOC_SYMBOL()) would also "
                "catch a kernel where it is no longer unique") in got
    assert p + ("symbol 'cmdline_proc_show.isra.0' is a compiler-made name "
                "('isra'): another build of vmlinux may name it differently"
                " or not have it") in got
    assert p + ("section '.text' offset 0xb: R_X86_64_PLT32 calls "
                "'saved_command_line', but in vmlinux it is data (type 'D')"
                ": is the declaration's type right?") in got
    assert any(line.startswith(p + "section '.text' offset ") and
               "R_X86_64_PC32 reads or writes 'unique_fn' as data, but in "
               "vmlinux it is a function (type 'T')" in line for line in got)
    assert p + ("symbol 'anything' not verified: no --symbols source covers "
                "module 'mod_c'") in got
    assert len(got) == 5
    out.unlink()
    status, _o, err, written = converted(
        capsys, ["--strict", "--symbols", dump, mod, out], out)
    assert status == 1 and not written
    assert err.splitlines()[-1] == (f"klp-convert: {mod}: 5 warning(s) and "
                                    "--strict: nothing written")


def test_depends_on_a_patched_module(tmp_path, capsys):
    """No symbols needed: depends= naming an lp-obj is refused."""
    mod = lp(tmp_path, f"{R}mod_a.mod_a.helper,1",
             modinfo='.section .modinfo,"a"\n.asciz "livepatch=Y"\n'
             '.asciz "depends=mod-b,mod_a"\n')
    out = tmp_path / "out.ko"
    status, _o, err, written = converted(capsys, [mod, out], out)
    assert status == 1 and not written
    assert err == (
        f"klp-convert: {mod}: '.modinfo' depends= names module 'mod_a', "
        "which is also an lp-obj of this patch: loading the patch would load "
        "'mod_a' first, so the patch could never be loaded before 'mod_a' "
        "(late module patching); modpost adds the dependency for every plain"
        " reference to a symbol that 'mod_a' exports: reach those through "
        "KLP_RELOC_SYMBOL(mod_a, mod_a, <symbol>)\n")
    plain = lp(tmp_path, f"{R}vmlinux.vmlinux.show_stat,1",
               modinfo='.section .modinfo,"a"\n.asciz "livepatch=Y"\n'
               '.asciz "depends=mod_a"\n')
    assert run([plain, out], capsys)[0] == 0      # mod_a is not an lp-obj


def test_depends_on_a_declared_object(tmp_path, capsys):
    """Only vmlinux klp symbols, but the patch names mod_a as a string
    (its klp_object) and depends on it: a warning; --strict refuses."""
    modinfo = ('.section .modinfo,"a"\n.asciz "livepatch=Y"\n'
               '.asciz "depends=mod-a"\n')
    extra = '.section .rodata.str1.1,"aMS",@progbits,1\n.asciz "mod_a"\n'
    mod = lp(tmp_path, f"{R}vmlinux.vmlinux.show_stat,1", modinfo=modinfo,
             extra=extra)
    out = tmp_path / "out.ko"
    status, _o, err, written = converted(capsys, [mod, out], out)
    assert status == 0 and written
    assert err == (
        f"klp-convert: {mod}: warning: '.modinfo' depends= names module "
        "'mod_a', whose name is a string of the module's read-only data, "
        "where the klp_object names are: if the patch patches 'mod_a', "
        "loading the patch would load 'mod_a' first (late module patching "
        "becomes impossible); modpost adds the dependency for every plain "
        "reference to a symbol that 'mod_a' exports: reach those through "
        "KLP_RELOC_SYMBOL(mod_a, mod_a, <symbol>)\n")
    out.unlink()
    status, _o, err, written = converted(capsys, ["--strict", mod, out], out)
    assert status == 1 and not written
    # no such string: a plain dependency of the patch
    plain = lp(tmp_path, f"{R}vmlinux.vmlinux.show_stat,1", modinfo=modinfo)
    assert run([plain, out], capsys)[:3:2] == (0, "")


def test_symvers_plain_reference(tmp_path, symvers, capsys):
    extra = "\tcall mod_a_api\n\tcall mod_b_api\n\tcall printk\n"
    mod = lp(tmp_path, f"{R}mod_a.mod_a.helper,1",
             f"{R}vmlinux.vmlinux.unique_fn,0", extra=extra)
    status, _o, err = run(["--symvers", symvers, mod], capsys)
    assert status == 1
    p = f"klp-convert: {mod}: "
    assert err.splitlines() == [
        p + "warning: symbol 'unique_fn' is exported by vmlinux "
        "(EXPORT_SYMBOL_GPL, namespace MY_NS, Module.symvers): a plain "
        "reference works, KLP_RELOC_SYMBOL() is not needed",
        p + "undefined symbol 'mod_a_api' is exported by module 'mod_a', "
        "which this patch patches: a plain reference makes the patch depend "
        "on 'mod_a' (late module patching becomes impossible); declare it "
        "with KLP_RELOC_SYMBOL(mod_a, mod_a, mod_a_api):",
        p + "  extern <type> mod_a_api KLP_RELOC_SYMBOL(mod_a, mod_a, "
        "mod_a_api);"]
    # mod_b is not patched: its export may be used plainly
    ok = lp(tmp_path, f"{R}mod_b.mod_b.other_helper,0",
            extra="\tcall mod_a_api\n")
    assert run(["--symvers", symvers, ok], capsys)[:2] == (0, "")


def test_module_views_when_the_module_is_patched(tmp_path, capsys):
    """A .ko tells what the kernel counts while the module loads: with the
    patch loaded first, dup_init has a homonym in .init.text."""
    ko = build_module(tmp_path / "", "my-mod.ko")
    mod = lp(tmp_path, f"{R}my_mod.my_mod.dup_init,1")
    status, _o, err = run(["--symbols", ko, mod], capsys)
    assert status == 1
    assert (f"symbol 'dup_init' position 1 in module 'my_mod' ({ko}) depends "
            "on when the module loads: once it is live the kernel finds "
            ".text+0x") in err
    assert "while it loads (the patch loaded first) .init.text+0x" in err
    assert "a.c" in err and "b.c" in err
    # another lp-obj: my_mod is live when the relocation is applied
    other = lp(tmp_path, f"{R}other.my_mod.dup_init,1")
    status, _o, err = run(["--symbols", ko, other], capsys)
    assert "depends on when the module loads" not in err
    early = lp(tmp_path, f"{R}my_mod.my_mod.early,0")
    status, _o, err = run(["--symbols", ko, early], capsys)
    assert status == 1 and (
        "  module 'my_mod' has it only while it loads (section '.init.text'),"
        " not once it is live") in err


def test_every_source_is_checked(tmp_path, dump, capsys):
    other = tmp_path / "other.txt"
    other.write_text(DUMP.replace("ffffffff81000300 t show_stat\n", ""))
    mod = lp(tmp_path, f"{R}vmlinux.vmlinux.show_stat,2")
    status, _o, err = run(["--symbols", dump, "--symbols", other, mod],
                          capsys)
    assert status == 1
    assert f"past the end: vmlinux ({other}) has 1 symbols" in err
    assert str(dump) + ")" not in err


def test_source_errors_and_usage(tmp_path, dump, capsys):
    mod = lp(tmp_path, f"{R}vmlinux.vmlinux.show_stat,2")
    missing = tmp_path / "nope.txt"
    status, _o, err = run(["--symbols", missing, mod], capsys)
    assert (status, err) == (1, f"klp-convert: {missing}: No such file or "
                                "directory\n")
    bad = tmp_path / "Module.symvers"
    bad.write_text("garbage\n")
    status, _o, err = run(["--symvers", bad, mod], capsys)
    assert status == 1 and err.startswith(f"klp-convert: {bad}: line 1: not "
                                          "a Module.symvers line")
    for mode in ("--weaken", "--strip-debug"):
        status, _o, err = run([mode, "--symbols", dump, mod], capsys)
        assert status == 2 and err.endswith(
            "klp-convert: --symbols and --symvers apply to a conversion, "
            "--list or --check, not to --weaken or --strip-debug\n")


def test_nothing_to_verify(tmp_path, dump, capsys):
    plain = assemble(tmp_path / "plain.ko", ".text\nf: ret\n")
    out = tmp_path / "out.ko"
    status, _o, err, written = converted(
        capsys, ["--strict", "--symbols", dump, plain, out], out)
    assert (status, err, written) == (0, "", True)


C_MISTAKES = r"""
/* A function declared as data, and data declared as a function. */
extern int klp_fn_as_data
	__asm__("\".klp.sym.rela.vmlinux.vmlinux.unique_fn,0\"");
extern void klp_data_as_fn(void)
	__asm__("\".klp.sym.rela.vmlinux.vmlinux.saved_command_line,0\"");
extern int klp_right_data
	__asm__("\".klp.sym.rela.vmlinux.vmlinux.saved_command_line_len,0\"");
extern void klp_right_fn(void)
	__asm__("\".klp.sym.rela.vmlinux.vmlinux.cmdline_proc_show.isra.0,0\"");
int use(void)
{
	klp_data_as_fn();
	klp_right_fn();
	return klp_fn_as_data + (int)(long)&klp_right_data;
}
static const char modinfo[] __attribute__((section(".modinfo"), used)) =
	"livepatch=Y";
"""


def test_use_against_type_from_compiled_c(tmp_path, capsys):
    """gcc with the kernel's code model: a call to data and a load from a
    function are flagged; a right call, and an address taken of data
    (also a function declared right) are not."""
    src = tmp_path / "lp.c"
    src.write_text(C_MISTAKES.replace("saved_command_line_len,0",
                                      "unique_fn,1"))
    obj = tmp_path / "lp.o"
    subprocess.run(["gcc", "-c", "-O2", "-mcmodel=kernel", "-fno-pic",
                    "-mno-red-zone", str(src), "-o", str(obj)], check=True)
    ko = tmp_path / "lp.ko"
    subprocess.run(["ld", "-r", str(obj), "-o", str(ko)], check=True)
    dump = tmp_path / "k.txt"
    dump.write_text(DUMP)
    status, _o, err = run(["--list", "--symbols", dump, ko], capsys)
    assert status == 0
    warnings = [line for line in err.splitlines() if "warning:" in line]
    calls_data = [w for w in warnings if "calls 'saved_command_line'" in w]
    loads_fn = [w for w in warnings if "reads or writes 'unique_fn' as "
                "data" in w]
    assert len(calls_data) == 1 and "R_X86_64_PLT32" in calls_data[0]
    assert len(loads_fn) == 1 and "R_X86_64_PC32" in loads_fn[0]
    assert not [w for w in warnings if "cmdline_proc_show" in w and
                "calls" in w]
