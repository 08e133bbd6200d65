# SPDX-License-Identifier: GPL-2.0-only
"""The selftests (shell scripts, test modules, Makefiles) pass the
checkpatch.pl --strict of Linux 7.3 (Debian's linux-source-7.3, fetched
and extracted through vmtest's environment of trixie-backports) without a
warning: the upstream series carries these files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parents[2]
SELFTESTS = ROOT / "tools" / "testing" / "selftests" / "livepatch"
sys.path.insert(0, str(SELFTESTS))

from vmtest_lib import env  # noqa: E402


def _files() -> List[Path]:
    files = [SELFTESTS / n for n in ("Makefile", "functions.sh")]
    files += sorted(SELFTESTS.glob("test-*.sh"))
    mods = SELFTESTS / "test_modules"
    files += [mods / "Makefile", *sorted(mods.glob("*.[ch]"))]
    files += sorted(mods.glob("build_fail/*/*"))
    return files


@pytest.fixture(scope="session")
def checkpatch() -> Path:
    """scripts/checkpatch.pl of linux-source-7.3: the tree that vmtest's
    environments extract once for every test that needs it."""
    return Path(env.source_tree("trixie-backports")) / "scripts" / "checkpatch.pl"


@pytest.mark.slow
@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(SELFTESTS)))
def test_checkpatch_strict(checkpatch: Path, path: Path) -> None:
    res = subprocess.run(["perl", str(checkpatch), "--no-tree", "--strict",
                          "--quiet", "-f", str(path)],
                         capture_output=True, text=True)
    assert res.returncode == 0 and not res.stdout.strip(), res.stdout + res.stderr
