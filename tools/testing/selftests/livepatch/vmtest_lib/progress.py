# SPDX-License-Identifier: GPL-2.0-only
"""Progress lines on stderr, with sizes and times for the slow steps."""

from __future__ import annotations

import os
import sys


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def human_size(nbytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if nbytes < 1024 or unit == "GB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.1f} GB"


def tree_size(path: str) -> int:
    """Bytes in the regular files under @path (symlinks not followed)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_size
    return total
