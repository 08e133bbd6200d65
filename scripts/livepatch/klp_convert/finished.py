# SPDX-License-Identifier: GPL-2.0-only
"""The command line of the modes for finished modules: --check (verify.py)
and --strip-debug (strip.py).  Messages and exit codes as in cli.py."""

from __future__ import annotations

import argparse
from collections import namedtuple
from collections.abc import Sequence

from .console import (EXIT_ERROR, EXIT_OK, PROG, failed, guarded, read, say,
                      warn, write_output)
from .errors import InputError, KlpError
from .inputs import SIGNATURE_MARKER
from .modfile import unwrap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .ksyms import Sources
    from .symvers import Symvers

    Targets = tuple[Sources | None, Symvers | None]


def _check_one(path: str, args: argparse.Namespace,
               targets: Targets) -> bool:
    from .verify import verify
    module = unwrap(read(path))
    report = guarded(verify, module.elf)
    problems, warnings = list(report.problems), list(report.warnings)
    if targets != (None, None):
        found = _verify_symbols(module.elf, targets)
        problems += found.problems
        warnings += found.warnings
    for what in problems:
        say(path, what)
    if warn(path, warnings, args.strict):
        return False
    if problems:
        return False
    if args.quiet:
        return True
    form = ", ".join(f for f in (module.compression,
                                 "signed" if module.signed else None) if f)
    form = f" ({form})" if form else ""
    if report.klp_sections or report.klp_symbols:
        verified = ", verified against the target's symbols" \
            if targets[0] is not None else ""
        print(f"{PROG}: {path}: ok{form}: {report.klp_relocations} livepatch "
              f"relocations in {report.klp_sections} sections, "
              f"{report.klp_symbols} livepatch symbols{verified}")
    else:
        print(f"{PROG}: {path}: ok{form}: no livepatch relocations or "
              "symbols (not a livepatch module)")
    return True


class _Found(namedtuple("_Found", ["problems", "warnings"])):
    """problems, warnings: list[str]"""

    __slots__ = ()


def _verify_symbols(elf: bytes, targets: Targets) -> _Found:
    """--check --symbols/--symvers: the checks of a conversion
    (symcheck.py), over the module's livepatch symbols."""
    from .symcheck import VerifyError, verify_finished
    try:
        report = guarded(verify_finished, elf, *targets)
    except VerifyError as exc:
        return _Found(str(exc).split("\n"), exc.warnings)
    return _Found([], report.warnings)


def do_check(paths: Sequence[str], args: argparse.Namespace) -> int:
    """klp-convert --check FILE...: 0 if every file passes, else 1."""
    from .symcheck import open_targets
    try:
        targets = open_targets(args.symbols, args.symvers)
    except (KlpError, OSError) as exc:
        return failed(paths[0], exc)
    status = EXIT_OK
    for path in paths:
        try:
            if not _check_one(path, args, targets):
                status = EXIT_ERROR
        except BrokenPipeError:
            raise
        except (KlpError, OSError) as exc:
            status = failed(path, exc)
    return status


def do_strip(inp: str, out: str, args: argparse.Namespace) -> int:
    """klp-convert --strip-debug INPUT [OUTPUT]."""
    from .strip import strip_debug
    try:
        raw = read(inp)
        module = unwrap(raw)
        if module.compression:
            raise InputError(f"{module.compression}-compressed module: "
                             "decompress it first; strip works on the ELF "
                             "file before compression")
        if raw.endswith(SIGNATURE_MARKER):
            raise InputError("the module has an appended signature: "
                             "stripping it would invalidate the signature; "
                             "strip before signing")
        stripped = guarded(strip_debug, raw)
    except BrokenPipeError:
        raise
    except (KlpError, OSError) as exc:
        return failed(inp, exc)
    summary = None
    if args.verbose:
        summary = f"{PROG}: {out}: {len(raw)} -> " \
            f"{len(raw if stripped is None else stripped)} bytes"
    return write_output(inp, out, raw, stripped, summary)
