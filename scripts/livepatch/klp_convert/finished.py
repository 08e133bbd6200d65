# SPDX-License-Identifier: GPL-2.0-only
"""The command line of the modes for finished modules: --check (verify.py)
and --strip-debug (strip.py).  Messages and exit codes as in cli.py."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from .console import (EXIT_ERROR, EXIT_OK, PROG, failed, guarded, read, say,
                      warn, write_output)
from .errors import InputError, KlpError
from .inputs import SIGNATURE_MARKER
from .modfile import unwrap


def _check_one(path: str, args: argparse.Namespace) -> bool:
    from .verify import verify
    module = unwrap(read(path))
    report = guarded(verify, module.elf)
    for what in report.problems:
        say(path, what)
    if warn(path, report.warnings, args.strict):
        return False
    if report.problems:
        return False
    if args.quiet:
        return True
    form = ", ".join(f for f in (module.compression,
                                 "signed" if module.signed else None) if f)
    form = f" ({form})" if form else ""
    if report.klp_sections or report.klp_symbols:
        print(f"{PROG}: {path}: ok{form}: {report.klp_relocations} livepatch "
              f"relocations in {report.klp_sections} sections, "
              f"{report.klp_symbols} livepatch symbols")
    else:
        print(f"{PROG}: {path}: ok{form}: no livepatch relocations or "
              "symbols (not a livepatch module)")
    return True


def do_check(paths: Sequence[str], args: argparse.Namespace) -> int:
    """klp-convert --check FILE...: 0 if every file passes, else 1."""
    status = EXIT_OK
    for path in paths:
        try:
            if not _check_one(path, args):
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
