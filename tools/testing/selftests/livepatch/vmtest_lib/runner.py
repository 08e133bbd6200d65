# SPDX-License-Identifier: GPL-2.0-only
"""One kernel, start to end: build the test modules where the kernel's
compiler is, pack the initramfs, boot, parse.  Returns an Outcome with
the exit code instead of exiting, so that --all can go on."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from types import FrameType
from typing import Callable, List, NoReturn, Optional, Tuple, Type

from . import build, initramfs, qemu, symphase, tap
from .config import (EXIT_FAIL, EXIT_INFRA, EXIT_KERNEL, EXIT_PASS,
                     EXIT_TIMEOUT, SELFTEST_DIR, Config, VmtestError,
                     test_timeout)
from .env import Environment
from .progress import say


class Timeout(Exception):
    """The time limit of one kernel's run expired."""


@dataclass
class Outcome:
    code: int                       # the EXIT_* status of this kernel
    report: Optional[tap.Report]    # None if the VM never ran
    seconds: float
    reason: str = ""                # why it did not pass, one line
    release: str = ""               # the kernel's uname -r, once known


def _verdict(report: tap.Report, run: qemu.Run, console: str) -> Outcome:
    if run.timed_out:
        return Outcome(EXIT_TIMEOUT, report, 0,
                       f"timeout expired while the VM ran; see {console}")
    if report.crash:
        return Outcome(EXIT_KERNEL, report, 0,
                       f"kernel trouble: {report.crash}; see {console}")
    if not run.finished:
        return Outcome(EXIT_KERNEL, report, 0,
                       f"the VM stopped before the tests finished (QEMU exit "
                       f"{run.returncode}); see {console}")
    if report.failed or report.skipped or report.plan != len(report.results) \
            or not report.results:
        return Outcome(EXIT_FAIL, report, 0, "a selftest failed or skipped")
    return Outcome(EXIT_PASS, report, 0)


def _boot(cfg: Config, e: Environment, tests: List[str], modules: List[str],
          workdir: str, deadline: float,
          emit: Callable[[str], None], after: str = "") -> Outcome:
    selftests = cfg.selftests_dir or SELFTEST_DIR
    initrd = initramfs.pack(workdir, tests, modules, test_timeout(selftests),
                            selftest_dir=selftests,
                            kselftest=cfg.selftests_dir is not None,
                            after=after)
    kvm = cfg.kvm == "on"
    if cfg.kvm == "auto":
        probe = initramfs.pack(workdir, [], [], 1, name="probe")
        kvm = qemu.kvm_works(e.vmlinuz, probe, workdir, initramfs.DONE_MARKER)
        say(f"vmtest: KVM probe {'succeeded' if kvm else 'failed'}: using "
            f"{'KVM' if kvm else 'TCG'}")
    console = os.path.join(workdir, "console.log")
    say(f"vmtest: booting {e.vmlinuz} ({'KVM' if kvm else 'TCG'}); console "
        f"log: {console}")
    parser = tap.Parser()

    def on_line(raw: str) -> None:
        line = parser.feed(raw)
        if tap.is_tap(line) or parser.report.crash == line.strip():
            emit(line)

    run = qemu.boot(qemu.command(e.vmlinuz, initrd, kvm, cfg.memory), console,
                    deadline, initramfs.DONE_MARKER, on_line)
    return _verdict(parser.report, run, console)


def _build_and_boot(cfg: Config, e: Environment, tests: List[str],
                    workdir: str, deadline: float,
                    emit: Callable[[str], None]) -> Outcome:
    os.makedirs(workdir, exist_ok=True)
    if cfg.selftests_dir:
        mdir = cfg.modules_dir or os.path.join(cfg.selftests_dir, "test_modules")
        modules = build.built_modules(mdir)
        say(f"vmtest: {len(modules)} test modules from {mdir}")
        return _boot(cfg, e, tests, modules, workdir, deadline, emit)
    kdir = build.hooked_headers(e.headers, os.path.join(workdir, "headers"))
    modules = build.test_modules(e, kdir, workdir)
    say(f"vmtest: built {len(modules)} test modules")
    out = _boot(cfg, e, tests, modules, workdir, deadline, emit,
                after=symphase.init_lines(modules))
    if out.code not in (EXIT_PASS, EXIT_FAIL):
        return out
    say("vmtest: klp-symbols: klp-convert's symbol verification against "
        "this boot's /proc/kallsyms")
    try:
        symphase.prove(e, kdir, workdir, os.path.join(workdir, "test_modules"),
                       modules, os.path.join(workdir, "console.log"), emit)
    except symphase.SymbolsFailed as exc:
        for n, line in enumerate(str(exc).splitlines()):
            emit(f"{symphase.PREFIX} {'FAILED: ' if not n else '  '}{line}")
        reason = out.reason or str(exc).splitlines()[0]
        return Outcome(EXIT_FAIL, out.report, 0, reason)
    return out


def run_kernel(cfg: Config, make_env: Callable[[], Environment],
               tests: List[str], workdir: str, emit: Callable[[str], None],
               setup_errors: Tuple[Type[BaseException], ...]) -> Outcome:
    """Set up the kernel's environment with @make_env (fetching what is
    missing), build, boot and judge the selftests @tests, all within
    cfg.timeout seconds; TAP lines go to @emit.  A setup error of
    @setup_errors is a broken run (EXIT_INFRA), not an exception."""
    start = time.monotonic()

    def on_alarm(signum: int, frame: Optional[FrameType]) -> NoReturn:
        raise Timeout()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(cfg.timeout) + 1)
    release = ""
    try:
        e = make_env()
        release = e.release
        say(f"vmtest: kernel {release}")
        out = _build_and_boot(cfg, e, tests, workdir, start + cfg.timeout, emit)
    except Timeout:
        out = Outcome(EXIT_TIMEOUT, None, 0,
                      f"overall timeout of {cfg.timeout:.0f} s expired")
    except VmtestError as exc:
        out = Outcome(EXIT_INFRA, None, 0, str(exc))
    except setup_errors as exc:
        out = Outcome(EXIT_INFRA, None, 0, f"setting up the kernel: {exc}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    out.seconds = time.monotonic() - start
    out.release = release
    return out
