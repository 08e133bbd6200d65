# SPDX-License-Identifier: GPL-2.0-only
"""Reading kselftest TAP (and kernel trouble) from the VM's console."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Optional

RESULT_RE = re.compile(r"^(not )?ok (\d+) (\S.*?)(?: # (SKIP|TIMEOUT|exit=)(.*))?$")
PLAN_RE = re.compile(r"^1\.\.(\d+)$")
CRASH_RE = re.compile(
    r"(Kernel panic - not syncing|\bBUG: |\bOops: |general protection fault|"
    r"\bkernel BUG at\b|Unable to handle kernel|watchdog: BUG: soft lockup)")


@dataclass
class Result:
    number: int
    name: str
    ok: bool
    directive: str = ""     # "SKIP", "TIMEOUT ...", "exit=N"


@dataclass
class Report:
    plan: Optional[int] = None
    results: List[Result] = field(default_factory=list)
    crash: Optional[str] = None

    @property
    def passed(self) -> int:
        return sum(r.ok and r.directive != "SKIP" for r in self.results)

    @property
    def skipped(self) -> int:
        return sum(r.directive == "SKIP" for r in self.results)

    @property
    def failed(self) -> int:
        missing = max(0, (self.plan or 0) - len(self.results))
        return sum(not r.ok for r in self.results) + missing


def clean(line: str) -> str:
    return line.replace("\r", "").rstrip("\n")


def is_tap(line: str) -> bool:
    return (line.startswith(("TAP version", "ok ", "not ok ", "# "))
            or line == "#" or bool(PLAN_RE.match(line)))


class Parser:
    """Feed console lines one by one; keeps a Report."""

    def __init__(self) -> None:
        self.report = Report()

    def feed(self, raw: str) -> str:
        line = clean(raw)
        m = PLAN_RE.match(line)
        if m and self.report.plan is None:
            self.report.plan = int(m.group(1))
        m = RESULT_RE.match(line)
        if m:
            directive = (m.group(4) or "") + (m.group(5) or "")
            self.report.results.append(Result(int(m.group(2)), m.group(3),
                                              m.group(1) is None, directive.strip()))
        if self.report.crash is None and not line.startswith("# "):
            c = CRASH_RE.search(line)
            if c:
                self.report.crash = line.strip()
        return line


def parse(text: str) -> Report:
    p = Parser()
    for line in text.splitlines():
        p.feed(line)
    return p.report
