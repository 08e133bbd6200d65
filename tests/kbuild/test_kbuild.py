# SPDX-License-Identifier: GPL-2.0-only
"""The Kbuild hook in real builds: `make -C KDIR M=dir` against private
copies of Debian's installed headers, one with the hook (klp-headers) and
one without (klp-headers --no-hook)."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
KLP_HEADERS = TOP / "contrib" / "klp-headers"
pytestmark = pytest.mark.slow

LIVEPATCH_C = r"""
// SPDX-License-Identifier: GPL-2.0-only
#include <linux/module.h>
#include <linux/livepatch.h>
#include <linux/klp_reloc.h>

extern char *saved_command_line
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
extern int %(extra_decl)s;

static int new_show(struct seq_file *m, void *v)
{
	return saved_command_line[0] + %(extra_use)s;
}

static struct klp_func funcs[] = {
	{ .old_name = "cmdline_proc_show", .new_func = new_show, }, { }
};
static struct klp_object objs[] = { { .funcs = funcs, }, { } };
static struct klp_patch patch = { .mod = THIS_MODULE, .objs = objs, };

static int lp_init(void) { return klp_enable_patch(&patch); }
static void lp_exit(void) { }
module_init(lp_init);
module_exit(lp_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
"""

ORDINARY_C = r"""
// SPDX-License-Identifier: GPL-2.0-only
#include <linux/module.h>
static int n = %d;
static int o_init(void) { pr_info("ordinary %%d\n", n); return 0; }
static void o_exit(void) { }
module_init(o_init);
module_exit(o_exit);
MODULE_LICENSE("GPL");
"""


def headers_copy(tmp_path_factory, hook: bool) -> Path:
    if not glob.glob("/usr/src/linux-headers-*-amd64"):
        pytest.fail("no Debian headers: tests/run installs linux-headers-amd64")
    dest = tmp_path_factory.mktemp("kdir-hook" if hook else "kdir-plain")
    cmd = [str(KLP_HEADERS)] + ([] if hook else ["--no-hook"]) + [str(dest)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return Path(out.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def kdir(tmp_path_factory) -> Path:
    return headers_copy(tmp_path_factory, True)


def make(kdir: Path, mdir: Path, *args: str, check: bool = True):
    r = subprocess.run(["make", "-j2", "-C", str(kdir), f"M={mdir}", *args],
                       capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def module_dir(tmp_path: Path, files: dict) -> Path:
    d = tmp_path / "mod"
    d.mkdir()
    objs = " ".join(name[:-2] + ".o" for name in files if name.endswith(".c"))
    (d / "Kbuild").write_text(
        f"obj-m := {objs}\nccflags-y += -I$(srctree)/scripts/livepatch/include\n")
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def livepatch(extra_decl="unused_declaration", extra_use="0"):
    return LIVEPATCH_C % {"extra_decl": extra_decl, "extra_use": extra_use}


def readelf(path: Path, *opts: str) -> str:
    return subprocess.run(["readelf", "-W", *opts, str(path)], check=True,
                          capture_output=True, text=True).stdout


def test_livepatch_and_ordinary_modules(kdir, tmp_path):
    files = {"lp.c": livepatch(), "ord.c": ORDINARY_C % 1}
    d = module_dir(tmp_path, files)
    r = make(kdir, d)
    assert re.search(r"KLP \[M\]\s+\S*/lp\.ko", r.stdout), r.stdout
    assert "ord.ko" not in "".join(l for l in r.stdout.splitlines() if "KLP" in l)
    syms = readelf(d / "lp.ko", "-s")
    assert re.search(r"GLOBAL DEFAULT OS \[0xff20\] \.klp\.sym\.vmlinux\.saved_command_line,0", syms)
    assert ".klp.sym.rela." not in syms
    assert ".klp.rela.vmlinux..text" in readelf(d / "lp.ko", "-S")
    # MODVERSIONS: nothing of ours in __versions
    versions = subprocess.run(["strings", str(d / "lp.mod.c")], capture_output=True,
                              text=True).stdout
    assert ".klp.sym" not in versions and "klp_enable_patch" in versions
    assert b".klp" not in _section(d / "lp.ko", "__versions")
    # a rerun with nothing changed rebuilds nothing (stock Kbuild rewrites
    # modules.order and Module.symvers of an M= build every time: not ours)
    def products():
        return {f: os.stat(f).st_mtime_ns for f in d.iterdir()
                if f.name.endswith((".o", ".ko", ".mod.c", ".mod"))}
    stamps = products()
    r = make(kdir, d)
    assert not re.search(r"^\s*(LD|KLP|CC)", r.stdout, re.M), r.stdout
    assert stamps == products()

    # touching the source relinks and reconverts
    (d / "lp.c").write_text(livepatch() + "\n")
    r = make(kdir, d, "V=1")
    assert "scripts/livepatch/klp-convert" in r.stdout and "--weaken" in r.stdout
    assert ".klp.sym.vmlinux.saved_command_line,0" in readelf(d / "lp.ko", "-s")

    # make clean leaves only the sources
    make(kdir, d, "clean")
    assert sorted(f.name for f in d.iterdir()) == ["Kbuild", "lp.c", "ord.c"]


def test_ordinary_modules_byte_identical(tmp_path):
    """Same headers path, same module path: with and without the hook."""
    dest = tmp_path / "kdir"
    files = {f"ord{i}.c": ORDINARY_C % i for i in range(3)}
    d = module_dir(tmp_path, files)
    results = []
    for hook in (False, True):
        cmd = [str(KLP_HEADERS)] + ([] if hook else ["--no-hook"]) + [str(dest)]
        kd = Path(subprocess.run(cmd, check=True, capture_output=True,
                                 text=True).stdout.strip().splitlines()[-1])
        make(kd, d, "clean")
        r = make(kd, d)
        assert "KLP" not in r.stdout
        results.append({f: (d / f"{f[:-2]}.ko").read_bytes() for f in files})
    assert results[0] == results[1]


def _section(path: Path, name: str) -> bytes:
    out = tmp = path.with_suffix(".sec")
    subprocess.run(["objcopy", "-O", "binary", f"--only-section={name}", str(path),
                    str(tmp)], check=True)
    data = out.read_bytes()
    tmp.unlink()
    return data


def test_bad_livepatch_stops_the_build(kdir, tmp_path):
    bad = livepatch("bad_var KLP_RELOC_SYMBOL(lp_target, vmlinux, bad_var)",
                    "bad_var")
    d = module_dir(tmp_path, {"lp.c": bad})
    r = make(kdir, d, check=False)
    assert r.returncode != 0
    assert re.search(r"klp-convert: \S*lp\.ko: section '\.text[^']*' offset 0x[0-9a-f]+: "
                     r"R_X86_64_PC32 against '\.klp\.sym\.rela\.lp_target\.vmlinux\.bad_var,0': "
                     r"module-specific relocation", r.stderr), r.stderr
    assert not (d / "lp.ko").exists()


def test_bad_name_stops_before_modpost(kdir, tmp_path):
    bad = livepatch('bad_var asm("\\".klp.sym.rela.vmlinux.vmlinux.bad_var\\"")',
                    "bad_var")
    d = module_dir(tmp_path, {"lp.c": bad})
    r = make(kdir, d, check=False)
    assert r.returncode != 0
    assert "klp-convert: " in r.stderr and "sympos" in r.stderr, r.stderr
    assert not (d / "lp.ko").exists()


def test_missing_ordinary_symbol_still_fails(kdir, tmp_path):
    d = module_dir(tmp_path, {"lp.c": livepatch("no_such_symbol_xyz", "no_such_symbol_xyz")})
    r = make(kdir, d, check=False)
    assert r.returncode != 0
    assert 'ERROR: modpost: "no_such_symbol_xyz"' in r.stderr, r.stderr
    assert "undefined!" in r.stderr


def test_sample(kdir, tmp_path):
    d = tmp_path / "sample"
    shutil.copytree(TOP / "samples" / "livepatch", d)
    r = make(kdir, d, "CONFIG_SAMPLE_LIVEPATCH=m")
    assert "KLP [M]" in r.stdout
    ko = d / "livepatch-klp-convert.ko"
    assert ".klp.sym.vmlinux.saved_command_line,0" in readelf(ko, "-s")
    assert re.search(r"^livepatch:\s+Y$", subprocess.run(
        ["modinfo", str(ko)], capture_output=True, text=True).stdout, re.M)


def test_patch_applies_to_linux_source_6_1(tmp_path):
    tarball = "/usr/src/linux-source-6.1.tar.xz"
    if not os.path.exists(tarball):
        pytest.fail(f"{tarball} missing: tests/run installs linux-source-6.1")
    names = [f"linux-source-6.1/scripts/Makefile.{m}"
             for m in ("modpost", "modfinal", "modinst")]
    subprocess.run(["tar", "-xJf", tarball, "-C", str(tmp_path), *names], check=True)
    r = subprocess.run([str(TOP / "scripts" / "kbuild-hook" / "install-hook"),
                        "--kernel-version", "6.1", str(tmp_path / "linux-source-6.1")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Kbuild 6.1" in r.stdout
