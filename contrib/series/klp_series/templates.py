# SPDX-License-Identifier: GPL-2.0-only
"""The long texts: commit messages and the cover letter, in templates/.

A template's first line is the subject, then an empty line, then the
body.  {{name}} is replaced by a value given to render(); a placeholder
without a value, or a value without a placeholder, is an error, so a
template and its caller cannot drift apart silently.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Tuple

from .proc import SeriesError

TEMPLATES = Path(__file__).resolve().parent / "templates"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def render(name: str, values: Dict[str, str]) -> Tuple[str, str]:
    """(subject, body) of templates/<name>.txt with @values filled in."""
    path = TEMPLATES / f"{name}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeriesError(f"{path}: {exc.strerror}") from exc
    wanted = set(_PLACEHOLDER.findall(text))
    if wanted != set(values):
        raise SeriesError(f"{path}: placeholders {sorted(wanted)}, values "
                          f"given for {sorted(values)}")
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
    subject, sep, body = text.partition("\n\n")
    if not sep or "\n" in subject:
        raise SeriesError(f"{path}: expected a subject line, an empty line "
                          "and the body")
    return subject, body.strip("\n")


def snippet(name: str) -> str:
    """A paragraph (templates/<name>.txt, no subject) for a placeholder."""
    path = TEMPLATES / f"{name}.txt"
    try:
        return path.read_text(encoding="utf-8").strip("\n")
    except OSError as exc:
        raise SeriesError(f"{path}: {exc.strerror}") from exc
