# SPDX-License-Identifier: GPL-2.0-only
"""vmtest main(): pick the kernel(s), run them, report."""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
from typing import List, Optional

from . import cache, env, fetch, matrix, suites
from .config import (EXIT_INFRA, EXIT_PASS, EXIT_USAGE, Config, VmtestError,
                     test_progs)
from .runner import Outcome, run_kernel


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vmtest",
        description="Build the klp-convert livepatch selftests through the "
        "Kbuild hook and run them in QEMU on a Debian kernel: the host's "
        "(default), one suite's (--suite) or all of them (--all).",
        epilog="Exit status: 0 passed, 1 a test failed or skipped, 2 usage, "
        "3 infrastructure error, 5 timeout, 6 kernel panic/oops or the VM "
        "did not finish; with --all the highest status of the kernels.")
    p.add_argument("--suite", choices=suites.ALL,
                   help="test the current kernel of this Debian suite: "
                   "fetched with a private apt state, modules built in a "
                   "chroot of the suite that has its compiler")
    p.add_argument("--all", action="store_true",
                   help=f"test every suite in turn ({', '.join(suites.ALL)}) "
                   "and end with one TAP line per kernel")
    p.add_argument("--cache-dir", help="where chroots and kernels are kept "
                   "(default: $KLP_CACHE_DIR or /var/cache/klp-convert)")
    p.add_argument("--print-env", action="store_true",
                   help="with --suite: fetch, then print the environment as "
                   "JSON (release, vmlinuz, headers, chroot, run prefix)")
    p.add_argument("--bind", action="append", default=[], metavar="DIR",
                   help="with --run: also make DIR visible in the chroot")
    p.add_argument("--run", nargs=argparse.REMAINDER, metavar="CMD",
                   help="with --suite: run CMD where the kernel's compiler is "
                   "(the current directory and --bind/$KLP_BIND directories "
                   "are visible); must come last")
    p.add_argument("--kernel", help="vmlinuz to boot (default: the one "
                   "linux-image-amd64 depends on)")
    p.add_argument("--kdir", help="headers package directory matching --kernel "
                   "(default: /usr/src/linux-headers-<release>)")
    p.add_argument("--workdir", help="work directory (default: a new temporary "
                   "one, removed at the end unless --keep)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    p.add_argument("--selftests-dir", metavar="DIR",
                   help="run the livepatch selftests of a kernel tree "
                   "(DIR: its tools/testing/selftests/livepatch, with the "
                   "kernel's functions.sh) instead of this project's; "
                   "nothing is built")
    p.add_argument("--modules-dir", metavar="DIR",
                   help="with --selftests-dir: the built test modules "
                   "(default: DIR/test_modules of --selftests-dir)")
    p.add_argument("--tests", nargs="+", default=[], metavar="NAME",
                   help="run only these selftests (default: TEST_PROGS)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="time limit in seconds for one kernel (default: 600)")
    p.add_argument("--kvm", choices=("auto", "on", "off"), default="auto",
                   help="auto: use KVM only if a probe boot succeeds")
    p.add_argument("--no-install", dest="install", action="store_false",
                   help="do not apt-get install anything on the host")
    return p


def _usage_error(args: argparse.Namespace, known: List[str]) -> Optional[str]:
    if bool(args.kernel) != bool(args.kdir):
        return "--kernel and --kdir go together"
    if args.kernel and (args.suite or args.all):
        return "--kernel/--kdir and --suite/--all exclude each other"
    if args.suite and args.all:
        return "--suite and --all exclude each other"
    if args.modules_dir and not args.selftests_dir:
        return "--modules-dir needs --selftests-dir"
    if args.selftests_dir and args.all:
        return "--selftests-dir and --all exclude each other"
    if (args.print_env or args.run is not None) and not args.suite:
        return "--print-env and --run need --suite"
    if args.run is not None and not [a for a in args.run if a != "--"]:
        return "--run needs a command"
    unknown = [t for t in args.tests if t not in known]
    if unknown:
        return f"unknown tests {unknown}; known: {known}"
    return None


def _abs(path: Optional[str]) -> Optional[str]:
    return os.path.abspath(path) if path else None


def main(argv: Optional[List[str]] = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_PASS
    try:
        known = test_progs(args.selftests_dir) if args.selftests_dir \
            else test_progs()
    except (OSError, VmtestError) as exc:
        print(f"vmtest: --selftests-dir {args.selftests_dir}: {exc}",
              file=sys.stderr)
        return EXIT_USAGE
    error = _usage_error(args, known)
    if error:
        print(f"vmtest: {error}", file=sys.stderr)
        return EXIT_USAGE
    cfg = Config(kernel=args.kernel, kdir=args.kdir, workdir=args.workdir,
                 keep=args.keep, tests=args.tests, timeout=args.timeout,
                 kvm=args.kvm, install=args.install,
                 selftests_dir=_abs(args.selftests_dir),
                 modules_dir=_abs(args.modules_dir))
    try:
        if args.print_env:
            e = env.environment(args.suite, args.cache_dir, args.install)
            print(json.dumps(e.as_dict(), indent=1))
            return EXIT_PASS
        if args.run is not None:
            return _run_command(args)
    except env.ERRORS as exc:
        print(f"vmtest: {exc}", file=sys.stderr)
        return EXIT_INFRA
    workdir = cfg.workdir or tempfile.mkdtemp(prefix="vmtest.")
    os.makedirs(workdir, exist_ok=True)
    try:
        if args.all:
            return _run_all(cfg, args.cache_dir, cfg.tests or known, workdir)
        return _run_one(cfg, args.suite, args.cache_dir, cfg.tests or known,
                        workdir)
    finally:
        if cfg.keep or cfg.workdir:
            print(f"vmtest: work directory kept: {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _run_command(args: argparse.Namespace) -> int:
    cmd = args.run[1:] if args.run and args.run[0] == "--" else args.run
    e = env.environment(args.suite, args.cache_dir, args.install)
    binds = [os.getcwd(), *args.bind,
             *[b for b in os.environ.get("KLP_BIND", "").split(":") if b]]
    return e.run(cmd, binds=binds, cwd=os.getcwd()).returncode


def _environment(cfg: Config, suite: Optional[str],
                 cache_dir: Optional[str]) -> env.Environment:
    """The kernel to test: --kernel/--kdir, one suite's, or the host's."""
    codename = suites.host_codename()
    host = suite is None or suites.on_host(suites.get(suite), codename)
    if cfg.install:
        fetch.install() if host else fetch.install_tools()
    if host:
        fetch.ensure_pyelftools()
    if cfg.kernel:
        if not cfg.kdir:        # _usage_error() refuses it before
            raise VmtestError("--kernel needs --kdir")
        return env.given_kernel(cfg.kernel, cfg.kdir)
    if suite is None:
        return env.host_environment(suites.SUITES.get(codename or "") or
                                    suites.Suite(codename or "host", "", "", ""),
                                    cache.cache_dir(cache_dir), cfg.install)
    return env.environment(suite, cache_dir, cfg.install)


def _summary(out: Outcome) -> str:
    r = out.report
    if r is None:
        return f"vmtest: no results ({out.seconds:.1f} s)"
    return (f"vmtest: {r.passed} passed, {r.failed} failed"
            f"{f', {r.skipped} skipped' if r.skipped else ''} "
            f"({out.seconds:.1f} s)")


def _run_one(cfg: Config, suite: Optional[str], cache_dir: Optional[str],
             tests: List[str], workdir: str) -> int:
    out = run_kernel(cfg, lambda: _environment(cfg, suite, cache_dir), tests,
                     workdir, lambda line: print(line, flush=True), env.ERRORS)
    if out.report is not None:
        print(_summary(out), flush=True)
    symbols = out.reason.startswith("klp-symbols")
    if out.reason and (out.code != 1 or symbols):
        print(f"vmtest: {out.reason}", file=sys.stderr)
    return out.code


def _emit_for(name: str, line: str) -> None:
    """A TAP line of kernel @name in --all's output."""
    print(f"# {name}: {line}", flush=True)


def _run_all(cfg: Config, cache_dir: Optional[str], tests: List[str],
             workdir: str) -> int:
    results: List[matrix.KernelResult] = []
    if cfg.install:
        try:
            fetch.install(fetch.PACKAGES + fetch.FOREIGN)
        except env.ERRORS as exc:
            print(f"vmtest: {exc}", file=sys.stderr)
            return EXIT_INFRA
    quiet = Config(**{**cfg.__dict__, "install": False})
    for name in suites.ALL:
        print(f"vmtest: === {name} ===", file=sys.stderr, flush=True)
        out = run_kernel(
            cfg, functools.partial(_environment, quiet, name, cache_dir),
            tests, os.path.join(workdir, name),
            functools.partial(_emit_for, name), env.ERRORS)
        if out.reason:
            print(f"vmtest: {name}: {out.reason}", file=sys.stderr, flush=True)
        results.append(matrix.KernelResult(name, out))
    for line in matrix.summary(results):
        print(line, flush=True)
    return matrix.exit_code(results)
