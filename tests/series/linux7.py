# SPDX-License-Identifier: GPL-2.0-only
"""Where the tests find a mainline 7.x tree, and objtool built from it.

The tree: $KLP_LINUX7_SRC, else /work/ksrc/linux-source-7.3 or
/usr/src/linux-source-7.3 (a directory), else tools/ extracted from
/usr/src/linux-source-7.3.tar.xz.  objtool is built once per release under
$KLP_SERIES_CACHE (default /var/cache/klp-convert), with the host's gcc and
libelf-dev; its klp subcommands need libxxhash-dev (>= 0.8).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "contrib" / "series"))

from klp_series import base as basemod  # noqa: E402

TREE_DIRS = (Path("/work/ksrc/linux-source-7.3"), Path("/usr/src/linux-source-7.3"))
TARBALL = Path("/usr/src/linux-source-7.3.tar.xz")
CACHE = Path(os.environ.get("KLP_SERIES_CACHE", "/var/cache/klp-convert"))


class Missing(Exception):
    """What is missing to run a 7.x test, for pytest.fail()."""


def tree() -> Path:
    """A 7.x kernel source directory (read only)."""
    env = os.environ.get("KLP_LINUX7_SRC")
    for cand in ([Path(env)] if env else []) + list(TREE_DIRS):
        if (cand / "Makefile").exists():
            return cand
    raise Missing(f"no Linux 7.x tree: set KLP_LINUX7_SRC, or provide one of "
                  f"{', '.join(map(str, TREE_DIRS))} or {TARBALL}")


def _tools_from_tarball(dest: Path) -> None:
    subprocess.run(["tar", "-xJf", str(TARBALL), "-C", str(dest),
                    "--strip-components=1", "linux-source-7.3/tools",
                    "linux-source-7.3/Makefile"], check=True)


def _build(dest: Path, src: Optional[Path]) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    if src is None:
        _tools_from_tarball(dest)
    else:
        shutil.copytree(src / "tools", dest / "tools", symlinks=True)
    proc = subprocess.run(["make", "-s", "-j2", "-C",
                           str(dest / "tools" / "objtool")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise Missing("building objtool failed (needs gcc, make, "
                      "libelf-dev, libxxhash-dev):\n" + proc.stderr[-2000:])


def objtool() -> Path:
    """objtool of the 7.x tree, with its klp subcommands."""
    try:
        src: Optional[Path] = tree()
    except Missing:
        if not TARBALL.exists():
            raise
        src = None
    release = basemod.read_version(src / "Makefile")[0] if src else (7, 3, 0)
    name = "objtool-" + ".".join(map(str, release))
    CACHE.mkdir(parents=True, exist_ok=True)
    binary = CACHE / name / "tools" / "objtool" / "objtool"
    with open(CACHE / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            _build(CACHE / name, src)
    usage = subprocess.run([str(binary), "klp"], capture_output=True, text=True)
    if "not implemented" in usage.stdout + usage.stderr:
        raise Missing(f"{binary} has no klp support: install libxxhash-dev "
                      f"(>= 0.8) and remove {CACHE / name}")
    return binary
