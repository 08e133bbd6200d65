# SPDX-License-Identifier: GPL-2.0-only
"""The kernel's symbols as the livepatch core counts them.

Every symbol source (ksyms_text, ksyms_elf, ksyms_dir) yields, per object
(vmlinux or a module name), the occurrences of a name in the order in
which klp_find_object_symbol() (kernel/livepatch/core.c) meets them:

vmlinux
    kallsyms order, which is address order.  6.1 walks the whole table
    (kallsyms_on_each_symbol()); 6.2 and later walk the names sorted by
    name, ties broken by address and then by table index
    (kallsyms_on_each_match_symbol(), scripts/kallsyms.c compare_names()).
    The table itself is sorted by address, so both visit the occurrences
    of one name in the same order: /proc/kallsyms order.
a module
    the module's own symbol table order, minus undefined symbols
    (module_kallsyms_on_each_symbol()), over the symbols that kallsyms
    keeps.  Which ones it keeps depends on when the lookup happens: while
    the module loads (MODULE_STATE_COMING, when a patch that is already
    loaded resolves its relocations) the whole .symtab is used; once the
    module is live only the "core" symbols remain (add_kallsyms(),
    is_core_symbol(): no init sections, no non-allocated sections, no
    SHN_ABS).  Readers of a .ko give both views; a /proc/kallsyms dump
    only shows the live one.

klp_find() is the rule itself: position 0 requires a unique name,
position n requires at least n occurrences, and an address of 0 counts
as not found.
"""

from __future__ import annotations

import re
from collections import namedtuple

from .errors import InputError, KlpError
from .inputs import Limit, read_file

VMLINUX = "vmlinux"


