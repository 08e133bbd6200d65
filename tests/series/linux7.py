# SPDX-License-Identifier: GPL-2.0-only
"""The mainline 7.x tree the tests use, and objtool built from it.

The tree is Debian's linux-source-7.3 of trixie-backports, fetched and
extracted by vmtest's environments (vmtest_lib.env.source_tree()): one
cached extraction, a git repository of one commit, shared by every test
that needs it and never modified (tests clone it).  objtool is built
once per tree under the same cache, with the host's gcc and libelf-dev;
its klp subcommands need libxxhash-dev (>= 0.8).
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
SELFTESTS = TOP / "tools" / "testing" / "selftests" / "livepatch"
sys.path.insert(0, str(TOP / "contrib" / "series"))
sys.path.insert(0, str(SELFTESTS))

from vmtest_lib import cache, env  # noqa: E402

SUITE = "trixie-backports"


class Missing(Exception):
    """What is missing to run a 7.x test, for pytest.fail()."""


def tree() -> Path:
    """The pristine 7.x source tree (read only: clone it to change it)."""
    try:
        return Path(env.source_tree(SUITE))
    except env.ERRORS as exc:
        raise Missing(f"no linux-source of {SUITE}: {exc}") from exc


def _build(dest: Path, src: Path) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    shutil.copytree(src / "tools", dest / "tools", symlinks=True)
    proc = subprocess.run(["make", "-s", "-j2", "-C",
                           str(dest / "tools" / "objtool")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise Missing("building objtool failed (needs gcc, make, "
                      "libelf-dev, libxxhash-dev):\n" + proc.stderr[-2000:])


def objtool() -> Path:
    """objtool of the 7.x tree, with its klp subcommands."""
    src = tree()
    root = Path(cache.cache_dir()) / "objtool" / src.parent.name
    binary = root / "tools" / "objtool" / "objtool"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{root}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            _build(root, src)
    usage = subprocess.run([str(binary), "klp"], capture_output=True, text=True)
    if "not implemented" in usage.stdout + usage.stderr:
        raise Missing(f"{binary} has no klp support: install libxxhash-dev "
                      f"(>= 0.8) and remove {root}")
    return binary


def pristine_clean(path: Path) -> bool:
    """The shared tree is still as extracted (nothing changed, nothing
    added)."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored"],
                         cwd=path, capture_output=True, text=True)
    return out.returncode == 0 and not out.stdout.strip()


def environ() -> env.Environment:
    """The 7.x kernel environment: kernel, headers, build chroot."""
    try:
        return env.environment(SUITE, install=False)
    except env.ERRORS as exc:
        raise Missing(f"the {SUITE} environment: {exc}") from exc

