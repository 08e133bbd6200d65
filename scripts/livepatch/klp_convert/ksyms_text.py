# SPDX-License-Identifier: GPL-2.0-only
"""Text symbol tables: a /proc/kallsyms dump and a System.map.

/proc/kallsyms (s_show() in kernel/kallsyms.c) prints

    <address> <type> <name>                   a vmlinux symbol
    <address> <type> <name>\t[<module>]       a module symbol

vmlinux first, in kallsyms order, then each live module in its own table
order, then pseudo-modules ([bpf], [__builtin__ftrace], ...).  Without the
right to see addresses (kptr_restrict, not root) every address is 0: the
order, which is what the position counts, is the same.

A System.map is `nm -n vmlinux` filtered by scripts/mksysmap, in address
order; scripts/kallsyms drops a few more symbols from it (absolute ones,
and in 6.1 some names that 6.2 moved into mksysmap), which is_kept()
repeats.

Nothing is parsed up front: a name is found with bytes.find() over the
object's lines, or, for many names at once, with one pass over the names
(see prefetch()).
"""

from __future__ import annotations

import re
from itertools import compress
from operator import itemgetter

from .ksyms import (VMLINUX, ObjectSymbols, Occurrence, Source,
                    SymbolSourceError)

# Pseudo-modules of /proc/kallsyms: not module symbol tables, never
# searched by klp_find_object_symbol().
PSEUDO_MODULES = frozenset({"bpf", "__builtin__ftrace", "__builtin__kprobes"})

# scripts/kallsyms.c is_ignored_symbol(): absolute symbols it keeps.
KEPT_ABSOLUTE = frozenset({"__kernel_syscall_via_break",
                           "__kernel_syscall_via_epc", "__kernel_sigtramp",
                           "__gp"})
# 6.1 is_ignored_symbol() names; 6.2 and later drop them in mksysmap.
IGNORED_NAMES = frozenset({
    "kallsyms_addresses", "kallsyms_offsets", "kallsyms_relative_base",
    "kallsyms_num_syms", "kallsyms_names", "kallsyms_markers",
    "kallsyms_token_table", "kallsyms_token_index", "kallsyms_seqs_of_names",
    "_SDA_BASE_", "_SDA2_BASE_"})
IGNORED_PREFIXES = ("__efistub_", "__kvm_nvhe_$", "__kvm_nvhe_.L",
                    "__AArch64ADRPThunk_", "__ARMV5PILongThunk_",
                    "__ARMV7PILongThunk_", "__ThumbV7PILongThunk_",
                    "__LA25Thunk_", "__microLA25Thunk_", "__kcfi_typeid_")
IGNORED_SUFFIXES = ("_from_arm", "_from_thumb", "_veneer")
IGNORED_INFIXES = (".long_branch.", ".plt_branch.")

# Above this many names, prefetch() reads every name of the object once
# instead of searching for each (about 2 ms per search in a 9 MB dump).
_MANY = 16

_LINE_NAME = re.compile(rb"^[^ \n]* [^ \n] ([^\t\n]*)", re.M)
# One match per line, even a malformed one.
_LINE_KEY = re.compile(rb"^(?:[^ \n]* [^ \n] )?([^\n]*)$", re.M)
_FIRST_LINE = re.compile(rb"[0-9a-fA-F]+ [^ \n] [^ \n]")
_NONZERO_ADDR = re.compile(rb"^0*[1-9a-fA-F][0-9a-fA-F]* ", re.M)


def kallsyms_ignores(name: str, typ: str) -> bool:
    """Whether scripts/kallsyms leaves a System.map symbol out (6.1's
    is_ignored_symbol(), a superset of later versions')."""
    if typ in "uUnN":
        return True
    if typ in "aA" and name not in KEPT_ABSOLUTE:
        return True
    return (name in IGNORED_NAMES or name.startswith(IGNORED_PREFIXES)
            or name.endswith(IGNORED_SUFFIXES)
            or any(s in name for s in IGNORED_INFIXES))


