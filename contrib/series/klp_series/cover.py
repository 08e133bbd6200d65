# SPDX-License-Identifier: GPL-2.0-only
"""The cover letter: templates/cover.txt, the base and the figures of the
run that generated the series."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Tuple

from .checkpatch import CheckResult
from .templates import render


def blurb(body: str, base_desc: str, checks: List[Tuple[str, CheckResult]],
          builds: List[Tuple[str, Optional[bool]]]) -> str:
    text = body + f"\n\nBased on {base_desc}.\n"
    if checks:
        text += "\ncheckpatch.pl --strict (errors/warnings/checks):\n"
        for subject, res in checks:
            text += f"  {res.errors}/{res.warnings}/{res.checks}  {subject}\n"
    if builds:
        text += ("\nmake M=samples/livepatch CONFIG_SAMPLE_LIVEPATCH=m after "
                 "each patch:\n")
        for subject, ok in builds:
            text += f"  {'ok    ' if ok else 'FAILED'}  {subject}\n"
    return text.rstrip("\n")


def write_cover(outdir: Path, base_desc: str,
                checks: List[Tuple[str, CheckResult]],
                builds: List[Tuple[str, Optional[bool]]]) -> Path:
    """Fill in git format-patch's cover letter in @outdir."""
    cover = next(outdir.glob("0000-cover-letter.patch"))
    subject, body = render("cover", {})
    text = cover.read_text(encoding="utf-8")
    text = text.replace("*** SUBJECT HERE ***", subject)
    text = text.replace("*** BLURB HERE ***",
                        blurb(body, base_desc, checks, builds))
    cover.write_text(text, encoding="utf-8")
    return cover
