# SPDX-License-Identifier: GPL-2.0-only
"""The Kbuild hook in real builds, on every supported kernel: `make -C
KDIR M=dir` against private copies of each Debian kernel's headers
package, one with the hook (klp-headers) and one without (--no-hook),
run where the kernel's compiler is.  Each test runs once per kernel
(bookworm 6.1, trixie 6.12, trixie-backports 7.3, sid 7.2)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from kbuild_support import (BAD_DECL, GOOD_DECL, TOP, Kbuild, bad_lp, good_lp,
                      headers_copy, livepatch, module_dir, modpost_undefined,
                      no_tmp_left, ordinary, products, readelf)

pytestmark = pytest.mark.slow

KLP_SYM = r"GLOBAL DEFAULT OS \[0xff20\] \.klp\.sym\.vmlinux\.saved_command_line,0"


def klp_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if "KLP [M]" in line]


def test_livepatch_and_ordinary_modules(kbuild: Kbuild, tmp_path: Path) -> None:
    d = module_dir(tmp_path, "obj-m := lp.o ord.o",
                   {"lp.c": good_lp(), "ord.c": ordinary()})
    r = kbuild.make(d)
    klp = klp_lines(r.stdout)
    assert len(klp) == 1 and re.search(r"KLP \[M\]\s+\S*lp\.ko \(symbols not verified\)$",
                                       klp[0]), r.stdout
    syms = readelf(d / "lp.ko", "-s")
    assert re.search(KLP_SYM, syms) and ".klp.sym.rela." not in syms, syms
    assert ".klp.rela.vmlinux..text" in readelf(d / "lp.ko", "-S")
    # modpost never versions or reports an intermediate symbol
    assert ".klp.sym" not in (d / "lp.mod.c").read_text()
    assert "undefined" not in r.stderr, r.stderr

    # a rerun with nothing changed relinks and reconverts nothing
    stamps = products(d)
    r = kbuild.make(d)
    assert not re.search(r"^\s*(LD|KLP|CC)", r.stdout, re.M), r.stdout
    assert stamps == products(d)

    # touching the source relinks and reconverts (7.x relinks with
    # if_changed, 6.x with if_changed_except); V=1 shows both steps
    (d / "lp.c").write_text(good_lp() + "\n")
    r = kbuild.make(d, "V=1")
    assert "scripts/livepatch/klp-convert --weaken" in r.stdout, r.stdout
    assert re.search(r"scripts/livepatch/klp-convert +(--symvers \S+ +)+\S*lp\.ko$",
                     r.stdout, re.M), r.stdout
    assert re.search(KLP_SYM, readelf(d / "lp.ko", "-s"))

    # make clean leaves only the sources
    kbuild.make(d, "clean")
    assert sorted(f.name for f in d.iterdir()) == ["Kbuild", "lp.c", "ord.c"]


def test_ordinary_modules_byte_identical_and_no_python(kbuild: Kbuild,
                                                       tmp_path: Path) -> None:
    """Same headers path, same module path, with and without the hook; the
    hooked build runs with PYTHON3=false, so any interpreter start for an
    ordinary module would fail it."""
    files = {f"ord{i}.c": ordinary(i) for i in range(3)}
    d = module_dir(tmp_path, "obj-m := " + " ".join(f"ord{i}.o" for i in range(3)), files)
    dest = tmp_path / "kdir"
    results = []
    for hook in (False, True):
        kd = headers_copy(kbuild.env, dest, hook=hook)
        copy = Kbuild(kbuild.env, kd, dest)
        copy.make(d, "clean")
        r = copy.make(d, *(["PYTHON3=false"] if hook else []))
        assert "KLP" not in r.stdout
        results.append({f: (d / f"{f[:-2]}.ko").read_bytes() for f in files})
    assert results[0] == results[1]


def test_bad_livepatch_stops_the_build_and_reruns_fail(kbuild: Kbuild,
                                                       tmp_path: Path) -> None:
    d = module_dir(tmp_path, "obj-m := lp.o ord.o",
                   {"lp.c": good_lp(), "ord.c": ordinary()})
    kbuild.make(d)
    assert (d / "lp.ko").exists()
    (d / "lp.c").write_text(bad_lp())
    for _ in range(2):
        r = kbuild.make(d, check=False)
        assert r.returncode != 0
        assert re.search(r"klp-convert: \S*lp\.ko: section '\.text[^']*' offset "
                         r"0x[0-9a-f]+: R_X86_64_PC32 against "
                         r"'\.klp\.sym\.rela\.lp_target\.vmlinux\.bad_var,0': "
                         r"module-specific relocation", r.stderr), r.stderr
        assert not (d / "lp.ko").exists() and no_tmp_left(d)
    (d / "lp.c").write_text(good_lp())
    kbuild.make(d)
    assert re.search(KLP_SYM, readelf(d / "lp.ko", "-s"))


def test_bad_name_stops_before_modpost(kbuild: Kbuild, tmp_path: Path) -> None:
    bad = livepatch(GOOD_DECL + '\nextern int bad_var asm('
                    '"\\".klp.sym.rela.vmlinux.vmlinux.bad_var\\"");',
                    "saved_command_line[0] + bad_var")
    d = module_dir(tmp_path, "obj-m := lp.o", {"lp.c": bad})
    r = kbuild.make(d, check=False)
    assert r.returncode != 0
    assert "klp-convert: " in r.stderr and "sympos" in r.stderr, r.stderr
    assert not (d / "lp.mod.c").exists()       # modpost never ran
    assert not (d / "lp.ko").exists()


def test_missing_ordinary_symbols_still_fail(kbuild: Kbuild, tmp_path: Path) -> None:
    """In a livepatch, and in an ordinary module built next to one:
    modpost's own error, nothing of ours."""
    d = module_dir(tmp_path, "obj-m := lp.o ord.o", {
        "lp.c": livepatch(GOOD_DECL + "\nextern int zz_missing_lp;",
                          "saved_command_line[0] + zz_missing_lp"),
        "ord.c": ordinary(decl="extern int zz_missing_ordinary;",
                          use="zz_missing_ordinary")})
    r = kbuild.make(d, check=False)
    assert r.returncode != 0
    for sym in ("zz_missing_lp", "zz_missing_ordinary"):
        assert re.search(modpost_undefined(sym), r.stderr), r.stderr
    assert ".klp.sym.rela" not in r.stderr