class _Block(ObjectSymbols):
    """The lines of one object in a text table: @text holds exactly those
    lines, in order, each ending in "\\n".  An occurrence's index is the
    offset of its line in @text (counting lines would cost a pass over
    the text per name)."""

    def __init__(self, obj: str, source: str, text: bytes, suffix: bytes,
                 hidden: bool, sysmap: bool) -> None:
        super().__init__(obj, source)
        self.text = text
        self.suffix = suffix            # b"\n" or b"\t[<module>]\n"
        self.hidden = hidden
        self.sysmap = sysmap
        self._split: tuple[list[bytes], list[bytes]] | None = None

    @property
    def addresses_known(self) -> bool:
        return not self.hidden

    def _occurrence(self, line: bytes, number: int) -> Occurrence | None:
        addr, _sp, rest = line.partition(b" ")
        typ, _sp, rest = rest.partition(b" ")
        name = rest.partition(b"\t")[0].decode("utf-8", "surrogateescape")
        t = typ.decode("ascii", "replace")
        if len(t) != 1 or t in "Uu" and not self.sysmap:
            return None         # livepatch modules list their undefined ones
        if self.sysmap and kallsyms_ignores(name, t):
            return None
        try:
            value = None if self.hidden else int(addr, 16)
        except ValueError:
            return None
        return Occurrence(name, value, None, t, None, number)

    def _find(self, name: str) -> list[Occurrence]:
        text = self.text
        pat = b" " + name.encode("utf-8", "surrogateescape") + self.suffix
        out: list[Occurrence] = []
        i = text.find(pat)
        while i >= 0:
            start = text.rfind(b"\n", 0, i) + 1
            head = text[start:i]
            if head.count(b" ") == 1:       # "<addr> <type>", nothing else
                line = text[start:i + len(pat) - 1]
                occ = self._occurrence(line, start)
                if occ is not None:
                    out.append(occ)
            i = text.find(pat, i + 1)
        return out

    def _lines(self) -> tuple[list[bytes], list[bytes]]:
        """Every line, and what follows "<address> <type> " on it (the
        name, then the module suffix), at C speed; cached."""
        if self._split is None:
            text = self.text
            lines = text.split(b"\n")
            width = text.find(b" ") + 3         # "<address> <type> "
            line = rb"[0-9a-fA-F]{%d} [^ \n] " % (width - 3)
            other = re.compile(rb"\n(?!" + line + rb")[^\n]")
            if width > 3 and re.match(line, text) and \
                    not other.search(text):
                keys = list(map(itemgetter(slice(width, None)), lines))
            else:       # addresses of different widths: slower
                keys = _LINE_KEY.findall(text)
            if len(keys) != len(lines):         # cannot happen; be safe
                keys = [ln.split(b" ", 2)[-1] for ln in lines]
            self._split = (lines, keys)
        return self._split

    def _starts(self, lines: list[bytes], hits: list[int]) -> list[int]:
        """Where the lines @hits (in order) start in text: each found by
        searching forward from the previous one, one pass in all (a line
        identical to a hit is a hit itself, so the order holds)."""
        out, end = [], 0
        for k in hits:
            if k == 0:
                start = 0
            else:
                start = self.text.find(b"\n" + lines[k] + b"\n",
                                       max(end - 1, 0)) + 1
            out.append(start)
            end = start + len(lines[k]) + 1
        return out

    def prefetch(self, names: set[str]) -> None:
        todo = [n for n in names if n not in self._cache]
        if len(todo) <= _MANY:
            super().prefetch(set(todo))
            return
        tail = self.suffix[:-1]
        wanted = {n.encode("utf-8", "surrogateescape") + tail: n for n in todo}
        lines, keys = self._lines()
        hits = list(compress(range(len(keys)), map(wanted.__contains__, keys)))
        for n in todo:
            self._cache[n] = []
        for k, start in zip(hits, self._starts(lines, hits)):
            occ = self._occurrence(lines[k], start)
            if occ is not None:
                self._cache[wanted[keys[k]]].append(occ)

    def all_names(self) -> list[str]:
        return [n.decode("utf-8", "surrogateescape")
                for n in _LINE_NAME.findall(self.text)]

    def names_blob(self) -> bytes:
        if self._split is not None and self.suffix == b"\n":
            return b"\n".join(self._split[1])
        return b"\n".join(_LINE_NAME.findall(self.text))

    def has(self, name: str) -> bool:
        if name in self._cache:
            return bool(self._cache[name])
        pat = b" " + name.encode("utf-8", "surrogateescape") + self.suffix
        return pat in self.text and bool(self.occurrences(name))


