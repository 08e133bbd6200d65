# SPDX-License-Identifier: GPL-2.0-only
"""Relocation tables in bulk.

A module can carry 100,000 relocations, so nothing here does Python work
per entry: a table's fields are read as columns by slicing an array of
32-bit words, and entries are selected by runs of a per-entry flag found
with bytes.find().  Both run at C speed.
"""

from __future__ import annotations

import sys
from array import array
from itertools import compress

from .elf import RELA_SIZE, REL_SIZE, SHT_RELA, Section
from .errors import ElfFormatError

# array type codes of exactly 32 and 64 bits on this host
_U32 = next(c for c in "ILH" if array(c).itemsize == 4)
_U64 = next(c for c in "QL" if array(c).itemsize == 8)
_HOST = "<" if sys.byteorder == "little" else ">"


class Table:
    """The entries of one SHT_RELA or SHT_REL section, as columns.

    An entry is 6 (RELA) or 4 (REL) 32-bit words.  r_info is the second
    64-bit field: its low word is the type and its high word the symbol
    index, so in file order the symbol comes second in a little-endian
    file and first in a big-endian one.
    """

    __slots__ = ("section", "endian", "entsize", "count", "_sym_slot",
                 "_type_slot", "_step", "_symbols", "_types", "_offsets")

    def __init__(self, section: Section, endian: str) -> None:
        size = RELA_SIZE if section.sh_type == SHT_RELA else REL_SIZE
        if section.sh_entsize != size or len(section.data) % size:
            raise ElfFormatError(f"section '{section.name}': bad relocation "
                                 f"entry size {section.sh_entsize}")
        self.section = section
        self.endian = endian
        self.entsize = size
        self.count = len(section.data) // size
        self._step = size // 4
        little = endian == "<"
        self._sym_slot = 3 if little else 2
        self._type_slot = 2 if little else 3
        self._symbols: array[int] | None = None
        self._types: array[int] | None = None
        self._offsets: array[int] | None = None

    @classmethod
    def of(cls, data: bytes, sh_type: int, name: str, endian: str) -> Table:
        """The table of relocation entries @data, not (yet) a section."""
        size = RELA_SIZE if sh_type == SHT_RELA else REL_SIZE
        sec = Section((0, sh_type, 0, 0, 0, len(data), 0, 0, 8, size), data)
        sec.name = name
        return cls(sec, endian)

    def _native(self, arr: array[int]) -> array[int]:
        if self.endian != _HOST:
            arr.byteswap()
        return arr

    def _words(self) -> array[int]:
        """The entries as 32-bit words.  Not kept: a module's tables are
        held all at once, and their columns are what is used (made again,
        a copy costs less than the memory it holds)."""
        return self._native(array(_U32, self.section.data))

    def symbols(self) -> array[int]:
        """Symbol index of every entry."""
        if self._symbols is None:
            self._symbols = self._words()[self._sym_slot::self._step]
        return self._symbols

    def types(self) -> array[int]:
        """Relocation type of every entry."""
        if self._types is None:
            self._types = self._words()[self._type_slot::self._step]
        return self._types

    def offsets(self) -> array[int]:
        """r_offset of every entry."""
        if self._offsets is None:
            self._offsets = self._native(array(
                _U64, self.section.data))[::self._step // 2]
        return self._offsets

    def remapped(self, sym_map: list[int]) -> bytes:
        """The section's bytes with every symbol index i replaced by
        sym_map[i]."""
        words = self._words()
        words[self._sym_slot::self._step] = array(
            _U32, map(sym_map.__getitem__, self.symbols()))
        return self._native(words).tobytes()


def flags_of(column: array[int], members: set[int] | frozenset[int]) -> bytes:
    """One byte per entry: 1 if its value is in @members, else 0."""
    return bytes(map(members.__contains__, column))


def split(data: bytes, entsize: int, flags: bytes) -> tuple[bytes, bytes]:
    """(entries whose flag is 0, entries whose flag is 1), each in their
    original order.  Costs one slice per run of equal flags."""
    kept: list[bytes] = []
    taken: list[bytes] = []
    count = len(flags)
    pos = 0
    on = flags[0] if count else 0
    while pos < count:
        end = flags.find(b"\0" if on else b"\1", pos)
        if end < 0:
            end = count
        (taken if on else kept).append(data[pos * entsize:end * entsize])
        pos, on = end, not on
    return b"".join(kept), b"".join(taken)


def flagged(flags: bytes) -> list[int]:
    """Indices of the entries whose flag is 1."""
    return list(compress(range(len(flags)), flags))
