# SPDX-License-Identifier: GPL-2.0-only
"""A module directory (/lib/modules/<release>, or any tree of .ko files):
modules found by name.

With a modules.dep (depmod's), its entries say where each module is;
otherwise the tree is walked.  A module's name is its file name without
.ko[.xz|.gz|.zst], '-' read as '_' (what the kernel and depmod do).
Files are read when a module is asked for, once.
"""

from __future__ import annotations

import os

from . import modfile
from .errors import InputError
from .inputs import MODULE, MODULES_DEP, read_file
from .ksyms import (ObjectSymbols, Source, SymbolSourceError, module_name,
                    read_source)
from .ksyms_elf import read_module

MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.gz", ".ko.zst")


class ModuleDirSource(Source):
    kind = "module directory"

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.files: dict[str, str] = {}
        self.twice: dict[str, list[str]] = {}
        dep = os.path.join(path, "modules.dep")
        if os.path.isfile(dep):
            self._from_dep(dep)
        else:
            self._walk()
        if not self.files:
            raise SymbolSourceError(
                "no kernel modules (*.ko, *.ko.xz, *.ko.gz, *.ko.zst) in this "
                "directory", path)
        self.loaded: dict[str, ObjectSymbols] = {}

    def _add(self, file: str) -> None:
        name = module_name(file)
        if name in self.files and self.files[name] != file:
            self.twice.setdefault(name, [self.files[name]]).append(file)
            return
        self.files[name] = file

    def _from_dep(self, dep: str) -> None:
        data = read_source(dep, MODULES_DEP)
        for line in data.split(b"\n"):
            rel = line.partition(b":")[0].decode("utf-8", "surrogateescape")
            if rel.endswith(MODULE_SUFFIXES):
                self._add(os.path.join(self.path, rel))

    def _walk(self) -> None:
        for top, dirs, files in os.walk(self.path):
            dirs.sort()
            for name in sorted(files):
                if name.endswith(MODULE_SUFFIXES):
                    self._add(os.path.join(top, name))

    def objects(self) -> list[str]:
        return list(self.files)

    def get(self, obj: str) -> ObjectSymbols | None:
        syms = self.loaded.get(obj)
        if syms is not None:
            return syms
        file = self.files.get(obj)
        if file is None:
            return None
        if obj in self.twice:
            raise SymbolSourceError(
                f"module '{obj}' is there more than once: "
                f"{', '.join(self.twice[obj])}; give the module file itself",
                self.path)
        raw = read_source(file, MODULE)
        syms = self.loaded[obj] = read_module(file, raw)
        return syms

    def holders(self, names: set[str]) -> dict[str, list[str]]:
        """Modules of the tree that have a symbol of each name, in one
        pass over the files, compressed ones included where this Python
        reads them (Debian's trixie tree, 4,230 .ko.xz files, decompresses
        in about 6 s; this only runs when a symbol is not found).  A file
        that cannot be read is skipped: the search only adds hints."""
        needles = {n: n.encode("utf-8", "surrogateescape") + b"\0"
                   for n in names}
        out: dict[str, list[str]] = {n: [] for n in names}
        for obj, file in self.files.items():
            if obj in self.twice:
                continue
            data = _module_image(file)
            hits = [n for n, needle in needles.items() if needle in data]
            if not hits:
                continue
            try:
                syms = self.loaded.get(obj) or read_module(file, data)
            except SymbolSourceError:
                continue
            self.loaded[obj] = syms
            for name in hits:
                if syms.has(name):
                    out[name].append(obj)
        return out


def _module_image(file: str) -> bytes:
    """The decompressed contents of the module @file, or b"" if it cannot
    be read (not a regular file, damaged, zstd without a reader)."""
    try:
        return modfile.decompress(read_file(file, MODULE))[1]
    except (InputError, OSError):
        return b""
