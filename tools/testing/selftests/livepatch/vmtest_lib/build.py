# SPDX-License-Identifier: GPL-2.0-only
"""Build the test modules through the Kbuild hook."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from typing import List

from .config import KLP_HEADERS, SELFTEST_DIR, VmtestError
from .env import Environment
from .progress import say


def hooked_headers(headers: str, dest: str) -> str:
    """A private copy of @headers with the klp-convert hook: its KDIR."""
    r = subprocess.run([KLP_HEADERS, "--headers", headers, dest],
                       capture_output=True, text=True)
    if r.returncode:
        raise VmtestError(f"klp-headers failed:\n{r.stderr.strip()}")
    return r.stdout.strip().splitlines()[-1]


def test_modules(e: Environment, kdir: str, builddir: str) -> List[str]:
    """Build a copy of test_modules/ (the checkout stays clean) against
    @kdir, where @e's compiler is (@builddir is visible there)."""
    src = os.path.join(SELFTEST_DIR, "test_modules")
    dst = os.path.join(builddir, "test_modules")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("build_fail"))
    cmd = ["make", f"-j{os.cpu_count() or 2}", "-C", kdir, f"M={dst}"]
    say(f"vmtest: {' '.join(cmd)}"
        f"{f' (in the {e.build_suite} chroot, {e.compiler})' if e.chroot else ''}")
    r = e.run(cmd, binds=[builddir], cwd=dst, stdout=subprocess.PIPE,
              stderr=subprocess.STDOUT, text=True)
    with open(os.path.join(builddir, "build.log"), "w") as f:
        f.write(r.stdout)
    if r.returncode:
        tail = "\n".join(r.stdout.splitlines()[-25:])
        raise VmtestError(f"building the test modules failed:\n{tail}")
    mods = sorted(glob.glob(os.path.join(dst, "*.ko")))
    if not mods:
        raise VmtestError("the test module build produced no .ko")
    return mods


def built_modules(modules_dir: str) -> List[str]:
    """The .ko files of a test_modules directory built elsewhere."""
    mods = sorted(glob.glob(os.path.join(modules_dir, "*.ko")))
    if not mods:
        raise VmtestError(f"{modules_dir}: no .ko files (build the test "
                          "modules first)")
    return mods