def test_plain_copy_rejects_livepatch_like_stock_kbuild(plain_kbuild: Kbuild,
                                                        tmp_path: Path) -> None:
    """Without the hook, stock modpost stops at the intermediate symbol:
    what the hook is for (and why a livepatch never leaves unconverted)."""
    d = module_dir(tmp_path, "obj-m := lp.o", {"lp.c": good_lp()})
    inc = TOP / "scripts" / "livepatch" / "include"
    r = plain_kbuild.make(d, f"KCFLAGS=-I{inc}", check=False, binds=(inc,))
    assert r.returncode != 0
    assert re.search(modpost_undefined(".klp.sym.rela.vmlinux.vmlinux."
                                       "saved_command_line,0"), r.stderr), r.stderr


def test_sample(kbuild: Kbuild, tmp_path: Path) -> None:
    d = tmp_path / "sample"
    shutil.copytree(TOP / "samples" / "livepatch", d)
    r = kbuild.make(d, "CONFIG_SAMPLE_LIVEPATCH=m")
    assert "KLP [M]" in r.stdout and "WARNING" not in r.stderr, r.stdout + r.stderr
    ko = d / "livepatch-klp-convert.ko"
    assert re.search(KLP_SYM, readelf(ko, "-s"))
    info = subprocess.run(["modinfo", str(ko)], capture_output=True, text=True).stdout
    assert re.search(r"^livepatch:\s+Y$", info, re.M), info


def test_composite_livepatch_and_v1(kbuild: Kbuild, tmp_path: Path) -> None:
    """The intermediate symbol lives in one object of a two-object module."""
    helper = ("// SPDX-License-Identifier: GPL-2.0-only\n#include <linux/klp_reloc.h>\n"
              + GOOD_DECL + "\nint lp_first(void);\n"
              "int lp_first(void) { return saved_command_line[0]; }\n")
    main = livepatch("int lp_first(void);", "lp_first()")
    d = module_dir(tmp_path, "obj-m := lpc.o\nlpc-y := main.o helper.o",
                   {"main.c": main, "helper.c": helper})
    r = kbuild.make(d, "V=1")
    conv = [line for line in r.stdout.splitlines()
            if "scripts/livepatch/klp-convert" in line and "--weaken" not in line]
    assert len(conv) == 1 and re.search(r"\S*lpc\.ko$", conv[0].rstrip()), r.stdout
    assert sum("klp-convert --weaken" in line for line in r.stdout.splitlines()) == 1
    syms = readelf(d / "lpc.ko", "-s")
    assert re.search(KLP_SYM, syms) and not re.search(r"WEAK .*\.klp\.sym", syms)


