# SPDX-License-Identifier: GPL-2.0-only
"""vmtest main(): fetch, build, pack, boot, report."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from typing import List, Optional

from . import build, fetch, initramfs, qemu, tap
from .config import (EXIT_FAIL, EXIT_INFRA, EXIT_KERNEL, EXIT_PASS, EXIT_TIMEOUT,
                     EXIT_USAGE, Config, VmtestError, test_progs, test_timeout)


class _Timeout(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vmtest",
        description="Build the klp-convert livepatch selftests through the "
        "Kbuild hook and run them in QEMU on Debian's kernel.",
        epilog="Exit status: 0 passed, 1 a test failed or skipped, 2 usage, "
        "3 infrastructure error, 5 timeout, 6 kernel panic/oops or the VM "
        "did not finish.")
    p.add_argument("--kernel", help="vmlinuz to boot (default: the one "
                   "linux-image-amd64 depends on)")
    p.add_argument("--kdir", help="headers package directory matching --kernel "
                   "(default: /usr/src/linux-headers-<release>)")
    p.add_argument("--workdir", help="work directory (default: a new temporary "
                   "one, removed at the end unless --keep)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--tests", nargs="+", default=[], metavar="NAME",
                   help="run only these selftests (default: TEST_PROGS)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="overall time limit in seconds (default: 600)")
    p.add_argument("--kvm", choices=("auto", "on", "off"), default="auto",
                   help="auto: use KVM only if a probe boot succeeds")
    p.add_argument("--no-install", dest="install", action="store_false",
                   help="do not apt-get install anything")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_PASS
    cfg = Config(kernel=args.kernel, kdir=args.kdir, workdir=args.workdir,
                 keep=args.keep, tests=args.tests, timeout=args.timeout,
                 kvm=args.kvm, install=args.install)
    if bool(cfg.kernel) != bool(cfg.kdir):
        print("vmtest: --kernel and --kdir go together", file=sys.stderr)
        return EXIT_USAGE
    known = test_progs()
    unknown = [t for t in cfg.tests if t not in known]
    if unknown:
        print(f"vmtest: unknown tests {unknown}; known: {known}", file=sys.stderr)
        return EXIT_USAGE

    start = time.monotonic()
    deadline = start + cfg.timeout

    def on_alarm(signum, frame):
        raise _Timeout()
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(cfg.timeout) + 1)

    workdir = cfg.workdir or tempfile.mkdtemp(prefix="vmtest.")
    os.makedirs(workdir, exist_ok=True)
    try:
        return _run(cfg, known, workdir, start, deadline)
    except _Timeout:
        print(f"vmtest: overall timeout of {cfg.timeout:.0f} s expired",
              file=sys.stderr)
        return EXIT_TIMEOUT
    except VmtestError as exc:
        print(f"vmtest: {exc}", file=sys.stderr)
        return EXIT_INFRA
    finally:
        signal.alarm(0)
        if cfg.keep or cfg.workdir:
            print(f"vmtest: work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run(cfg: Config, known: List[str], workdir: str, start: float,
         deadline: float) -> int:
    log = fetch.debug
    if cfg.install:
        fetch.install(log)
    fetch.ensure_pyelftools(log)
    if cfg.kernel:
        vmlinuz, headers = cfg.kernel, cfg.kdir
    else:
        release = fetch.debian_kernel()
        log(f"vmtest: kernel {release}")
        vmlinuz, headers = fetch.kernel_and_headers(release, log, cfg.install)

    kdir = build.hooked_headers(headers, os.path.join(workdir, "headers"))
    modules = build.test_modules(kdir, workdir, log)
    log(f"vmtest: built {len(modules)} test modules")
    tests = cfg.tests or known
    initrd = initramfs.pack(workdir, tests, modules, test_timeout())

    kvm = cfg.kvm == "on"
    if cfg.kvm == "auto":
        probe = initramfs.pack(workdir, [], [], 1, name="probe")
        kvm = qemu.kvm_works(vmlinuz, probe, workdir, initramfs.DONE_MARKER)
        log(f"vmtest: KVM probe {'succeeded' if kvm else 'failed'}: using "
            f"{'KVM' if kvm else 'TCG'}")

    console = os.path.join(workdir, "console.log")
    log(f"vmtest: booting {vmlinuz} ({'KVM' if kvm else 'TCG'}); console log: "
        f"{console}")
    parser = tap.Parser()

    def on_line(raw: str) -> None:
        line = parser.feed(raw)
        if tap.is_tap(line) or parser.report.crash == line.strip():
            print(line, flush=True)

    run = qemu.boot(qemu.command(vmlinuz, initrd, kvm, cfg.memory), console,
                    deadline, initramfs.DONE_MARKER, on_line)
    report = parser.report
    elapsed = time.monotonic() - start
    summary = (f"vmtest: {report.passed} passed, {report.failed} failed"
               f"{f', {report.skipped} skipped' if report.skipped else ''} "
               f"({elapsed:.1f} s)")
    if run.timed_out:
        print(summary, flush=True)
        print(f"vmtest: overall timeout expired while the VM ran; see {console}",
              file=sys.stderr)
        return EXIT_TIMEOUT
    if report.crash:
        print(summary, flush=True)
        print(f"vmtest: kernel trouble: {report.crash}; see {console}",
              file=sys.stderr)
        return EXIT_KERNEL
    if not run.finished:
        print(summary, flush=True)
        print(f"vmtest: the VM stopped before the tests finished (QEMU exit "
              f"{run.returncode}); see {console}", file=sys.stderr)
        return EXIT_KERNEL
    print(summary, flush=True)
    if report.failed or report.skipped or report.plan != len(report.results) \
            or not report.results:
        return EXIT_FAIL
    return EXIT_PASS
