# SPDX-License-Identifier: GPL-2.0-only
"""Shared pieces of the Kbuild hook tests: the kernels, hooked and plain
copies of their Debian headers, module sources and a make that runs where
each kernel's compiler is (the host for bookworm's 6.1, a chroot for the
others: tools/testing/selftests/livepatch/vmtest_lib/env.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

TOP = Path(__file__).resolve().parents[2]
KLP_HEADERS = TOP / "contrib" / "klp-headers"
INSTALL_HOOK = TOP / "scripts" / "kbuild-hook" / "install-hook"
sys.path.insert(0, str(TOP / "tools" / "testing" / "selftests" / "livepatch"))

from vmtest_lib import env as kenv  # noqa: E402

# Every Debian kernel the project supports, by suite.
SUITES = ("bookworm", "trixie", "trixie-backports", "sid")

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
MODULE_DESCRIPTION("klp-convert Kbuild test livepatch");
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
MODULE_DESCRIPTION("klp-convert Kbuild test: an ordinary module");
"""


def livepatch(decls: str = GOOD_DECL, use: str = "saved_command_line[0]") -> str:
    return LIVEPATCH_C % {"decls": decls, "use": use}


def good_lp() -> str:
    return livepatch()


def bad_lp() -> str:
    """lp-obj lp_target with a vmlinux symbol: klp-convert refuses it."""
    return livepatch(GOOD_DECL + "\n" + BAD_DECL,
                     "saved_command_line[0] + bad_var")


def ordinary(n: int = 1, decl: str = "", use: str = "") -> str:
    return ORDINARY_C % (decl, use or str(n))


def module_dir(parent: Path, kbuild: str, files: dict[str, str],
               name: str = "mod") -> Path:
    d = parent / name
    d.mkdir()
    (d / "Kbuild").write_text(
        kbuild + "\nccflags-y += -I$(srctree)/scripts/livepatch/include\n")
    for fname, text in files.items():
        (d / fname).write_text(text)
    return d


def readelf(path: Path, *opts: str) -> str:
    return subprocess.run(["readelf", "-W", *opts, str(path)], check=True,
                          capture_output=True, text=True).stdout


def klp_headers(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(KLP_HEADERS), *args], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def headers_copy(e: kenv.Environment, dest: Path, hook: bool = True) -> Path:
    args = ["--headers", e.headers] + ([] if hook else ["--no-hook"]) + [str(dest)]
    return Path(klp_headers(*args).stdout.strip().splitlines()[-1])


@dataclass
class Kbuild:
    """make -C <headers copy> M=<dir> for one kernel, run where its
    compiler is."""

    env: kenv.Environment
    kdir: Path
    root: Path          # what the copy lives in (bound into the chroot)

    @property
    def series(self) -> tuple[int, int]:
        major, minor = self.env.series.split(".")[:2]
        return int(major), int(minor)

    def run(self, cmd: list[str], cwd: Path, binds: tuple[Path, ...] = (),
            check: bool = True) -> subprocess.CompletedProcess:
        r = self.env.run(cmd, binds=[str(self.root), str(cwd), *map(str, binds)],
                         cwd=str(cwd), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        if check:
            assert r.returncode == 0, f"{cmd}\n{r.stdout}\n{r.stderr}"
        return r

    def make(self, mdir: Path, *args: str, check: bool = True,
             binds: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
        return self.run(["make", "-j2", "-C", str(self.kdir), f"M={mdir}", *args],
                        mdir, binds, check)


def environment(suite: str) -> kenv.Environment:
    try:
        return kenv.environment(suite)
    except Exception as exc:        # a kernel we cannot get is a failure
        pytest.fail(f"{suite}: cannot set up the kernel environment: {exc}")


@pytest.fixture(scope="session", params=SUITES)
def suite(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def kernel(suite: str) -> kenv.Environment:
    return environment(suite)


@pytest.fixture(scope="session")
def kbuild(kernel: kenv.Environment,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kbuild]:
    root = tmp_path_factory.mktemp(f"kdir-{kernel.suite}")
    yield Kbuild(kernel, headers_copy(kernel, root), root)


@pytest.fixture(scope="session")
def plain_kbuild(kernel: kenv.Environment,
                 tmp_path_factory: pytest.TempPathFactory) -> Kbuild:
    root = tmp_path_factory.mktemp(f"kdir-plain-{kernel.suite}")
    return Kbuild(kernel, headers_copy(kernel, root, hook=False), root)


def modpost_undefined(symbol: str) -> str:
    """A regular expression for modpost's own "undefined" error:
    up to 6.12  ERROR: modpost: "sym" [dir/mod.ko] undefined!
    since 7.0   ERROR: modpost: dir/mod.ko: symbol 'sym' undefined!"""
    sym = symbol.replace(".", r"\.")
    return (rf'ERROR: modpost: (?:"{sym}" \[\S+\.ko\] undefined!|'
            rf"\S+\.ko: symbol '{sym}' undefined!)")


def no_tmp_left(d: Path) -> bool:
    return not list(d.glob(".*.klp.tmp"))


def products(d: Path) -> dict[str, int]:
    return {f.name: os.stat(f).st_mtime_ns for f in d.iterdir()
            if f.name.endswith((".o", ".ko", ".mod.c", ".mod"))}
