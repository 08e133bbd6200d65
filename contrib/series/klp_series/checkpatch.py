# SPDX-License-Identifier: GPL-2.0-only
"""The tree's own scripts/checkpatch.pl --strict on each commit, and the
paragraphs that justify what it still reports."""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Set, Tuple

from .plan import Patch
from .proc import SeriesError, Tree, run

# Warning types and why they stay; "" for the ones that are only named.
KNOWN_WARNINGS: Dict[str, str] = {
    "FILE_PATH_CHANGES":
        "checkpatch asks whether MAINTAINERS needs updating for the new "
        "files: they are under paths the LIVE PATCHING entry already "
        "covers (the first patch of the series adds scripts/livepatch/).",
    "MISSING_SIGN_OFF": "",
    "EMAIL_SUBJECT": "",
    "COMMIT_LOG_LONG_LINE":
        "the long lines in the commit message are example commands and "
        "symbol names quoted verbatim.",
    "LONG_LINE":
        "the long lines are ELF symbol and section names quoted verbatim "
        "in strings or examples; splitting them would break grep.",
    "LONG_LINE_STRING":
        "user-visible messages are kept on one line so they can be found "
        "with grep.",
    "SPDX_LICENSE_TAG": "",
    "TYPO_SPELLING": "",
    "EMBEDDED_FILENAME": "",
    "PREFER_FALLTHROUGH": "",
    "SPACING": "",
    "MACRO_WITH_FLOW_CONTROL": "",
    "MACRO_ARG_REUSE": "",
    "COMPLEX_MACRO":
        "KLP_RELOC_SYMBOL_POS() expands to an asm() label, which cannot be "
        "wrapped in parentheses or do {} while (0).",
    "MACRO_ARG_UNUSED": "",
    "AVOID_EXTERNS":
        "the sample and test modules declare non-exported kernel symbols "
        "with extern in the .c file on purpose: that is what "
        "KLP_RELOC_SYMBOL() annotates, and no header declares them.",
    "EXPORT_SYMBOL": "",
    "MODULE_LICENSE": "",
}


@dataclass
class CheckResult:
    errors: int
    warnings: int
    checks: int
    messages: List[Tuple[str, str, str]]   # (level, type, text)


_TOTAL = re.compile(r"total: (\d+) errors?, (\d+) warnings?, (?:(\d+) checks?, )?")
_MSG = re.compile(r"^(ERROR|WARNING|CHECK):([A-Z0-9_]+): (.*)$", re.MULTILINE)


def check_head(tree: Tree, scratch: Path) -> CheckResult:
    """checkpatch --strict on the last commit, formatted as a patch."""
    patch_file = scratch / "check.patch"
    patch_file.write_text(tree.git("format-patch", "-1", "--stdout", "HEAD"),
                          encoding="utf-8")
    script = tree.root / "scripts" / "checkpatch.pl"
    proc = run(["perl", str(script), "--strict", "--no-tree", "--show-types",
                "--color=never", str(patch_file)], cwd=tree.root, check=False)
    out = proc.stdout + proc.stderr
    m = _TOTAL.search(out)
    if not m:
        raise SeriesError(f"checkpatch gave no summary for {patch_file.name}: "
                          + (out.strip().splitlines() or ["(no output)"])[-1])
    msgs = [(a, b, c.strip()) for a, b, c in _MSG.findall(out)]
    return CheckResult(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0),
                       msgs)


def justification_notes(result: CheckResult, patch: Patch) -> List[str]:
    """One paragraph per checkpatch warning type, for the commit message."""
    notes: List[str] = []
    seen: Set[str] = set()
    for level, kind, text in result.messages:
        if level == "ERROR" or kind in seen:
            continue
        seen.add(kind)
        why = patch.justifications.get(kind) or KNOWN_WARNINGS.get(kind)
        if why:
            note = f"checkpatch --strict: {kind}: {why}"
        else:
            note = (f"checkpatch --strict: {kind} (\"{text}\") is left "
                    "as is.")
        notes.append(textwrap.fill(note, width=72, break_long_words=False,
                                   break_on_hyphens=False))
    return notes
