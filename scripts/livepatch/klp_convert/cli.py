# SPDX-License-Identifier: GPL-2.0-only
"""Command line front end: arguments, the conversion, --list and
--weaken; --check and --strip-debug are finished.py's, and both build on
console.py (messages, exit codes, input and output).

Exit status: 0 success (including nothing to do), 1 conversion error (or
a module refused by --check, or a warning with --strict), 2 bad usage, 130
interrupted.  Every message reads "klp-convert: <file>: <what>", a
warning "klp-convert: <file>: warning: <what>".
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence

from .console import (EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, PROG,
                      Current, failed, guarded, read, say, warn,
                      write_output)
from .errors import KlpError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .convert import Move, Result
    from .symcheck import Report


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{PROG}: {message}\n")
        raise SystemExit(EXIT_USAGE)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description="Convert the intermediate klp symbols of a linked "
        "livepatch module (.klp.sym.rela.<lp-obj>.<sym-obj>.<sym>,<pos>) into "
        "SHN_LIVEPATCH symbols and .klp.rela.<lp-obj>.<section> relocation "
        "sections.",
        epilog="See Documentation/livepatch/klp-convert.rst.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--list", "--dry-run", dest="list", action="store_true",
                      help="print the relocations that would be converted; "
                      "write nothing")
    mode.add_argument("--weaken", action="store_true",
                      help="before modpost: mark the intermediate symbols of "
                      "each OBJ weak, in place (Kbuild hook)")
    mode.add_argument("--check", action="store_true",
                      help="verify finished modules (signed, compressed "
                      "or stripped) as the kernel will load them; write "
                      "nothing")
    mode.add_argument("--strip-debug", action="store_true",
                      help="remove debug sections like 'strip "
                      "--strip-debug', keeping livepatch relocations "
                      "correct; writes OUTPUT (default: INPUT, in place)")
    p.add_argument("--strict", action="store_true",
                   help="treat warnings as errors: exit status 1, nothing "
                   "written")
    # Symbol verification (symcheck.py).
    p.add_argument("--symbols", metavar="SRC", action="append", default=[],
                   help="check every intermediate symbol (with --check: "
                   "every livepatch symbol) against the target "
                   "kernel's symbols: a /proc/kallsyms dump, a System.map, a "
                   "vmlinux, a module (.ko[.xz|.gz|.zst]) or a module "
                   "directory (/lib/modules/<release>); KIND:PATH forces "
                   "the kind (kallsyms, sysmap, vmlinux, module, moddir); "
                   "repeatable")
    p.add_argument("--symvers", metavar="FILE", action="append", default=[],
                   help="Module.symvers of the build: refuse plain "
                   "references to symbols that a patched module exports, "
                   "warn about exported vmlinux symbols; repeatable")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print a summary line per file")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="print nothing but errors")
    p.add_argument("input", metavar="INPUT", help="module (.ko) to convert")
    p.add_argument("rest", nargs="*", metavar="OUTPUT",
                   help="where to write the result (default: INPUT, in "
                   "place); with --weaken and --check, more files")
    return p


def _convert_bytes(raw: bytes, want_moves: bool = False) -> Result:
    # Deferred imports keep "klp-convert --help" and usage errors fast.
    from .convert import convert
    # A conversion makes objects in proportion to sections and symbols and
    # no reference cycles: the cycle collector would only walk them
    # (a tenth of the conversion of a 1,000-section module).
    gc.disable()
    try:
        result: Result = guarded(convert, raw, want_moves)
    finally:
        gc.enable()
    return result


def _weaken_bytes(raw: bytes) -> tuple[bytes | None, int]:
    from .convert import weaken
    return guarded(weaken, raw)


def _print_table(path: str, moves: Sequence[Move],
                 resolved: dict[str, str] | None = None) -> None:
    """The --list table; with --symbols, a last column RESOLVED: where
    each symbol resolves in the first source that has it."""
    if not moves:
        print(f"{PROG}: {path}: no intermediate klp symbols")
        return
    head: tuple[str, ...] = ("SECTION", "OFFSET", "TYPE",
                             "INTERMEDIATE SYMBOL", "LP-OBJ", "FINAL SYMBOL")
    rows: list[tuple[str, ...]] = [(m.section, f"{m.offset:#x}" if m.offset >= 0 else "-", m.rtype,
             m.intermediate, m.lp_obj, m.final) for m in moves]
    if resolved is not None:
        head += ("RESOLVED",)
        rows = [r + (resolved.get(r[3], "(not verified)"),) for r in rows]
    last = len(head) - 1
    widths = [max(len(r[c]) for r in rows + [head]) for c in range(last)]
    for r in [head] + rows:
        line = "  ".join(r[c].ljust(widths[c]) for c in range(last)) + \
            "  " + r[last]
        print(line.encode("utf-8", "backslashreplace").decode("utf-8"))


def _verify(inp: str, raw: bytes, args: argparse.Namespace) -> Report:
    """Symbol verification (symcheck.py), before anything is written: the
    report (its warnings are the caller's to print); a refused module
    raises VerifyError, after its warnings are printed."""
    from .symcheck import VerifyError, open_targets, verify_module
    sources, symvers = open_targets(args.symbols, args.symvers)
    try:
        return guarded(verify_module, raw, sources, symvers)
    except VerifyError as exc:
        warn(inp, exc.warnings, False)
        raise


def _do_weaken(paths: Sequence[str], args: argparse.Namespace) -> int:
    from .writer import write_atomic
    status = EXIT_OK
    for path in paths:
        try:
            out, count = _weaken_bytes(read(path))
            if out is not None:
                write_atomic(path, out)
            if args.verbose:
                print(f"{PROG}: {path}: {count} intermediate symbols"
                      f"{' weakened' if out is not None else ' (already weak)'}")
        except (KlpError, OSError) as exc:
            status = failed(path, exc)
    return status


def _do_convert(inp: str, out: str, args: argparse.Namespace) -> int:
    try:
        raw = read(inp)
        res = _convert_bytes(raw, args.list)
        report = _verify(inp, raw, args)
        if warn(inp, res.warnings + report.warnings, args.strict):
            return EXIT_ERROR
        if args.list:
            _print_table(inp, res.moves,
                         report.resolved if args.symbols else None)
            return EXIT_OK
    except BrokenPipeError:
        raise
    except (KlpError, OSError) as exc:
        return failed(inp, exc)
    summary = None
    if args.verbose and res.output is None:
        summary = f"{PROG}: {inp}: no intermediate klp symbols, nothing " \
            "to convert"
    elif args.verbose:
        summary = f"{PROG}: {out}: converted {res.symbols} symbols " \
            f"({res.merged} merged), moved {res.relocations} relocations " \
            f"into {len(res.created)} .klp.rela sections, dropped " \
            f"{len(res.dropped)} empty relocation sections"
    return write_output(inp, out, raw, res.output, summary)


def main(argv: list[str] | None = None) -> int:
    """Run klp-convert; Ctrl-C in any mode gives one line and status 130
    (a write in progress removes its temporary file), a closed standard
    output (--list | head) ends the run quietly."""
    Current.path = None
    try:
        return _main(argv)
    except KeyboardInterrupt:
        where = f"{Current.path}: " if Current.path else ""
        print(f"{PROG}: {where}interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away: no traceback at interpreter exit either
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR


def _main(argv: list[str] | None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_USAGE
    if (args.symbols or args.symvers) and (args.weaken or args.strip_debug):
        _parser().print_usage(sys.stderr)
        print(f"{PROG}: --symbols and --symvers apply to a conversion, "
              "--list or --check, not to --weaken or --strip-debug",
              file=sys.stderr)
        return EXIT_USAGE
    if args.weaken:
        return _do_weaken([args.input] + args.rest, args)
    if args.check:
        from .finished import do_check
        return do_check([args.input] + args.rest, args)
    if len(args.rest) > 1:
        _parser().print_usage(sys.stderr)
        print(f"{PROG}: too many arguments: expected INPUT [OUTPUT]",
              file=sys.stderr)
        return EXIT_USAGE
    out = args.rest[0] if args.rest else args.input
    if args.strip_debug:
        from .finished import do_strip
        return do_strip(args.input, out, args)
    return _do_convert(args.input, out, args)


if __name__ == "__main__":
    sys.exit(main())
