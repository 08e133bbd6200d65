# SPDX-License-Identifier: GPL-2.0-only
"""The hook inside a kernel source tree: linux-source-6.1 with Debian's
config, `make olddefconfig modules_prepare`, the patch applied, then
`make M=samples/livepatch`.  A full kernel build does not fit in CI; the
Module.symvers of Debian's headers package stands in for the one a full
build would write, so modpost resolves vmlinux symbols as it would in
the in-tree `make modules` path (same Makefile.modpost/modfinal rules).
About a minute on 2 cores (extraction ~15 s, modules_prepare ~20 s)."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
TARBALL = "/usr/src/linux-source-6.1.tar.xz"
pytestmark = pytest.mark.slow


def run(cmd, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if check:
        assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def test_make_m_samples_livepatch_in_source_tree(tmp_path):
    if not os.path.exists(TARBALL):
        pytest.fail(f"{TARBALL} missing: tests/run installs linux-source-6.1")
    configs = sorted(glob.glob("/boot/config-6.1.0-*-amd64"))
    symvers = sorted(glob.glob("/usr/src/linux-headers-6.1.0-*-amd64/Module.symvers"))
    if not configs or not symvers:
        pytest.fail("need /boot/config-6.1.0-*-amd64 and linux-headers-6.1.0-*-amd64")
    run(["tar", "-xJf", TARBALL, "-C", str(tmp_path)], tmp_path)
    src = tmp_path / "linux-source-6.1"

    # installation as documented: scripts/livepatch + the patch
    r = run([str(TOP / "scripts" / "kbuild-hook" / "install-hook"), str(src)], src)
    assert "Kbuild 6.1" in r.stdout, r.stdout + r.stderr

    shutil.copy(configs[-1], src / ".config")
    run(["make", "-s", "olddefconfig"], src)
    run(["make", "-s", "-j2", "modules_prepare"], src)
    shutil.copy(symvers[-1], src / "Module.symvers")

    # our sample next to the tree's own livepatch samples
    sample = src / "samples" / "livepatch"
    shutil.copy(TOP / "samples" / "livepatch" / "livepatch-klp-convert.c", sample)
    with open(sample / "Makefile", "a") as mk:
        mk.write((TOP / "samples" / "livepatch" / "Makefile").read_text())

    make = ["make", "-j2", "M=samples/livepatch", "CONFIG_SAMPLE_LIVEPATCH=m"]
    r = run(make, src)
    klp_lines = [l for l in r.stdout.splitlines() if "KLP [M]" in l]
    assert klp_lines == ["  KLP [M]  samples/livepatch/livepatch-klp-convert.ko"
                         " (symbols not verified)"], r.stdout
    assert "undefined!" not in r.stderr, r.stderr

    ko = sample / "livepatch-klp-convert.ko"
    syms = run(["readelf", "-W", "-s", str(ko)], src).stdout
    assert re.search(r"GLOBAL DEFAULT OS \[0xff20\] "
                     r"\.klp\.sym\.vmlinux\.saved_command_line,0", syms), syms
    assert ".klp.sym.rela." not in syms
    assert ".klp.rela.vmlinux." in run(["readelf", "-W", "-S", str(ko)], src).stdout
    # the tree's own samples are not touched by the hook
    plain = run(["readelf", "-W", "-s", str(sample / "livepatch-sample.ko")], src).stdout
    assert ".klp" not in plain

    # rerun: nothing relinked or reconverted
    stamps = {f: f.stat().st_mtime_ns for f in sample.glob("*.ko")}
    r = run(make, src)
    assert not re.search(r"^\s*(LD|KLP|CC)", r.stdout, re.M), r.stdout
    assert stamps == {f: f.stat().st_mtime_ns for f in sample.glob("*.ko")}

    run(make + ["clean"], src)
    assert not list(sample.glob("*.ko")) and not list(sample.glob("*.o"))
    assert not list(sample.glob(".*.klp.tmp"))
