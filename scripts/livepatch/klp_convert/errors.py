# SPDX-License-Identifier: GPL-2.0-only
"""Exceptions raised by klp-convert.

Every exception carries a message that names what is wrong (section,
symbol, offset); the command line front end prefixes it with the file name
and turns it into exit status 1.
"""


class KlpError(Exception):
    """Base class: a module cannot be converted."""


class ElfFormatError(KlpError):
    """The input is not a well-formed ELF64 relocatable file."""


class UnsupportedError(KlpError):
    """The input is valid ELF but of a kind klp-convert does not handle."""


class SymbolNameError(KlpError):
    """A .klp.sym.* symbol name is malformed or breaks a kernel limit."""


class CheckError(KlpError):
    """The converted module would be refused (or misapplied) by the kernel."""


class InputError(KlpError):
    """A path that klp-convert must not read or replace: not a regular
    file, or larger than any module the kernel loads."""


def warning(text: str) -> str:
    """A warning: something the kernel accepts but probably will not do as
    meant.  Functions return a list of them; cli prints each as
    "klp-convert: <file>: warning: <text>" and --strict makes them errors.
    (A function rather than a bare string so that tests/docs finds the
    text and checks that it is documented.)"""
    return text
