# SPDX-License-Identifier: GPL-2.0-only
"""The selftests (shell scripts, test modules, Makefiles) pass the
checkpatch.pl --strict of Linux 7.3 (Debian's linux-source-7.3, fetched
through vmtest's environment of trixie-backports) without a warning: the
upstream series carries these files."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parents[2]
SELFTESTS = ROOT / "tools" / "testing" / "selftests" / "livepatch"
sys.path.insert(0, str(SELFTESTS))

from vmtest_lib import cache, env  # noqa: E402

SCRIPTS = ["checkpatch.pl", "spelling.txt", "const_structs.checkpatch"]


def _files() -> List[Path]:
    files = [SELFTESTS / n for n in ("Makefile", "functions.sh")]
    files += sorted(SELFTESTS.glob("test-*.sh"))
    mods = SELFTESTS / "test_modules"
    files += [mods / "Makefile", *sorted(mods.glob("*.[ch]"))]
    files += sorted(mods.glob("build_fail/*/*"))
    return files


@pytest.fixture(scope="session")
def checkpatch() -> Path:
    """scripts/checkpatch.pl of linux-source-7.3, unpacked once into the
    cache next to the source package."""
    tarball = env.source_tarball("trixie-backports")
    dest = os.path.join(os.path.dirname(tarball), "checkpatch")

    def build(tmp: str) -> None:
        with tarfile.open(tarball) as tar:
            for m in tar:
                if m.isfile() and m.name.count("/") == 2 and \
                        m.name.split("/", 1)[1] in [f"scripts/{s}" for s in SCRIPTS]:
                    m.name = os.path.basename(m.name)
                    tar.extract(m, tmp)
                if all(os.path.exists(os.path.join(tmp, s)) for s in SCRIPTS):
                    break
        missing = [s for s in SCRIPTS if not os.path.exists(os.path.join(tmp, s))]
        assert not missing, f"{tarball}: no scripts/{missing}"

    cache.ensure_dir(dest, build)
    return Path(dest) / "checkpatch.pl"


@pytest.mark.slow
@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(SELFTESTS)))
def test_checkpatch_strict(checkpatch: Path, path: Path) -> None:
    res = subprocess.run(["perl", str(checkpatch), "--no-tree", "--strict",
                          "--quiet", "-f", str(path)],
                         capture_output=True, text=True)
    assert res.returncode == 0 and not res.stdout.strip(), res.stdout + res.stderr
