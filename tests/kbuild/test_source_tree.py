# SPDX-License-Identifier: GPL-2.0-only
"""The hook inside a kernel source tree, on Debian's linux-source of 6.1,
6.12 and 7.3: install-hook, the kernel's own config, `make olddefconfig
modules_prepare` where the kernel's compiler is, then
`make M=samples/livepatch` with our sample next to the tree's own.  A
full kernel build does not fit in CI; the Module.symvers of Debian's
headers package stands in for the one a full build would write, so
modpost resolves vmlinux symbols as it would in the in-tree
`make modules` path (same Makefile.modpost/modfinal rules).  About a
minute per tree on 2 cores."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from kbuild_support import INSTALL_HOOK, TOP, Kbuild, environment, readelf

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("suite,generation", [("bookworm", "6.1"), ("trixie", "6.12"),
                                              ("trixie-backports", "7")])
def test_make_m_samples_livepatch_in_source_tree(suite: str, generation: str,
                                                 tmp_path: Path) -> None:
    e = environment(suite)
    tarball = e.source_tarball()
    if not e.config:
        pytest.fail(f"{suite}: no config of {e.release}")
    subprocess.run(["tar", "-xf", tarball, "-C", str(tmp_path)], check=True)
    (src,) = [p for p in tmp_path.iterdir() if p.name.startswith("linux-source-")]

    r = subprocess.run([str(INSTALL_HOOK), str(src)], capture_output=True, text=True)
    assert r.returncode == 0 and f"(Kbuild {generation})" in r.stdout, r.stdout + r.stderr
    assert not list(src.rglob("*.orig")) and not list(src.rglob("*.rej"))

    shutil.copy(e.config, src / ".config")
    tree = Kbuild(e, src, src)
    cc = [] if e.chroot is None else [f"CC={e.compiler}", f"HOSTCC={e.compiler}"]
    tree.run(["make", "-s", *cc, "olddefconfig"], src)
    tree.run(["make", "-s", "-j2", *cc, "modules_prepare"], src)
    shutil.copy(Path(e.headers) / "Module.symvers", src / "Module.symvers")

    sample = src / "samples" / "livepatch"
    shutil.copy(TOP / "samples" / "livepatch" / "livepatch-klp-convert.c", sample)
    with open(sample / "Makefile", "a") as mk:
        mk.write((TOP / "samples" / "livepatch" / "Makefile").read_text())
    make = ["make", "-j2", *cc, "M=samples/livepatch", "CONFIG_SAMPLE_LIVEPATCH=m"]
    r = tree.run(make, src)
    klp = [line for line in r.stdout.splitlines() if "KLP [M]" in line]
    assert len(klp) == 1 and re.search(r"KLP \[M\]\s+\S*livepatch-klp-convert\.ko "
                                       r"\(symbols not verified\)$", klp[0]), r.stdout
    assert "undefined!" not in r.stderr, r.stderr

    ko = sample / "livepatch-klp-convert.ko"
    syms = readelf(ko, "-s")
    assert re.search(r"GLOBAL DEFAULT OS \[0xff20\] "
                     r"\.klp\.sym\.vmlinux\.saved_command_line,0", syms), syms
    assert ".klp.sym.rela." not in syms
    assert ".klp.rela.vmlinux." in readelf(ko, "-S")
    # the tree's own samples are not touched by the hook
    assert ".klp" not in readelf(sample / "livepatch-sample.ko", "-s")

    # rerun: nothing relinked or reconverted
    stamps = {f: f.stat().st_mtime_ns for f in sample.glob("*.ko")}
    r = tree.run(make, src)
    assert not re.search(r"^\s*(LD|KLP|CC)", r.stdout, re.M), r.stdout
    assert stamps == {f: f.stat().st_mtime_ns for f in sample.glob("*.ko")}

    tree.run(make + ["clean"], src)
    assert not list(sample.glob("*.ko")) and not list(sample.glob("*.o"))
    assert not list(sample.glob(".*.klp.tmp"))
