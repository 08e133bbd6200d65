# SPDX-License-Identifier: GPL-2.0-only
"""Module.symvers: which object exports a symbol.

Each line, as modpost writes it (scripts/mod/modpost.c write_dump()):

    <crc>\\t<symbol>\\t<module>\\t<export type>\\t<namespace>

<module> is "vmlinux" or the module's path without ".ko" (relative for
in-tree modules, absolute for external ones); the kernel's name of the
module is its last component with '-' read as '_'.
"""

from __future__ import annotations

from collections import namedtuple

from .inputs import SYMVERS
from .ksyms import VMLINUX, SymbolSourceError, module_name, read_source


class Export(namedtuple("Export", ["symbol", "obj", "kind", "namespace"])):
    """One exported symbol: its name, the object that exports it (vmlinux
    or a module name), EXPORT_SYMBOL or EXPORT_SYMBOL_GPL, and its
    namespace ("" if none)."""

    __slots__ = ()


class Symvers:
    def __init__(self, paths: list[str], exports: dict[str, Export]) -> None:
        self.paths = paths
        self.exports = exports

    @classmethod
    def read(cls, paths: list[str]) -> Symvers:
        exports: dict[str, Export] = {}
        for path in paths:
            data = read_source(path, SYMVERS)
            exports.update(_parse(path, data))
        return cls(paths, exports)

    def get(self, symbol: str) -> Export | None:
        return self.exports.get(symbol)


def _parse(path: str, data: bytes) -> dict[str, Export]:
    out: dict[str, Export] = {}
    for number, line in enumerate(data.decode("utf-8", "surrogateescape")
                                  .split("\n"), 1):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) < 4 or not fields[0].startswith("0x"):
            raise SymbolSourceError(
                f"line {number}: not a Module.symvers line "
                "(<crc> <symbol> <module> <export type> [<namespace>], "
                "separated by tabs)", path)
        obj = fields[2]
        obj = VMLINUX if obj == VMLINUX else module_name(obj)
        out[fields[1]] = Export(fields[1], obj, fields[3],
                                fields[4] if len(fields) > 4 else "")
    return out
