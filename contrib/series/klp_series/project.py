# SPDX-License-Identifier: GPL-2.0-only
"""The project's committed files, read at one commit.

Files that are never upstream material are left out here, whatever the
base: the project's own tools and tests (contrib/, the QEMU runner
vmtest and vmtest_lib), the Kbuild hook variants (applied as patches,
never copied), Python byte code.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Dict, List, Pattern, Tuple

from .base import HOOK_FILES
from .proc import SeriesError, run

PROJECT = Path(__file__).resolve().parents[3]

NEVER: Tuple[Pattern[str], ...] = (
    re.compile(r"^contrib/"),
    re.compile(r"^tools/testing/selftests/livepatch/vmtest(_lib)?(/|$)"),
    HOOK_FILES,
    re.compile(r"(^|/)__pycache__/"),
    re.compile(r"\.pyc$"),
)


class Project:
    """The project at @ref: its file list with modes, read once."""

    def __init__(self, ref: str = "HEAD", root: Path = PROJECT) -> None:
        self.root = root
        self.ref = ref
        self.commit = run(["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
                          cwd=root).stdout.strip()
        self.modes: Dict[str, int] = {}
        out = run(["git", "ls-tree", "-r", "-z", self.commit], cwd=root).stdout
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            mode = meta.split()[0]
            self.modes[path] = 0o755 if mode == "100755" else 0o644

    def has(self, path: str) -> bool:
        return path in self.modes

    def files(self) -> List[str]:
        """Every committed file that may go upstream, sorted."""
        return sorted(p for p in self.modes
                      if not any(rx.search(p) for rx in NEVER))

    def blob(self, path: str) -> bytes:
        proc = subprocess.run(["git", "cat-file", "blob",
                               f"{self.commit}:{path}"], cwd=self.root,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            raise SeriesError(f"{path}: not in the project at "
                              f"{self.commit[:12]}")
        return proc.stdout

    def mode(self, path: str) -> int:
        return self.modes[path]

    def dirty(self) -> bool:
        return bool(run(["git", "status", "--porcelain",
                         "--untracked-files=no"], cwd=self.root,
                        check=False).stdout.strip())

    def identity(self) -> Tuple[str, str]:
        """user.name and user.email: the Signed-off-by of every patch."""
        def get(key: str) -> str:
            return run(["git", "config", "--get", key], cwd=self.root,
                       check=False).stdout.strip()
        name, email = get("user.name"), get("user.email")
        if not name or not email:
            raise SeriesError("git config user.name and user.email must be "
                              "set (they give the Signed-off-by lines)")
        return name, email
