# SPDX-License-Identifier: GPL-2.0-only
"""The series on mainline 7.x, end to end: generate it from a pristine
linux-source-7.3, check every patch with that tree's checkpatch.pl
--strict, git am it on a fresh clone, build the sample and the selftest
modules in the 7.x build environment, and run the selftests from the
series' tree in the 7.x kernel under QEMU.

Prepared, not yet required: conftest.py deselects it unless
KLP_SERIES_7=1.  It needs what lands later, and says so when it is missing:

- KLP_BUILD7: a command prefix that runs its arguments in the 7.x build
  environment with the tree's directory visible at the same path (for
  example a chroot runner), used as  $KLP_BUILD7 make -C TREE ...;
- KLP_CONFIG7: the 7.x kernel's config (Debian's linux-base-7.3 or
  /boot/config-*), for olddefconfig;
- KLP_VMTEST7: a command that runs the livepatch selftests of a built tree
  in the 7.x kernel under QEMU, as  $KLP_VMTEST7 TREE, printing kselftest
  TAP and exiting 0 only if all passed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest

import linux7
from test_gen_patch_series import check_series, git, run_generator

pytestmark = [pytest.mark.series7, pytest.mark.slow]
SELFTESTS = "tools/testing/selftests/livepatch"


def need(var: str) -> List[str]:
    value = os.environ.get(var)
    if not value:
        pytest.fail(f"{var} is not set (see {Path(__file__).name})")
    return shlex.split(value)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, git_env) -> Path:
    """linux-source-7.3 as a git repository (git am needs one)."""
    try:
        src = linux7.tree()
    except linux7.Missing as exc:
        pytest.fail(str(exc))
    root = tmp_path_factory.mktemp("k7") / "linux"
    subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(root)],
                   check=True)
    git(root, "init", "-q", env=git_env)
    git(root, "add", "-A", "-f", ".", env=git_env)
    git(root, "commit", "-q", "-m", f"{src.name} (pristine)", env=git_env)
    return root


def build(tree: Path, *args: str) -> str:
    proc = subprocess.run([*need("KLP_BUILD7"), "make", "-C", str(tree), *args],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def test_series_on_linux_7(pristine, git_env, tmp_path) -> None:
    out = tmp_path / "series"
    proc = run_generator(pristine, out, git_env)
    check_series(pristine, out, git_env, proc)
    applied = tmp_path / "series-am"       # check_series' git am clone
    cover = (out / "0000-cover-letter.patch").read_text()
    assert re.search(r"^Based on Linux 7\.\d+\.\d+", cover, re.MULTILINE)
    # the tree after the series, as a reviewer would build and test it
    config: Dict[str, str] = {"KLP_CONFIG7": os.environ.get("KLP_CONFIG7", "")}
    if not config["KLP_CONFIG7"]:
        pytest.fail("KLP_CONFIG7 is not set (see test_series_7.py)")
    (applied / ".config").write_bytes(Path(config["KLP_CONFIG7"]).read_bytes())
    build(applied, "-s", "olddefconfig")
    build(applied, "-s", "-j2", "modules_prepare")
    built = build(applied, "-j2", "M=samples/livepatch",
                  "CONFIG_SAMPLE_LIVEPATCH=m")
    assert "KLP [M]" in built
    built = build(applied, "-j2", f"M={SELFTESTS}/test_modules")
    assert built.count("KLP [M]") >= 3
    run = subprocess.run([*need("KLP_VMTEST7"), str(applied)],
                         capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert re.search(r"^ok \d+ .*test-klp-convert\.sh", run.stdout, re.M)
