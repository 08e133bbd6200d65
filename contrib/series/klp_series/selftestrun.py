# SPDX-License-Identifier: GPL-2.0-only
"""Running the series' selftests after the last patch (--run-selftests).

The command is the user's: a kernel under QEMU, a test machine, anything
that runs the selftests of the tree and prints kselftest TAP, for example

  vmtest --suite trixie-backports --selftests-dir {dir} --tests {tests}

{dir} becomes the selftest directory in the series' tree (its
test_modules/ built by the build check), {tests} the scripts the series
adds, one argument each.  The run passes if the command exits 0 and
reports at least one passed script and none failed."""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence

from .proc import SeriesError

_RESULT = re.compile(r"^(not )?ok \d+ (.*?)(?: # (.*))?$")
_CASE = re.compile(r"^# (?:# )?TEST: .* \.\.\. (ok|not ok|skip)\b")
_KERNEL = re.compile(r"^vmtest: kernel (\S+)$", re.MULTILINE)


@dataclass
class SelftestRun:
    command: List[str]
    returncode: int
    passed: List[str] = field(default_factory=list)     # TAP names
    failed: List[str] = field(default_factory=list)     # not ok or SKIP
    cases: int = 0              # "TEST: ... ok" lines of passed scripts
    kernel: str = ""            # as vmtest reports it, if it does
    seconds: float = 0.0
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.passed) and not self.failed


def expand(template: str, selftest_dir: Path,
           tests: Sequence[str]) -> List[str]:
    """The command line of @template with {dir} and {tests} filled in."""
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise SeriesError(f"--run-selftests: {exc}") from exc
    if not any("{dir}" in w for w in words):
        raise SeriesError("--run-selftests: the command has no {dir}")
    cmd: List[str] = []
    for word in words:
        if word == "{tests}":
            cmd += list(tests)
        else:
            cmd.append(word.replace("{dir}", str(selftest_dir)))
    return cmd


def parse(run: SelftestRun, stdout: str) -> None:
    """Fill in @run's results from the TAP on @stdout."""
    for line in stdout.splitlines():
        m = _RESULT.match(line.strip())
        if m:
            good = m.group(1) is None and not (m.group(3) or "").startswith("SKIP")
            (run.passed if good else run.failed).append(m.group(2))
        elif _CASE.match(line.strip()) and line.rstrip().endswith("... ok"):
            run.cases += 1


def run_selftests(template: str, selftest_dir: Path,
                  tests: Sequence[str]) -> SelftestRun:
    cmd = expand(template, selftest_dir, tests)
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    except OSError as exc:
        raise SeriesError(f"{cmd[0]}: {exc.strerror}") from exc
    result = SelftestRun(cmd, proc.returncode,
                         seconds=time.monotonic() - start,
                         output=proc.stdout + proc.stderr)
    parse(result, proc.stdout)
    m = _KERNEL.search(proc.stderr)
    result.kernel = m.group(1) if m else ""
    return result
