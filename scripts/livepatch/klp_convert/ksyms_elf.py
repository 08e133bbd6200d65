# SPDX-License-Identifier: GPL-2.0-only
"""ELF symbol tables: a vmlinux and a module (.ko, also compressed).

Both are read in bulk: the symbol table's columns (st_name, st_info,
st_shndx, st_value) are arrays over the section data, and a name is found
by searching the string table for it and then the st_name column for its
offsets, at C speed.  Local symbols get the source file of the STT_FILE
symbol that opens their group, where the table has them (Debian strips
them from its modules, not from vmlinux or the -dbg modules).

vmlinux: kallsyms is built from `nm -n vmlinux` (address order) through
scripts/mksysmap and scripts/kallsyms; vmlinux_kept() repeats their
filters and nm_type() nm's type letters.

Module: the kernel counts the symbols of the module's own .symtab, in
table order, that are defined (module_kallsyms_on_each_symbol()); once the
module is live only the core ones (kernel/module/kallsyms.c
is_core_symbol(): named, st_shndx below e_shnum, in a section that is
still allocated after rewrite_section_headers() and not an init section,
or in .data..percpu).
"""

from __future__ import annotations

import bisect
import os
import re
import struct
import sys
from array import array
from itertools import compress
from typing import BinaryIO

from . import inputs, modfile
from .elf import (EHDR_FMT, SHDR_FMT, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE,
                  SHN_ABS, SHN_COMMON, SHN_LORESERVE, SHN_UNDEF, SHT_NOBITS,
                  SHT_STRTAB, SHT_SYMTAB, STB_GLOBAL, STB_GNU_UNIQUE,
                  STB_WEAK, STT_FILE, STT_GNU_IFUNC, STT_OBJECT, STT_SECTION,
                  Ehdr, ElfFile, Shdr)
from .errors import InputError, KlpError
from .ksyms import (VMLINUX, ObjectSymbols, Occurrence, Source,
                    SymbolSourceError, module_name, source_error)
from .ksyms_text import kallsyms_ignores
from .targets import NOT_LOADED as LOADER_UNALLOCATED
from .targets import PERCPU as PERCPU_SECTION

ET_REL = 1

XZ_MAGIC, GZ_MAGIC, ZSTD_MAGIC = (modfile.XZ_MAGIC, modfile.GZ_MAGIC,
                                  modfile.ZSTD_MAGIC)

_U32 = next(c for c in "ILH" if array(c).itemsize == 4)
_U64 = next(c for c in "QL" if array(c).itemsize == 8)
_U16 = "H"
_HOST = "<" if sys.byteorder == "little" else ">"
# Above this many names, a lookup reads every symbol name once instead of
# searching the string table for each name.
_MANY = 16

# scripts/mksysmap (6.1, 6.12, 7.3 together) after `nm -n`.
MKSYSMAP_TYPES = frozenset("aNUw")
MKSYSMAP_PREFIXES = ("$", ".L", "__efistub_", "__pi_$", "__pi_.L",
                     "__kvm_nvhe_$", "__kvm_nvhe_.L", "__kcfi_typeid_",
                     "__kvm_nvhe___kcfi_typeid_", "__pi___kcfi_typeid_",
                     "__crc_", "__kstrtab_", "__kstrtabns_",
                     "__mod_device_table__", "__UNIQUE_ID_modinfo_")
MKSYSMAP_NAMES = frozenset({"L0", "_SDA_BASE_", "_SDA2_BASE_"})
MKSYSMAP_THUNK = re.compile(r"__[A-Za-z0-9]*Thunk_")


def decompress(raw: bytes, path: str) -> bytes:
    """A file as distributions ship modules: plain, .xz, .gz or .zst
    (modfile.decompress(), its errors against @path)."""
    try:
        return modfile.decompress(raw)[1]
    except modfile.ZstdUnsupported:
        raise SymbolSourceError(
            "zstd-compressed file, and this Python cannot read zstd (it "
            "needs Python 3.14 or the zstandard module, Debian's "
            "python3-zstandard); decompress it first with unzstd",
            path) from None
    except InputError as exc:
        raise SymbolSourceError(f"cannot decompress: {exc}", path) from None


