# SPDX-License-Identifier: GPL-2.0-only
"""--symbols arguments: what each one is, and the sources together.

A source is given as PATH or KIND:PATH.  Without a kind it is recognised
by its contents: a directory is a module directory; an ELF relocatable
file (also .xz, .gz or .zst compressed) a module; another ELF file a
vmlinux; a text file a /proc/kallsyms dump, or a System.map when its
name starts with "System.map" (the two have the same lines; they differ
in which symbols kallsyms keeps).
"""

from __future__ import annotations

import os

from .errors import SymbolSourceError
from .ksyms import ObjectSymbols, Source
from .ksyms_dir import ModuleDirSource
from .ksyms_elf import (ET_REL, GZ_MAGIC, XZ_MAGIC, ZSTD_MAGIC, ElfSource,
                        read_module, read_vmlinux)
from .ksyms_text import TextSource

KINDS = ("kallsyms", "sysmap", "vmlinux", "module", "moddir")


def _split_kind(spec: str) -> tuple[str | None, str]:
    kind, colon, path = spec.partition(":")
    if colon and kind in KINDS:
        return kind, path
    return None, spec


def _head(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(64)


def _guess(path: str) -> str:
    if os.path.isdir(path):
        return "moddir"
    head = _head(path)
    if head.startswith(b"\x7fELF"):
        little = head[5:6] == b"\x01"
        etype = int.from_bytes(head[16:18], "little" if little else "big")
        return "module" if etype == ET_REL else "vmlinux"
    if head.startswith((XZ_MAGIC, GZ_MAGIC, ZSTD_MAGIC)):
        return "module"
    if os.path.basename(path).startswith("System.map"):
        return "sysmap"
    if b"\0" in head:
        raise SymbolSourceError(
            path, "not a symbol source: expected a /proc/kallsyms dump, a "
            "System.map, a vmlinux, a module (.ko) or a module directory")
    return "kallsyms"


def open_source(spec: str) -> Source:
    """Open one --symbols argument; raise SymbolSourceError naming it."""
    kind, path = _split_kind(spec)
    try:
        kind = kind or _guess(path)
        if kind == "moddir":
            if not os.path.isdir(path):
                raise SymbolSourceError(path, "not a directory")
            return ModuleDirSource(path)
        if kind == "vmlinux":
            return ElfSource(path, read_vmlinux(path))
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise SymbolSourceError(path, exc.strerror or str(exc)) from None
    if kind == "module":
        return ElfSource(path, read_module(path, raw))
    return TextSource(path, raw, kind == "sysmap")


class Sources:
    """All --symbols sources, asked by object."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources

    @classmethod
    def open(cls, specs: list[str]) -> Sources:
        return cls([open_source(s) for s in specs])

    def covering(self, obj: str) -> list[ObjectSymbols]:
        """The symbols of @obj in every source that has them."""
        out = []
        for src in self.sources:
            syms = src.get(obj)
            if syms is not None:
                out.append(syms)
        return out

    def holders(self, names: set[str]) -> dict[str, list[str]]:
        """Objects (of any source) that have a symbol of each name."""
        out: dict[str, list[str]] = {n: [] for n in names}
        for src in self.sources:
            for name, objs in src.holders(names).items():
                out[name] += [o for o in objs if o not in out[name]]
        return out
