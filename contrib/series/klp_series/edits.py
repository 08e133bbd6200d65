# SPDX-License-Identifier: GPL-2.0-only
"""Small edits of files the kernel tree already has, one function each.

Each takes the tree's root and returns the paths it changed (none when
the tree already has what it would add).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

from .proc import SeriesError
from .templates import snippet


def maintainers(root: Path) -> List[str]:
    """Add scripts/livepatch/ to the LIVE PATCHING entry, F: lines sorted."""
    path = root / "MAINTAINERS"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    try:
        start = lines.index("LIVE PATCHING\n")
    except ValueError:
        return []
    end = start + 1
    while end < len(lines) and lines[end].strip():
        end += 1
    new = "F:\tscripts/livepatch/\n"
    if new in lines[start:end]:
        return []
    files = [i for i in range(start, end) if lines[i].startswith("F:\t")]
    later = [i for i in files if lines[i] > new]
    pos = later[0] if later else (files[-1] + 1 if files else end)
    lines.insert(pos, new)
    path.write_text("".join(lines), encoding="utf-8")
    return ["MAINTAINERS"]


def gitignore(root: Path) -> List[str]:
    """Python writes __pycache__ next to the converter when Kbuild runs it
    from the source tree."""
    path = root / "scripts" / "livepatch" / ".gitignore"
    if path.exists():
        return []
    path.write_text("# SPDX-License-Identifier: GPL-2.0-only\n__pycache__/\n",
                    encoding="utf-8")
    return ["scripts/livepatch/.gitignore"]


SUITE_TARGET = "livepatch/klp-convert"


def selftest_target(root: Path) -> List[str]:
    """Register the suite of its own with kselftest, after livepatch."""
    path = root / "tools" / "testing" / "selftests" / "Makefile"
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    line = f"TARGETS += {SUITE_TARGET}\n"
    if line in text:
        return []
    anchor = "TARGETS += livepatch\n"
    if anchor in text:
        text = text.replace(anchor, anchor + line, 1)
    else:
        text = text.replace("TARGETS += ", line + "TARGETS += ", 1)
    path.write_text(text, encoding="utf-8")
    return ["tools/testing/selftests/Makefile"]


LIVEPATCH_H = "include/linux/livepatch.h"
_GUARD = "#if IS_ENABLED(CONFIG_LIVEPATCH)\n"


def livepatch_h_macros(root: Path) -> List[str]:
    """KLP_RELOC_SYMBOL*() into <linux/livepatch.h>, after the includes and
    outside the CONFIG_LIVEPATCH block (templates/livepatch-h.txt)."""
    path = root / LIVEPATCH_H
    text = path.read_text(encoding="utf-8")
    if "#define KLP_RELOC_SYMBOL_POS(" in text:
        return []
    if _GUARD not in text:
        raise SeriesError(f"{LIVEPATCH_H}: no '{_GUARD.strip()}' line to put "
                          "KLP_RELOC_SYMBOL*() before")
    block = snippet("livepatch-h") + "\n\n"
    path.write_text(text.replace(_GUARD, block + _GUARD, 1), encoding="utf-8")
    return [LIVEPATCH_H]