class SymbolSourceError(KlpError):
    """A --symbols source (kallsyms dump, System.map, vmlinux, module or
    module directory) or a Module.symvers cannot be read; reported
    against its own path."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


def source_error(exc: InputError | OSError, path: str) -> SymbolSourceError:
    """An error of reading the symbol source @path, against @path."""
    text = exc.strerror if isinstance(exc, OSError) else None
    return SymbolSourceError(text or str(exc), path)


def read_source(path: str, limit: Limit) -> bytes:
    """The file @path of a symbol source, read through inputs.read_file()
    (a regular file of at most @limit bytes); SymbolSourceError naming
    @path if it cannot be read."""
    try:
        return read_file(path, limit)
    except (InputError, OSError) as exc:
        raise source_error(exc, path) from None


# klp_find() outcomes
FOUND = "found"
NOT_FOUND = "not found"
AMBIGUOUS = "ambiguous"
PAST_END = "position past the end"
ADDRESS_ZERO = "address 0"

HIDDEN = "(address hidden)"

# Names the compiler makes for clones and parts of a function.
CLONE_RE = re.compile(r"\.(?:isra|constprop|part|cold|llvm|lto_priv|"
                      r"localalias)(?:\.|$)")


class Occurrence(namedtuple("Occurrence", ["name", "addr", "section", "type",
                                           "file", "index"])):
    """One symbol of an object, as a source describes it.

    name: str
    addr: int | None: the address (None: the source hides addresses,
        e.g. a /proc/kallsyms dump read with kptr_restrict in force)
    section: str | None: for a .ko, the section that addr is relative to
    type: str: nm-style type letter ('t', 'D', ...)
    file: str | None: source file (from STT_FILE symbols), if known
    index: int: where the source has it, in the source's order: the
        symbol table index in an ELF file, the line's offset among the
        object's lines in a text table
    """

    __slots__ = ()

    @property
    def where(self) -> str:
        """The address as text: absolute, section-relative or hidden."""
        if self.addr is None:
            return HIDDEN
        if self.section is not None:
            return f"{self.section}+{self.addr:#x}"
        return f"{self.addr:016x}"


class Lookup(namedtuple("Lookup", ["status", "occurrence", "count"])):
    """What klp_find_object_symbol() would do with a name and position.

    status: FOUND, NOT_FOUND, AMBIGUOUS, PAST_END or ADDRESS_ZERO
    occurrence: Occurrence | None: the symbol it resolves to (FOUND,
        ADDRESS_ZERO)
    count: int: occurrences of the name in the object
    """

    __slots__ = ()


def klp_find(occurrences: list[Occurrence], pos: int) -> Lookup:
    """The rule of klp_find_object_symbol(), identical in 6.1, 6.12 and
    7.3: count the occurrences in order; pos 0 stops at the second one
    (ambiguous), pos n at the n-th.  The kernel then takes an address of
    0 for "not found"; a source without addresses cannot tell."""
    count = len(occurrences)
    if count == 0:
        return Lookup(NOT_FOUND, None, 0)
    if pos == 0 and count > 1:
        return Lookup(AMBIGUOUS, None, count)
    if pos > count:
        return Lookup(PAST_END, None, count)
    occ = occurrences[pos - 1 if pos else 0]
    if occ.addr == 0 and occ.section is None:
        return Lookup(ADDRESS_ZERO, occ, count)
    return Lookup(FOUND, occ, count)


class ObjectSymbols:
    """The symbols of one object in one source.  Subclasses implement
    _find() and all_names(); lookups are cached."""

    # True for module sources that also know the symbols kallsyms has
    # while the module loads (a .ko); False for a live dump.
    has_load_view = False

    def __init__(self, obj: str, source: str) -> None:
        self.obj = obj
        self.source = source
        self._cache: dict[str, list[Occurrence]] = {}

    def occurrences(self, name: str) -> list[Occurrence]:
        """The occurrences of @name in the order the kernel counts them
        (for a module: once it is live)."""
        found = self._cache.get(name)
        if found is None:
            found = self._cache[name] = self._find(name)
        return found

    def prefetch(self, names: set[str]) -> None:
        """Look up several names at once (a reader may do it in one
        pass)."""
        for name in names:
            self.occurrences(name)

    def load_occurrences(self, name: str) -> list[Occurrence]:
        """The occurrences while the module loads (MODULE_STATE_COMING);
        the live ones where the source cannot tell."""
        return self.occurrences(name)

    def has(self, name: str) -> bool:
        return bool(self.occurrences(name))

    def all_names(self) -> list[str]:
        raise NotImplementedError

    def names_blob(self) -> bytes:
        """Every name, one per line (for close-name searches)."""
        return "\n".join(self.all_names()).encode("utf-8", "surrogateescape")

    def _find(self, name: str) -> list[Occurrence]:
        raise NotImplementedError

    @property
    def addresses_known(self) -> bool:
        return True


class Source:
    """One --symbols argument: a path and the objects it covers."""

    kind = "?"

    def __init__(self, path: str) -> None:
        self.path = path

    def objects(self) -> list[str]:
        """Names of the objects this source covers (for a directory: the
        modules it holds)."""
        raise NotImplementedError

    def get(self, obj: str) -> ObjectSymbols | None:
        """The symbols of @obj, or None if this source does not cover it."""
        raise NotImplementedError

    def holders(self, names: set[str]) -> dict[str, list[str]]:
        """For each of @names, the objects of this source that have a
        symbol of that name (for "also in" hints)."""
        out: dict[str, list[str]] = {n: [] for n in names}
        for obj in self.objects():
            syms = self.get(obj)
            if syms is None:
                continue
            for name in names:
                if syms.has(name):
                    out[name].append(obj)
        return out


class Sources:
    """All --symbols sources, asked by object."""

    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources

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


def module_name(file_name: str) -> str:
    """The kernel's name of a module file: no directory, no .ko[.xz|...],
    '-' becomes '_'."""
    base = file_name.rsplit("/", 1)[-1]
    for ext in (".ko.xz", ".ko.gz", ".ko.zst", ".ko"):
        if base.endswith(ext):
            base = base[:-len(ext)]
            break
    return base.replace("-", "_")