def test_relink_by_changed_ld_command_reconverts(kbuild: Kbuild, tmp_path: Path) -> None:
    """if_changed relinks a .ko when only its ld command changed (no newer
    prerequisite): the hook converts that relinked .ko too; an ordinary
    module is relinked, not converted."""
    d = module_dir(tmp_path, "obj-m := lp.o ord.o", {"lp.c": good_lp(), "ord.c": ordinary()})
    kbuild.make(d)
    r = kbuild.make(d, "LDFLAGS_MODULE=--build-id=none")
    assert re.search(r"^\s*LD \[M\]\s+\S*lp\.ko", r.stdout, re.M), r.stdout
    klp = klp_lines(r.stdout)
    assert len(klp) == 1 and re.search(r"\blp\.ko\b", klp[0]), r.stdout
    syms = readelf(d / "lp.ko", "-s")
    assert re.search(KLP_SYM, syms) and ".klp.sym.rela." not in syms
    r = kbuild.make(d, "LDFLAGS_MODULE=--build-id=none")
    assert not re.search(r"^\s*(LD|KLP)", r.stdout, re.M), r.stdout


ONLY_KLP = (GOOD_DECL + "\nchar **only_klp __section(\".data.onlyklp\") = "
            "&saved_command_line;")


def installed(root: Path, name: str) -> Path:
    found = [p for p in root.rglob(f"{name}.ko*") if p.is_file()]
    assert len(found) == 1, found
    return found[0]