class _Columns:
    """The columns of an ELF64 symbol table, as native arrays."""

    def __init__(self, data: bytes, strtab: bytes, endian: str) -> None:
        words = array(_U32, data)
        halves = array(_U16, data)
        quads = array(_U64, data)
        if endian != _HOST:
            words.byteswap()
            halves.byteswap()
            quads.byteswap()
        self.name = words[0::6]
        self.info = data[4::24]
        self.shndx = halves[3::12]
        self.value = quads[1::3]
        self.strtab = strtab
        self.count = len(self.name)
        self.files = [i for i in compress(range(self.count),
                                          map(_is_file, self.info))]

    def offsets_of(self, name: bytes) -> set[int]:
        """String table offsets where @name is stored (also as the tail
        of a longer string, which linkers share)."""
        pat = name + b"\0"
        out = set()
        i = self.strtab.find(pat)
        while i >= 0:
            if i:
                out.add(i)
            i = self.strtab.find(pat, i + 1)
        return out

    def offsets_named(self, names: set[str]) -> dict[int, str]:
        """String table offsets of symbol names that are in @names: one
        look at each distinct st_name (for many names at once)."""
        strtab = self.strtab
        out: dict[int, str] = {}
        for off in set(self.name):
            end = strtab.find(b"\0", off)
            if end < 0:
                continue
            name = strtab[off:end].decode("utf-8", "surrogateescape")
            if name in names:
                out[off] = name
        return out

    def matching(self, offsets: dict[int, str]) -> list[int]:
        """Indices of the symbols whose st_name is a key of @offsets."""
        return list(compress(range(self.count),
                             map(offsets.__contains__, self.name)))

    def file_of(self, index: int) -> str | None:
        k = bisect.bisect_right(self.files, index) - 1
        if k < 0:
            return None
        off = self.name[self.files[k]]
        end = self.strtab.find(b"\0", off)
        return self.strtab[off:end].decode("utf-8", "surrogateescape") or None

    def names_blob(self) -> bytes:
        """Every symbol name, one per line: the strings at the st_name
        offsets (a name may be the tail of another string)."""
        strtab = self.strtab
        return b"\n".join(strtab[o:strtab.find(b"\0", o)]
                          for o in set(self.name) if o)

    def all_names(self) -> list[str]:
        return [n.decode("utf-8", "surrogateescape")
                for n in self.names_blob().split(b"\n") if n]


def _is_file(info: int) -> bool:
    return info & 0xF == STT_FILE


class _ElfObject(ObjectSymbols):
    """Shared lookups of the two ELF readers."""

    cols: _Columns

    def _indices(self, names: set[str]) -> dict[str, list[int]]:
        """Symbol indices per name, in table order, for several names in
        one pass over the st_name column."""
        if len(names) > _MANY:
            offsets = self.cols.offsets_named(names)
        else:
            offsets = {off: name for name in names for off in
                       self.cols.offsets_of(name.encode("utf-8",
                                                        "surrogateescape"))}
        out: dict[str, list[int]] = {n: [] for n in names}
        for i in self.cols.matching(offsets):
            out[offsets[self.cols.name[i]]].append(i)
        return out

    def _find(self, name: str) -> list[Occurrence]:
        return self._occurrences(name, self._indices({name})[name])

    def prefetch(self, names: set[str]) -> None:
        todo = {n for n in names if n not in self._cache}
        if todo:
            for name, indices in self._indices(todo).items():
                self._cache[name] = self._occurrences(name, indices)

    def all_names(self) -> list[str]:
        return self.cols.all_names()

    def names_blob(self) -> bytes:
        return self.cols.names_blob()

    def _occurrences(self, name: str, indices: list[int]) -> list[Occurrence]:
        raise NotImplementedError


# -- vmlinux ---------------------------------------------------------------

def nm_type(info: int, shndx: int, sec: tuple[str, int, int] | None) -> str:
    """The letter `nm` prints for a symbol (binutils bfd_decode_symclass()
    for ELF); @sec: the section's (name, sh_type, sh_flags)."""
    bind, typ = info >> 4, info & 0xF
    if shndx == SHN_UNDEF:
        if bind == STB_WEAK:
            return "v" if typ == STT_OBJECT else "w"
        return "U"
    if typ == STT_GNU_IFUNC:
        return "i"
    if bind == STB_WEAK:
        return "V" if typ == STT_OBJECT else "W"
    if bind == STB_GNU_UNIQUE:
        return "u"
    if shndx == SHN_ABS:
        c = "a"
    elif shndx == SHN_COMMON:
        return "C"
    elif sec is None:
        return "?"
    else:
        c = _section_letter(*sec)
    return c.upper() if bind == STB_GLOBAL else c


def _section_letter(name: str, sh_type: int, flags: int) -> str:
    """binutils decode_section_type() on the flags BFD gives an ELF
    section."""
    if flags & SHF_EXECINSTR:
        return "t"
    if flags & SHF_ALLOC and sh_type != SHT_NOBITS:
        return "d" if flags & SHF_WRITE else "r"
    if sh_type == SHT_NOBITS:
        return "b"
    if name.startswith((".debug", ".zdebug", ".stab", ".gnu.linkonce.wi.")):
        return "N"
    return "n" if not flags & SHF_WRITE else "?"