class TextSource(Source):
    """A /proc/kallsyms dump (vmlinux and module lines) or a System.map
    (vmlinux only)."""

    def __init__(self, path: str, data: bytes, sysmap: bool) -> None:
        super().__init__(path)
        self.kind = "System.map" if sysmap else "kallsyms"
        if data and not data.endswith(b"\n"):
            data += b"\n"
        self.sysmap = sysmap
        if not _FIRST_LINE.match(data):
            raise SymbolSourceError(
                f"no symbols: not a {self.kind} file (expected lines "
                "'<address> <type> <name>')", path)
        self.hidden = not _NONZERO_ADDR.search(data)
        self.blocks: dict[str, _Block] = {}
        if sysmap:
            self._add(VMLINUX, data, b"\n")
        elif not self._split_fast(data):
            self._split_slow(data)
        if not self.blocks:
            raise SymbolSourceError(
                f"no symbols: not a {self.kind} file (expected lines "
                "'<address> <type> <name>')", path)

    def _add(self, obj: str, text: bytes, suffix: bytes) -> None:
        if obj not in PSEUDO_MODULES:
            self.blocks[obj] = _Block(obj, self.path, text, suffix,
                                      self.hidden, self.sysmap)

    def _split_fast(self, data: bytes) -> bool:
        """/proc/kallsyms as the kernel prints it: the vmlinux lines, then
        each module's lines together.  False if the file is not shaped
        like that."""
        tab = data.find(b"\t")
        vm_end = len(data) if tab < 0 else data.rfind(b"\n", 0, tab) + 1
        if data.count(b"\n", vm_end) != data.count(b"\t[", vm_end):
            return False
        if vm_end:
            self._add(VMLINUX, data[:vm_end], b"\n")
        pos = vm_end
        while pos < len(data):
            eol = data.find(b"\n", pos)
            head = data[pos:eol]
            mod = head[head.rfind(b"\t[") + 2:-1]
            tail = b"\t[" + mod + b"]\n"
            end = data.rfind(tail, pos) + len(tail)
            seg = data[pos:end]
            obj = mod.decode("utf-8", "surrogateescape")
            if not mod or obj in self.blocks or \
                    seg.count(tail) != seg.count(b"\n"):
                self.blocks.clear()
                return False
            self._add(obj, seg, tail)
            pos = end
        return True

    def _split_slow(self, data: bytes) -> None:
        """Any other order (a filtered or concatenated dump): group the
        lines by object, keeping their order."""
        groups: dict[bytes, list[bytes]] = {}
        for line in data.split(b"\n")[:-1]:
            _name, tab, mod = line.partition(b"\t[")
            key = mod[:-1] if tab and mod.endswith(b"]") else b""
            groups.setdefault(key, []).append(line)
        for key, lines in groups.items():
            suffix = b"\t[" + key + b"]\n" if key else b"\n"
            obj = key.decode("utf-8", "surrogateescape") if key else VMLINUX
            self._add(obj, b"\n".join(lines) + b"\n", suffix)

    def objects(self) -> list[str]:
        return list(self.blocks)

    def get(self, obj: str) -> ObjectSymbols | None:
        return self.blocks.get(obj)
