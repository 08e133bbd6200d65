# SPDX-License-Identifier: GPL-2.0-only
"""vmtest --all: one run per kernel, one TAP line per kernel at the end.

The exit status is the highest of the kernels' statuses: 0 only if every
kernel passed, 1 if the only trouble is failed selftests, 3, 5 or 6 if a
run was broken (infrastructure, timeout, kernel crash)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List

from .config import EXIT_FAIL, EXIT_INFRA, EXIT_PASS
from .runner import Outcome

WHAT = {EXIT_FAIL: "test failure", EXIT_INFRA: "broken run: infrastructure",
        5: "broken run: timeout", 6: "broken run: kernel trouble"}


@dataclass
class KernelResult:
    suite: str
    outcome: Outcome

    @property
    def release(self) -> str:
        return self.outcome.release


def _line(n: int, k: KernelResult) -> str:
    out, r = k.outcome, k.outcome.report
    counts = (f"{r.passed} passed, {r.failed} failed"
              f"{f', {r.skipped} skipped' if r.skipped else ''}, "
              if r is not None else "")
    name = f"{k.suite} {k.release}".strip()
    if out.code == EXIT_PASS:
        return f"ok {n} {name} # {counts}{out.seconds:.1f} s"
    reason = out.reason.splitlines()[0] if out.reason else ""
    return (f"not ok {n} {name} # exit {out.code} "
            f"({WHAT.get(out.code, 'error')}): {counts}{out.seconds:.1f} s"
            f"{f'; {reason}' if reason else ''}")


def summary(results: List[KernelResult]) -> List[str]:
    """The closing TAP document: one line per kernel, then a count."""
    lines = ["TAP version 13", f"1..{len(results)}"]
    lines += [_line(n, k) for n, k in enumerate(results, 1)]
    passed = sum(k.outcome.code == EXIT_PASS for k in results)
    lines.append(f"kernels: {passed} passed, "
                 f"{len(results) - passed} failed")
    return lines


def exit_code(results: List[KernelResult]) -> int:
    return max((k.outcome.code for k in results), default=EXIT_INFRA)
