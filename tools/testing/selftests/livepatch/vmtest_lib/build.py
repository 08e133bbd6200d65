# SPDX-License-Identifier: GPL-2.0-only
"""Build the test modules through the Kbuild hook and install them as a
user does (modules_install with INSTALL_MOD_STRIP=1): the VM loads the
installed, stripped modules."""

from __future__ import annotations

import glob
import gzip
import io
import lzma
import os
import re
import shutil
import subprocess
from typing import Callable, Dict, List

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
    return install_stripped(e, kdir, builddir, dst, mods)


# What reads a compressed module: binary, read-only by default.
_DECOMPRESS: Dict[str, Callable[[str], io.BufferedIOBase]] = {
    ".xz": lzma.LZMAFile, ".gz": gzip.GzipFile}


def install_stripped(e: Environment, kdir: str, builddir: str, moddir: str,
                     built: List[str]) -> List[str]:
    """make modules_install INSTALL_MOD_STRIP=1 of the modules built in
    @moddir: every livepatch module must be stripped by klp-convert (KLP
    STRIP); returns the installed modules, decompressed, under
    @builddir/installed-ko."""
    inst = os.path.join(builddir, "installed")
    shutil.rmtree(inst, ignore_errors=True)
    os.makedirs(inst)
    cmd = ["make", "-C", kdir, f"M={moddir}", "modules_install",
           f"INSTALL_MOD_PATH={inst}", "INSTALL_MOD_STRIP=1", "DEPMOD=true"]
    say(f"vmtest: {' '.join(cmd)}")
    r = e.run(cmd, binds=[builddir], cwd=moddir, stdout=subprocess.PIPE,
              stderr=subprocess.STDOUT, text=True)
    with open(os.path.join(builddir, "install.log"), "w") as f:
        f.write(r.stdout)
    if r.returncode:
        tail = "\n".join(r.stdout.splitlines()[-25:])
        raise VmtestError(f"installing the test modules failed:\n{tail}")
    stripped = set(re.findall(r"KLP STRIP\s+\S*/([^/\s]+)\.ko\s*$", r.stdout, re.M))
    out_dir = os.path.join(builddir, "installed-ko")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    out = []
    for ko in built:
        name = os.path.basename(ko)[:-3]
        found = glob.glob(os.path.join(inst, "lib", "modules", "*", "*", f"{name}.ko*"))
        if len(found) != 1:
            raise VmtestError(f"modules_install: {name}.ko installed {len(found)} times")
        dest = os.path.join(out_dir, f"{name}.ko")
        opener = _DECOMPRESS.get(os.path.splitext(found[0])[1])
        if found[0].endswith(".ko"):
            shutil.copy(found[0], dest)
        elif opener is not None:
            with opener(found[0]) as src, open(dest, "wb") as f:
                shutil.copyfileobj(src, f)
        else:
            raise VmtestError(f"{found[0]}: cannot decompress")
        with open(ko, "rb") as f:
            livepatch = b"livepatch=Y" in f.read()
        if livepatch and name not in stripped:
            raise VmtestError(f"modules_install did not strip the livepatch {name}.ko "
                              "with klp-convert (no KLP STRIP line)")
        out.append(dest)
    say(f"vmtest: installed {len(out)} modules with INSTALL_MOD_STRIP=1 "
        f"({len(stripped)} livepatches stripped by klp-convert)")
    return out


def built_modules(modules_dir: str) -> List[str]:
    """The .ko files of a test_modules directory built elsewhere."""
    mods = sorted(glob.glob(os.path.join(modules_dir, "*.ko")))
    if not mods:
        raise VmtestError(f"{modules_dir}: no .ko files (build the test "
                          "modules first)")
    return mods