def vmlinux_kept(name: str, letter: str) -> bool:
    """Whether a vmlinux symbol reaches kallsyms: through scripts/mksysmap
    and scripts/kallsyms."""
    if letter in MKSYSMAP_TYPES or name in MKSYSMAP_NAMES:
        return False
    if name.startswith(MKSYSMAP_PREFIXES) or MKSYSMAP_THUNK.match(name):
        return False
    return not kallsyms_ignores(name, letter)


class VmlinuxSymbols(_ElfObject):
    def __init__(self, source: str, cols: _Columns,
                 sections: list[tuple[str, int, int]], nlocal: int) -> None:
        super().__init__(VMLINUX, source)
        self.cols = cols
        self.sections = sections
        self.nlocal = nlocal

    def _occurrences(self, name: str, indices: list[int]) -> list[Occurrence]:
        cols = self.cols
        found = []
        for i in indices:
            info, shndx = cols.info[i], cols.shndx[i]
            if i == 0 or info & 0xF in (STT_SECTION, STT_FILE):
                continue
            sec = self.sections[shndx] if 0 < shndx < len(self.sections) \
                else None
            letter = nm_type(info, shndx, sec)
            if not vmlinux_kept(name, letter):
                continue
            weak = info >> 4 == STB_WEAK
            found.append((cols.value[i], weak, i, letter))
        found.sort()
        file_of = self.cols.file_of
        return [Occurrence(name, value, None, letter,
                           file_of(i) if i < self.nlocal else None, i)
                for value, _weak, i, letter in found]


# A vmlinux's .symtab is 24 bytes per symbol, its .strtab of the same
# order: tens of MB for the largest configurations.
MAX_VMLINUX_TABLE = 1 << 30


def read_vmlinux(path: str) -> VmlinuxSymbols:
    """Read only the headers, .symtab and its string table of a (large)
    vmlinux."""
    try:
        fd = inputs.open_regular(path, inputs.VMLINUX)
        with os.fdopen(fd, "rb") as f:
            return _vmlinux_from(f, path)
    except (InputError, OSError) as exc:
        raise source_error(exc, path) from None
    except (struct.error, IndexError, ValueError) as exc:
        raise SymbolSourceError(f"malformed vmlinux ({exc})", path) from None


def _vmlinux_from(f: BinaryIO, path: str) -> VmlinuxSymbols:
    ident = f.read(64)
    if len(ident) < 64 or ident[:4] != b"\x7fELF" or ident[4] != 2:
        raise SymbolSourceError("not an ELF64 vmlinux", path)
    endian = "<" if ident[5] == 1 else ">"
    ehdr = Ehdr._make(struct.unpack(endian + EHDR_FMT, ident))
    shnum, shstrndx = ehdr.e_shnum, ehdr.e_shstrndx
    f.seek(ehdr.e_shoff)
    raw = f.read(64 * shnum)
    headers = list(map(Shdr._make, struct.iter_unpack(endian + SHDR_FMT,
                                                      raw)))
    if len(headers) != shnum or not 0 < shstrndx < shnum:
        raise SymbolSourceError("truncated section header table", path)

    def contents(h: Shdr) -> bytes:
        if h.sh_size > MAX_VMLINUX_TABLE:
            raise SymbolSourceError(
                f"a symbol table section of {h.sh_size} bytes: klp-convert "
                f"reads at most {MAX_VMLINUX_TABLE} bytes of one", path)
        f.seek(h.sh_offset)
        data = f.read(h.sh_size)
        if len(data) != h.sh_size:
            raise SymbolSourceError("truncated file", path)
        return bytes(data)

    shstr = contents(headers[shstrndx])
    sections = [(shstr[h.sh_name:shstr.find(b"\0", h.sh_name)].decode(
        "ascii", "replace"), h.sh_type, h.sh_flags) for h in headers]
    symtab = next((h for h in headers if h.sh_type == SHT_SYMTAB), None)
    if symtab is None or not 0 < symtab.sh_link < shnum or \
            headers[symtab.sh_link].sh_type != SHT_STRTAB:
        raise SymbolSourceError("vmlinux has no symbol table (.symtab)", path)
    cols = _Columns(contents(symtab), contents(headers[symtab.sh_link]),
                    endian)
    return VmlinuxSymbols(path, cols, sections, symtab.sh_info)


# -- modules ---------------------------------------------------------------

