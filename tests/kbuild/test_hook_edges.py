# SPDX-License-Identifier: GPL-2.0-only
"""Edge cases of the Kbuild hook and of contrib/klp-headers:
system files untouched, failures never leave a .ko behind (also on a rerun
and over a previously good .ko), composite modules, V=1, missing ordinary
symbols in an ordinary module next to a livepatch."""

from __future__ import annotations

import glob
import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
KLP_HEADERS = TOP / "contrib" / "klp-headers"

LIVEPATCH_C = r"""
// SPDX-License-Identifier: GPL-2.0-only
#include <linux/module.h>
#include <linux/livepatch.h>
#include <linux/klp_reloc.h>

%(decls)s

static int new_show(struct seq_file *m, void *v)
{
	return %(use)s;
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

GOOD_DECL = ("extern char *saved_command_line\n"
             "\tKLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);")
BAD_DECL = "extern int bad_var KLP_RELOC_SYMBOL(lp_target, vmlinux, bad_var);"

ORDINARY_C = r"""
// SPDX-License-Identifier: GPL-2.0-only
#include <linux/module.h>
%s
static int o_init(void) { pr_info("ordinary %%d\n", %s); return 0; }
static void o_exit(void) { }
module_init(o_init);
module_exit(o_exit);
MODULE_LICENSE("GPL");
"""


def good_lp() -> str:
    return LIVEPATCH_C % {"decls": GOOD_DECL, "use": "saved_command_line[0]"}


def bad_lp() -> str:
    return LIVEPATCH_C % {"decls": GOOD_DECL + "\n" + BAD_DECL,
                          "use": "saved_command_line[0] + bad_var"}


def klp_headers(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(KLP_HEADERS), *args], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def kdir(tmp_path_factory) -> Path:
    if not glob.glob("/usr/src/linux-headers-*-amd64"):
        pytest.fail("no Debian headers: tests/run installs linux-headers-amd64")
    dest = tmp_path_factory.mktemp("kdir-edges")
    return Path(klp_headers(str(dest)).stdout.strip().splitlines()[-1])


def make(kdir: Path, mdir: Path, *args: str, check: bool = True):
    r = subprocess.run(["make", "-j2", "-C", str(kdir), f"M={mdir}", *args],
                       capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def module_dir(tmp_path: Path, kbuild: str, files: dict) -> Path:
    d = tmp_path / "mod"
    d.mkdir()
    (d / "Kbuild").write_text(
        kbuild + "\nccflags-y += -I$(srctree)/scripts/livepatch/include\n")
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def symbols(path: Path) -> str:
    return subprocess.run(["readelf", "-W", "-s", str(path)], check=True,
                          capture_output=True, text=True).stdout


def tree_digest(root: str) -> dict:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as f:
                    out[p] = (st.st_mtime_ns, hashlib.sha1(f.read()).hexdigest())
            else:
                out[p] = (st.st_mtime_ns, os.readlink(p) if os.path.islink(p) else None)
    return out


@pytest.mark.slow
def test_klp_headers_never_modifies_system_files(tmp_path):
    headers = sorted(glob.glob("/usr/src/linux-headers-*-amd64"))
    if not headers:
        pytest.fail("no Debian headers: tests/run installs linux-headers-amd64")
    kbuild = os.path.dirname(os.path.realpath(os.path.join(headers[-1], "scripts")))
    watched = [os.path.join(kbuild, "scripts"), headers[-1]]
    before = {w: tree_digest(w) for w in watched}
    kd = Path(klp_headers(str(tmp_path / "k")).stdout.strip().splitlines()[-1])
    assert {w: tree_digest(w) for w in watched} == before
    assert not os.path.exists(os.path.join(kbuild, "scripts", "livepatch"))
    # the copy is self-contained: scripts and the common include are in DEST
    assert str(tmp_path) in os.path.realpath(kd / "scripts")
    inc = (kd / "Makefile").read_text()
    assert f"include {tmp_path}" in inc, inc
    assert (Path(os.path.realpath(kd / "scripts")) / "livepatch" / "klp-convert").is_file()
    assert "klp_convert" in (Path(os.path.realpath(kd / "scripts")) / "Makefile.modfinal").read_text()
    # --no-hook over the same DEST: stock Makefiles, no scripts/livepatch
    kd2 = Path(klp_headers("--no-hook", str(tmp_path / "k")).stdout.strip().splitlines()[-1])
    assert kd2 == kd
    real = Path(os.path.realpath(kd / "scripts"))
    for name in ("Makefile.modpost", "Makefile.modfinal"):
        assert (real / name).read_bytes() == Path(kbuild, "scripts", name).read_bytes()
    assert not (real / "livepatch").exists()


def test_klp_headers_usage_errors(tmp_path):
    assert klp_headers(check=False).returncode == 2
    assert klp_headers("--bogus", str(tmp_path), check=False).returncode == 2
    r = klp_headers("--headers", str(tmp_path / "nope"), str(tmp_path / "d"), check=False)
    assert r.returncode == 1 and "klp-headers:" in r.stderr and "nope" in r.stderr
    r = klp_headers("--headers", str(tmp_path), str(tmp_path / "d"), check=False)
    assert r.returncode == 1 and "not a headers package" in r.stderr
    assert not r.stdout


@pytest.mark.slow
def test_failure_removes_previous_ko_and_rerun_fails_again(kdir, tmp_path):
    d = module_dir(tmp_path, "obj-m := lp.o ord.o",
                   {"lp.c": good_lp(), "ord.c": ORDINARY_C % ("", "1")})
    make(kdir, d)
    assert (d / "lp.ko").exists()
    (d / "lp.c").write_text(bad_lp())
    for _ in range(2):
        r = make(kdir, d, check=False)
        assert r.returncode != 0
        assert "klp-convert: " in r.stderr and "module-specific relocation" in r.stderr, r.stderr
        assert not (d / "lp.ko").exists()
        assert not list(d.glob(".*.klp.tmp"))
    # fixed again: converts
    (d / "lp.c").write_text(good_lp())
    make(kdir, d)
    assert ".klp.sym.vmlinux.saved_command_line,0" in symbols(d / "lp.ko")


@pytest.mark.slow
def test_composite_livepatch_and_v1(kdir, tmp_path):
    """The intermediate symbol lives in one object of a two-object module."""
    helper = ("// SPDX-License-Identifier: GPL-2.0-only\n#include <linux/klp_reloc.h>\n"
              "extern char *saved_command_line\n"
              "\tKLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);\n"
              "int lp_first(void) { return saved_command_line[0]; }\n")
    main = LIVEPATCH_C % {"decls": "int lp_first(void);", "use": "lp_first()"}
    d = module_dir(tmp_path, "obj-m := lpc.o\nlpc-y := main.o helper.o",
                   {"main.c": main, "helper.c": helper})
    r = make(kdir, d, "V=1")
    conv = [l for l in r.stdout.splitlines()
            if "scripts/livepatch/klp-convert" in l and "--weaken" not in l]
    assert len(conv) == 1 and conv[0].rstrip().endswith(f"{d}/lpc.ko"), r.stdout
    # the weaken step is one shell snippet; its objects are found at run time
    assert sum("klp-convert --weaken" in l for l in r.stdout.splitlines()) == 1, r.stdout
    syms = symbols(d / "lpc.ko")
    assert re.search(r"OS \[0xff20\] \.klp\.sym\.vmlinux\.saved_command_line,0", syms)
    assert not re.search(r"WEAK .*\.klp\.sym", syms)


@pytest.mark.slow
def test_missing_symbol_in_ordinary_module_next_to_livepatch(kdir, tmp_path):
    d = module_dir(tmp_path, "obj-m := lp.o ord.o", {
        "lp.c": good_lp(),
        "ord.c": ORDINARY_C % ("extern int zz_missing_ordinary;", "zz_missing_ordinary")})
    r = make(kdir, d, check=False)
    assert r.returncode != 0
    assert 'ERROR: modpost: "zz_missing_ordinary" ' in r.stderr and "undefined!" in r.stderr, r.stderr
    assert ".klp.sym.rela" not in r.stderr


@pytest.mark.slow
def test_plain_copy_rejects_livepatch_like_stock_kbuild(tmp_path):
    """Without the hook, stock modpost stops at the intermediate symbol:
    what the hook is for (and why a livepatch never leaves unconverted)."""
    kd = Path(klp_headers("--no-hook", str(tmp_path / "k")).stdout.strip().splitlines()[-1])
    d = module_dir(tmp_path, "obj-m := lp.o", {"lp.c": good_lp()})
    inc = TOP / "scripts" / "livepatch" / "include"
    r = make(kd, d, f"KCFLAGS=-I{inc}", check=False)
    assert r.returncode != 0
    assert re.search(r'ERROR: modpost: "\.?klp\.sym\.rela\.vmlinux\.vmlinux\.'
                     r'saved_command_line,0" .*undefined!', r.stderr), r.stderr


@pytest.mark.slow
def test_relink_by_changed_ld_command_reconverts(kdir, tmp_path):
    """if_changed relinks a .ko when only its ld command changed (no newer
    prerequisite): the hook must convert that relinked .ko too, never leave
    a weak intermediate symbol in it; an ordinary module is relinked, not
    converted."""
    d = module_dir(tmp_path, "obj-m := lp.o ord.o",
                   {"lp.c": good_lp(), "ord.c": ORDINARY_C % ("", "1")})
    make(kdir, d)
    r = make(kdir, d, "LDFLAGS_MODULE=--build-id=none")
    assert re.search(r"^\s*LD \[M\]\s+\S*/lp\.ko", r.stdout, re.M), r.stdout
    klp = [l for l in r.stdout.splitlines() if "KLP [M]" in l]
    assert len(klp) == 1 and re.search(r"/lp\.ko\b", klp[0]), r.stdout
    syms = symbols(d / "lp.ko")
    assert re.search(r"OS \[0xff20\] \.klp\.sym\.vmlinux\.saved_command_line,0", syms)
    assert ".klp.sym.rela." not in syms
    # same flags again: nothing relinked or reconverted
    r = make(kdir, d, "LDFLAGS_MODULE=--build-id=none")
    assert not re.search(r"^\s*(LD|KLP)", r.stdout, re.M), r.stdout
