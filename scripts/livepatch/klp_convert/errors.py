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


class SymbolSourceError(KlpError):
    """A --symbols source (kallsyms dump, System.map, vmlinux, module or
    module directory) cannot be read; reported against its own path."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class VerifyError(CheckError):
    """Intermediate symbols do not resolve in the target kernel as
    written; the message has one problem per paragraph, and .warnings
    the warnings found on the way."""

    warnings: list = []
