# SPDX-License-Identifier: GPL-2.0-only
"""--symbols arguments: what each one is, and the sources together.

A source is given as PATH or KIND:PATH.  Without a kind it is recognised
by its contents: a directory is a module directory; an ELF relocatable
file a module; another ELF file a vmlinux; a text file a /proc/kallsyms
dump, or a System.map when its name starts with "System.map" (the two
have the same lines; they differ in which symbols kallsyms keeps).  All
but a vmlinux may be compressed with xz, gzip or zstd.
"""

from __future__ import annotations

import os

from .errors import InputError
from .inputs import MODULE, SYMBOL_TEXT, Limit, open_regular, read_fd
from .ksyms import Source, Sources, SymbolSourceError, source_error
from .ksyms_dir import ModuleDirSource
from .ksyms_elf import (ET_REL, GZ_MAGIC, XZ_MAGIC, ZSTD_MAGIC, ElfSource,
                        decompress, read_module, read_vmlinux)
from .ksyms_text import TextSource

KINDS = ("kallsyms", "sysmap", "vmlinux", "module", "moddir")


def _split_kind(spec: str) -> tuple[str | None, str]:
    kind, colon, path = spec.partition(":")
    if colon and kind in KINDS:
        return kind, path
    return None, spec


def _elf_type(head: bytes) -> int | None:
    if not head.startswith(b"\x7fELF"):
        return None
    return int.from_bytes(head[16:18], "little" if head[5:6] == b"\x01"
                          else "big")


def _guess(path: str, head: bytes) -> str:
    """The kind of a file from its first (decompressed) bytes."""
    etype = _elf_type(head)
    if etype is not None:
        return "module" if etype == ET_REL else "vmlinux"
    name = os.path.basename(path)
    for ext in (".xz", ".gz", ".zst"):
        name = name[:-len(ext)] if name.endswith(ext) else name
    if name.startswith("System.map"):
        return "sysmap"
    if b"\0" in head:
        raise SymbolSourceError(
            "not a symbol source: expected a /proc/kallsyms dump, a "
            "System.map, a vmlinux, a module (.ko) or a module directory",
            path)
    return "kallsyms"


def _limit(kind: str | None, head: bytes) -> Limit:
    """How much of a source read whole to accept: a module's limit for a
    module and for compressed data that may be one, else a text's."""
    if kind in ("kallsyms", "sysmap"):
        return SYMBOL_TEXT
    if kind == "module" or _elf_type(head) == ET_REL or \
            head.startswith((XZ_MAGIC, GZ_MAGIC, ZSTD_MAGIC)):
        return MODULE
    return SYMBOL_TEXT


def _read(path: str, kind: str | None) -> bytes | None:
    """The file of a source read whole (still compressed), or None for a
    vmlinux, which read_vmlinux() reads in parts."""
    fd = open_regular(path, None)
    try:
        head = os.read(fd, 64)
        etype = _elf_type(head)
        if kind == "vmlinux" or kind is None and etype not in (None, ET_REL):
            return None
        os.lseek(fd, 0, os.SEEK_SET)
        return read_fd(fd, _limit(kind, head))
    finally:
        os.close(fd)


def open_source(spec: str) -> Source:
    """Open one --symbols argument; raise SymbolSourceError naming it.
    Anything but a vmlinux may be compressed (.xz, .gz, .zst).  Every
    file is checked and read through inputs.py: no device, FIFO or file
    beyond its kind's limit."""
    kind, path = _split_kind(spec)
    if kind == "moddir" or kind is None and os.path.isdir(path):
        if not os.path.isdir(path):
            raise SymbolSourceError("not a directory", path)
        return ModuleDirSource(path)
    try:
        raw = _read(path, kind)
    except (InputError, OSError) as exc:
        raise source_error(exc, path) from None
    if raw is None:
        return ElfSource(path, read_vmlinux(path))
    raw = decompress(raw, path)
    kind = kind or _guess(path, raw[:64])
    if kind == "module":
        return ElfSource(path, read_module(path, raw))
    return TextSource(path, raw, kind == "sysmap")


def open_sources(specs: list[str]) -> Sources:
    """Open every --symbols argument."""
    return Sources([open_source(s) for s in specs])
