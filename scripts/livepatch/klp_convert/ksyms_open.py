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

from .ksyms import Source, Sources, SymbolSourceError
from .ksyms_dir import ModuleDirSource
from .ksyms_elf import ET_REL, ElfSource, decompress, read_module, read_vmlinux
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


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def open_source(spec: str) -> Source:
    """Open one --symbols argument; raise SymbolSourceError naming it.
    Anything but a vmlinux may be compressed (.xz, .gz, .zst)."""
    kind, path = _split_kind(spec)
    try:
        if kind == "moddir" or kind is None and os.path.isdir(path):
            if not os.path.isdir(path):
                raise SymbolSourceError("not a directory", path)
            return ModuleDirSource(path)
        with open(path, "rb") as f:
            head = f.read(64)
        etype = _elf_type(head)
        if kind == "vmlinux" or kind is None and etype not in (None, ET_REL):
            return ElfSource(path, read_vmlinux(path))
        raw = decompress(_read(path), path)
    except OSError as exc:
        raise SymbolSourceError(exc.strerror or str(exc), path) from None
    kind = kind or _guess(path, raw[:64])
    if kind == "module":
        return ElfSource(path, read_module(path, raw))
    return TextSource(path, raw, kind == "sysmap")


def open_sources(specs: list[str]) -> Sources:
    """Open every --symbols argument."""
    return Sources([open_source(s) for s in specs])
