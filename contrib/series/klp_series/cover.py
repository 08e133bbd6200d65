# SPDX-License-Identifier: GPL-2.0-only
"""The cover letter: templates/cover.txt, then the base and what the run
that generated the series checked, with the figures it produced."""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .buildcheck import Build
from .checkpatch import CheckResult
from .selftestrun import SelftestRun
from .templates import render, snippet


@dataclass
class Findings:
    """What one run of the generator checked and found."""

    base: str                                   # "Linux 7.3.4 (...)"
    checks: List[Tuple[str, CheckResult]] = field(default_factory=list)
    # per patch subject: the builds after it
    builds: List[Tuple[str, List[Build]]] = field(default_factory=list)
    make: List[str] = field(default_factory=list)   # the make command
    compiler: str = ""                          # CONFIG_CC_VERSION_TEXT
    relocations: Dict[str, int] = field(default_factory=dict)
    selftests: Optional[SelftestRun] = None
    selftest_command: str = ""                  # the --run-selftests template
    klp_build: bool = False                     # the base has objtool klp


def _fill(text: str) -> str:
    return textwrap.fill(text, width=72, break_long_words=False,
                         break_on_hyphens=False)


def _short(words: List[str]) -> str:
    """A command line without the host's directories."""
    return " ".join(os.path.basename(w) if w.startswith("/") else w
                    for w in words)


def _checkpatch(f: Findings) -> List[str]:
    lines = ["", _fill("The base's scripts/checkpatch.pl --strict, per patch "
                       "(errors/warnings/checks; every warning is justified "
                       "in its commit message):")]
    lines += [f"  {r.errors}/{r.warnings}/{r.checks}  {subject}"
              for subject, r in f.checks]
    return lines


def _builds(f: Findings) -> List[str]:
    targets = [b.target for b in f.builds[-1][1]] if f.builds else []
    how = f" ('{_short(f.make)}')" if f.make else ""
    cc = f" with {f.compiler}" if f.compiler else ""
    lines = ["", _fill(f"Built before the series and after each patch{cc}: "
                       f"make M=<dir>{how} of {' and '.join(targets)}; "
                       "modules converted by klp-convert (KLP [M] lines):")]
    for subject, builds in f.builds:
        state = "ok    " if all(b.ok for b in builds) else "FAILED"
        converted = sum(len(b.converted) for b in builds)
        lines.append(f"  {state} {converted:2d}  {subject}")
    if f.relocations:
        total = sum(f.relocations.values())
        lines += ["", _fill(f"After the last patch, {len(f.relocations)} "
                            f"modules carry {total} livepatch relocations "
                            "written by klp-convert: " + ", ".join(
                                f"{m} {n}" for m, n in
                                sorted(f.relocations.items())) + ".")]
    return lines


def _selftests(f: Findings, run: SelftestRun) -> List[str]:
    where = f" in {run.kernel}" if run.kernel else ""
    verdict = "passed" if run.ok else "FAILED"
    names = [n.split()[-1] for n in run.passed + run.failed]
    cmd = _short(f.selftest_command.split())
    text = (f"Selftests run from the series' tree by '{cmd}'{where}: "
            f"{len(run.passed)} scripts passed, {len(run.failed)} failed, "
            f"{run.cases} test cases passed ({verdict}, {run.seconds:.0f} s): "
            + ", ".join(names) + ".")
    return ["", _fill(text)]


def checked(f: Findings) -> str:
    """The paragraph on what this run checked, with its figures."""
    lines = [_fill(f"Based on {f.base}. What generated this series checked:")]
    if f.checks:
        lines += _checkpatch(f)
    if f.builds:
        lines += _builds(f)
    if f.selftests is not None:
        lines += _selftests(f, f.selftests)
    if not (f.checks or f.builds or f.selftests):
        lines.append("nothing beyond git format-patch (no checkpatch, no "
                     "build check).")
    return "\n".join(lines)


def cover_text(klp_build: bool) -> Tuple[str, str]:
    """Subject and body of the cover letter: what the series is next to
    klp-build and objtool's post-link depends on whether the base has
    them."""
    part = "cover-klp-build" if klp_build else "cover-no-klp-build"
    return render("cover", {"klp_build": snippet(part)})


def write_cover(outdir: Path, findings: Findings) -> Path:
    """Fill in git format-patch's cover letter in @outdir."""
    cover = next(outdir.glob("0000-cover-letter.patch"))
    subject, body = cover_text(findings.klp_build)
    text = cover.read_text(encoding="utf-8")
    text = text.replace("*** SUBJECT HERE ***", subject)
    text = text.replace("*** BLURB HERE ***",
                        body + "\n\n" + checked(findings))
    cover.write_text(text, encoding="utf-8")
    return cover
