# SPDX-License-Identifier: GPL-2.0-only
"""What the modes of the command line share: the program name, exit
codes, messages, reading the input and writing the output of a mode
that rewrites a module.  cli.py (conversion, --list, --weaken) and
finished.py (--check, --strip-debug) build on it; it imports neither.

Every message reads "klp-convert: <file>: <what>", a warning
"klp-convert: <file>: warning: <what>".
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Callable, Sequence

from .errors import ElfFormatError, KlpError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

PROG = "klp-convert"
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def say(path: str, what: object, err: bool = True) -> None:
    """"klp-convert: <file>: <what>", each line of a message prefixed;
    names from a damaged file may hold bytes that are not UTF-8: show
    them escaped."""
    stream = sys.stderr if err else sys.stdout
    for text in str(what).split("\n"):
        line = f"{PROG}: {path}: {text}".encode("utf-8", "backslashreplace")
        stream.write(line.decode("utf-8") + "\n")


class Current:
    """The file being worked on, named by the message of an interrupt."""
    path: str | None = None


def warn(path: str, warnings: Sequence[str], strict: bool) -> bool:
    """Print "klp-convert: <file>: warning: <what>" lines; True if they
    stop the run (--strict): the caller then writes nothing, status 1."""
    for what in warnings:
        say(path, f"warning: {what}")
    if warnings and strict:
        print(f"{PROG}: {path}: {len(warnings)} warning(s) and --strict: "
              "nothing written", file=sys.stderr)
        return True
    return False


def read(path: str) -> bytes:
    from .inputs import read_input
    Current.path = path
    return read_input(path)


# What malformed input can raise below the ELF reader's own checks.
_MALFORMED = (struct.error, IndexError, ValueError, OverflowError,
              UnicodeError, KeyError, MemoryError)


def guarded(func: Callable[..., T], *args: object) -> T:
    """Run a conversion step; malformed input becomes an ElfFormatError."""
    try:
        return func(*args)
    except KlpError:
        raise
    except _MALFORMED as exc:
        raise ElfFormatError(f"malformed ELF file ({type(exc).__name__}: "
                             f"{exc})") from None


def failed(path: str, exc: KlpError | OSError) -> int:
    """Report the error of a mode on @path (a KlpError may name a file
    of its own, e.g. a --symbols source); EXIT_ERROR."""
    if isinstance(exc, KlpError):
        say(getattr(exc, "path", path), exc)
    else:
        say(path, exc.strerror or exc)
    return EXIT_ERROR


def write_output(inp: str, out: str, raw: bytes, data: bytes | None,
                 summary: str | None) -> int:
    """The tail of a mode that rewrites a module: @data (None: nothing
    changed, @raw is copied unless @out is @inp) replaces @out
    atomically with the mode of @inp; then @summary (-v) is printed.
    Errors name @out."""
    from .writer import write_atomic
    try:
        same = os.path.exists(out) and os.path.samefile(inp, out)
        if data is not None or not same:
            write_atomic(out, raw if data is None else data, mode_from=inp)
        if summary is not None:
            print(summary)
        return EXIT_OK
    except BrokenPipeError:
        raise
    except (KlpError, OSError) as exc:
        return failed(out, exc)
