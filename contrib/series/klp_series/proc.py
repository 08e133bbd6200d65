# SPDX-License-Identifier: GPL-2.0-only
"""Running commands, and the one error type the command line reports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Optional, Sequence

PROG = "gen-patch-series"


class SeriesError(Exception):
    """A failure with a one-line message for the user."""


def run(cmd: Sequence[str], cwd: Optional[Path] = None, check: bool = True,
        stdin: Optional[str] = None) -> subprocess.CompletedProcess[str]:
    """Run @cmd with its output captured; with @check, a non-zero exit
    status raises SeriesError with the command and its last output line."""
    proc = subprocess.run(list(cmd), cwd=cwd, text=True, input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip().splitlines()
        tail = detail[-1] if detail else f"exit status {proc.returncode}"
        raise SeriesError(f"{' '.join(cmd)}: {tail}")
    return proc


class Log:
    """Progress lines on stderr, prefixed with the program name."""

    def __init__(self, quiet: bool = False, verbose: bool = False) -> None:
        self.quiet = quiet
        self.verbose = verbose

    def __call__(self, msg: str) -> None:
        if not self.quiet:
            print(f"{PROG}: {msg}", file=sys.stderr, flush=True)

    def detail(self, msg: str) -> None:
        if self.verbose:
            self(msg)


class Tree:
    """The temporary git repository the series is built in."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str, check: bool = True,
            stdin: Optional[str] = None) -> str:
        return run(["git", *args], cwd=self.root, check=check,
                   stdin=stdin).stdout