class ModuleSymbols(_ElfObject):
    has_load_view = True

    def __init__(self, obj: str, source: str, elf: ElfFile) -> None:
        super().__init__(obj, source)
        self.cols = _Columns(elf.symtab.data, elf.strtab.data, elf.endian)
        self.shnum = elf.ehdr.e_shnum
        self.names = [s.name for s in elf.sections]
        self.nlocal = elf.symtab.sh_info
        self.core_sec = bytes(self._is_core_section(s.name, s.sh_flags)
                              for s in elf.sections)
        self._load: dict[str, list[Occurrence]] = {}
        self.types = [self._type_base(s.sh_type, s.sh_flags, s.name)
                      for s in elf.sections]

    @staticmethod
    def _is_core_section(name: str, flags: int) -> bool:
        if name == PERCPU_SECTION:
            return True
        return bool(flags & SHF_ALLOC) and name not in LOADER_UNALLOCATED \
            and not name.startswith(".init")

    @staticmethod
    def _type_base(sh_type: int, flags: int, name: str) -> str:
        """kernel/module/kallsyms.c elf_type() for a defined symbol."""
        if name == PERCPU_SECTION:
            return "a"
        if flags & SHF_EXECINSTR:
            return "t"
        alloc = flags & SHF_ALLOC and name not in LOADER_UNALLOCATED
        if alloc and sh_type != SHT_NOBITS:
            return "d" if flags & SHF_WRITE else "r"
        if sh_type == SHT_NOBITS:
            return "b"
        return "n" if name.startswith(".debug") else "?"

    def _type(self, i: int, exported: bool) -> str:
        info, shndx = self.cols.info[i], self.cols.shndx[i]
        if info >> 4 == STB_WEAK:
            return "v" if info & 0xF == STT_OBJECT else "w"
        if shndx == SHN_ABS:
            c = "a"
        elif shndx >= SHN_LORESERVE or shndx >= len(self.types):
            c = "?"
        else:
            c = self.types[shndx]
        return c.upper() if exported else c

    def _occ(self, name: str, i: int, exported: bool) -> Occurrence:
        shndx = self.cols.shndx[i]
        sec = self.names[shndx] if 0 < shndx < len(self.names) else None
        if shndx >= SHN_LORESERVE:
            sec = "*ABS*" if shndx == SHN_ABS else f"[{shndx:#x}]"
        return Occurrence(name, self.cols.value[i], sec,
                          self._type(i, exported),
                          self.cols.file_of(i) if i < self.nlocal else None, i)

    def _occurrences(self, name: str, indices: list[int]) -> list[Occurrence]:
        cols = self.cols
        load, core = [], []
        exported = self._exported(name) if indices else False
        for i in indices:
            shndx = cols.shndx[i]
            if i == 0 or shndx == SHN_UNDEF:
                continue
            occ = self._occ(name, i, exported)
            load.append(occ)
            if shndx < self.shnum and shndx < len(self.core_sec) and \
                    self.core_sec[shndx]:
                core.append(occ)
        self._load[name] = load
        return core

    def _exported(self, name: str) -> bool:
        """In __ksymtab (not __ksymtab_gpl): /proc/kallsyms shows these
        in upper case (kernel/module/kallsyms.c is_exported() only
        searches mod->syms)."""
        ks = self._indices({"__ksymtab_" + name})["__ksymtab_" + name]
        return any(0 < self.cols.shndx[i] < len(self.names) and
                   self.names[self.cols.shndx[i]] == "__ksymtab" for i in ks)

    def load_occurrences(self, name: str) -> list[Occurrence]:
        self.occurrences(name)
        return self._load[name]


def module_object_name(elf: ElfFile, path: str) -> str:
    """The module's name: .modinfo name=, else from the file name."""
    for field in elf.modinfo():
        if field.startswith(b"name="):
            name = field[5:].decode("utf-8", "surrogateescape")
            return name.replace("-", "_")
    return module_name(path)


def read_module(path: str, raw: bytes) -> ModuleSymbols:
    data = decompress(raw, path)
    try:
        elf = ElfFile(data)
        return ModuleSymbols(module_object_name(elf, path), path, elf)
    except KlpError as exc:
        raise SymbolSourceError(f"not a kernel module: {exc}", path) from None
    except (struct.error, IndexError, ValueError) as exc:
        raise SymbolSourceError(f"malformed module ({exc})", path) from None


class ElfSource(Source):
    """A vmlinux or a module file: one object."""

    def __init__(self, path: str, symbols: ObjectSymbols) -> None:
        super().__init__(path)
        self.kind = "vmlinux" if symbols.obj == VMLINUX else "module"
        self.symbols = symbols

    def objects(self) -> list[str]:
        return [self.symbols.obj]

    def get(self, obj: str) -> ObjectSymbols | None:
        return self.symbols if obj == self.symbols.obj else None
