# SPDX-License-Identifier: GPL-2.0-only
"""Options, paths and exit codes of vmtest."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import List, Optional

# Exit codes: a test failure is told apart from a broken run.
EXIT_PASS = 0           # every selftest passed
EXIT_FAIL = 1           # a selftest failed (or skipped: a skip is not a pass)
EXIT_USAGE = 2          # bad command line
EXIT_INFRA = 3          # installing, building or packing failed
EXIT_TIMEOUT = 5        # the overall timeout expired
EXIT_KERNEL = 6         # kernel panic, oops or BUG, or the VM never finished

SELFTEST_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOP = os.path.abspath(os.path.join(SELFTEST_DIR, "..", "..", "..", ".."))
KLP_HEADERS = os.path.join(TOP, "contrib", "klp-headers")


class VmtestError(Exception):
    """An infrastructure problem (exit status EXIT_INFRA)."""


@dataclass
class Config:
    kernel: Optional[str] = None        # vmlinuz; default: Debian's current
    kdir: Optional[str] = None          # headers; default: matching Debian's
    workdir: Optional[str] = None
    keep: bool = False
    tests: List[str] = field(default_factory=list)
    timeout: float = 600.0
    kvm: str = "auto"
    install: bool = True
    memory: str = "1G"
    # a kernel tree's selftests (the kernel's functions.sh) and its built
    # test modules, run instead of this project's
    selftests_dir: Optional[str] = None
    modules_dir: Optional[str] = None


def test_progs(selftest_dir: str = SELFTEST_DIR) -> List[str]:
    """TEST_PROGS of the selftests Makefile, in order."""
    with open(os.path.join(selftest_dir, "Makefile")) as f:
        text = f.read().replace("\\\n", " ")
    m = re.search(r"^TEST_PROGS\s*:?=\s*(.*)$", text, re.M)
    if not m:
        raise VmtestError(f"{selftest_dir}/Makefile has no TEST_PROGS")
    return m.group(1).split()


def test_timeout(selftest_dir: str = SELFTEST_DIR, default: int = 300) -> int:
    """The kselftest per-test timeout from the settings file (timeout=0,
    kselftest's "none", and no setting: @default)."""
    try:
        with open(os.path.join(selftest_dir, "settings")) as f:
            m = re.search(r"^timeout=(\d+)", f.read(), re.M)
    except OSError:
        return default
    return int(m.group(1)) if m and int(m.group(1)) > 0 else default