def test_modules_install_strips_livepatch_safely(kbuild: Kbuild, tmp_path: Path) -> None:
    """INSTALL_MOD_STRIP=1 strips a livepatch with klp-convert: debug info
    gone, livepatch records intact (a section whose only relocations are
    klp ones is what binutils' strip turns into an ordinary .rela against
    symbol 0)."""
    d = module_dir(tmp_path, "obj-m := lp.o ord.o",
                   {"lp.c": livepatch(ONLY_KLP, "(*only_klp)[0]"), "ord.c": ordinary()})
    kbuild.make(d)
    inst = tmp_path / "inst"
    inst.mkdir()
    r = kbuild.make(d, "modules_install", f"INSTALL_MOD_PATH={inst}",
                    "INSTALL_MOD_STRIP=1", "DEPMOD=true", binds=(inst,))
    assert re.search(r"KLP STRIP\s+\S*lp\.ko", r.stdout), r.stdout
    lp = installed(inst, "lp")
    check = subprocess.run([str(TOP / "scripts" / "livepatch" / "klp-convert"),
                            "--check", str(lp)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    if lp.suffix == ".ko":
        sections = readelf(lp, "-S")
        assert ".debug_info" not in sections
        assert ".klp.rela.vmlinux..data.onlyklp" in sections
        assert ".rela.data.onlyklp" not in sections
    ordko = installed(inst, "ord")
    if ordko.suffix == ".ko":
        assert ".debug_info" not in readelf(ordko, "-S")


def test_modules_install_other_strip_is_checked(kbuild: Kbuild, tmp_path: Path) -> None:
    """Any other INSTALL_MOD_STRIP runs binutils' strip as asked, then
    klp-convert --check: a damaged livepatch stops the installation, an
    intact one is installed.  What binutils does differs by version:
    bookworm's 2.40 turns the .klp.rela section of a target with no other
    relocations into an ordinary one against symbol 0 (BZ 24456), trixie's
    2.44 keeps it, sid's changes its type."""
    d = module_dir(tmp_path, "obj-m := lp.o",
                   {"lp.c": livepatch(ONLY_KLP, "(*only_klp)[0]")})
    kbuild.make(d)
    inst = tmp_path / "inst"
    inst.mkdir()
    r = kbuild.make(d, "modules_install", f"INSTALL_MOD_PATH={inst}",
                    "INSTALL_MOD_STRIP=--strip-debug --remove-section=.comment",
                    "DEPMOD=true", binds=(inst,), check=False)
    assert re.search(r"^\s*STRIP\s+\S*lp\.ko$", r.stdout, re.M), r.stdout
    if r.returncode == 0:
        assert kbuild.env.suite != "bookworm", "binutils 2.40 damage not caught"
        lp = installed(inst, "lp")
        check = subprocess.run([str(TOP / "scripts" / "livepatch" / "klp-convert"),
                                "--check", str(lp)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    else:
        assert re.search(r"klp-convert: \S*lp\.ko: section '[^']*'", r.stderr), r.stderr
        assert not list(inst.rglob("lp.ko*"))


def test_plain_reference_to_a_patched_modules_export_is_refused(kbuild: Kbuild,
                                                               tmp_path: Path) -> None:
    """The hook passes the kernel's Module.symvers: a plain reference to
    a symbol exported by a module the patch patches (an lp-obj) would make
    the patch depend on that module; klp-convert refuses it and shows the
    KLP_RELOC_SYMBOL() line to write instead."""
    decls = (GOOD_DECL + "\nextern int ct_static KLP_RELOC_SYMBOL(nf_conntrack, "
             "nf_conntrack, nf_conntrack_hash_rnd);\n"
             "extern void __nf_conntrack_confirm(void);")
    d = module_dir(tmp_path, "obj-m := lp.o", {"lp.c": livepatch(
        decls, "saved_command_line[0] + ct_static + "
               "(int)(long)&__nf_conntrack_confirm")})
    r = kbuild.make(d, check=False)
    assert r.returncode != 0
    assert "undefined symbol '__nf_conntrack_confirm' is exported by module " \
        "'nf_conntrack', which this patch patches" in r.stderr, r.stderr
    assert "KLP_RELOC_SYMBOL(nf_conntrack, nf_conntrack, __nf_conntrack_confirm);" \
        in r.stderr
    assert not (d / "lp.ko").exists()


GOOD_DUMP = "ffffffff81000200 D saved_command_line\nffffffff81000300 T _text\n"
BAD_DUMP = "ffffffff81000200 D saved_comand_line\nffffffff81000300 T _text\n"


def test_klp_symbols_relative_and_on_an_up_to_date_module(kbuild: Kbuild,
                                                          tmp_path: Path) -> None:
    """KLP_SYMBOLS with a path relative to M= works on every Kbuild
    generation (6.x runs the recipes in the build tree, 7.x in M=).  A
    make that finds the livepatch up to date checks the finished module
    against the symbols (an earlier build had none or others) without
    relinking it, and removes a module that does not resolve; the next
    make relinks and refuses it as a conversion."""
    d = module_dir(tmp_path, "obj-m := lp.o ord.o",
                   {"lp.c": good_lp(), "ord.c": ordinary()})
    (d / "good.txt").write_text(GOOD_DUMP)
    (d / "bad.txt").write_text(BAD_DUMP)
    kbuild.make(d)
    stamps = products(d)

    r = kbuild.make(d, "KLP_SYMBOLS=good.txt")
    assert klp_lines(r.stdout) and all(
        re.search(r"KLP \[M\]\s+(\S*/)?lp\.ko \(check only\)$", line)
        for line in klp_lines(r.stdout)), r.stdout
    assert not re.search(r"^\s*LD", r.stdout, re.M) and stamps == products(d)

    missing = "symbol 'saved_command_line' not found in vmlinux"
    r = kbuild.make(d, "KLP_SYMBOLS=kallsyms:bad.txt", check=False)
    assert r.returncode != 0 and missing in r.stderr, r.stdout + r.stderr
    assert f"{d}/bad.txt" in r.stderr
    assert not (d / "lp.ko").exists() and (d / "ord.ko").exists()

    r = kbuild.make(d, "KLP_SYMBOLS=bad.txt", check=False)
    assert r.returncode != 0 and missing in r.stderr, r.stdout + r.stderr
    assert re.search(r"KLP \[M\]\s+(\S*/)?lp\.ko$", r.stdout, re.M), r.stdout
    assert not (d / "lp.ko").exists() and no_tmp_left(d)

    r = kbuild.make(d, f"KLP_SYMBOLS={d}/good.txt")
    assert re.search(r"KLP \[M\]\s+(\S*/)?lp\.ko$", r.stdout, re.M), r.stdout
    assert re.search(KLP_SYM, readelf(d / "lp.ko", "-s"))
