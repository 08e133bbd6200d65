# SPDX-License-Identifier: GPL-2.0-only
"""Merging a project file into a file the kernel tree already has.

A merger takes the kernel's text and the project's and returns the merged
text; merging twice changes nothing.  Which file gets which merger is
decided per patch (plan.py).
"""

from __future__ import annotations

import re
from typing import Callable, List, Optional, Set, Tuple

from .proc import SeriesError

Merger = Callable[[str, str], str]

_ASSIGN = re.compile(r"^([A-Za-z_][\w-]*)\s*([:+]?=)\s*(.*)$")
_ENTRY = re.compile(r"^( {3,})([\w./-]+)\s*$")


def merge_toctree(theirs: str, ours: str) -> str:
    """Add our toctree entries to the kernel's index.rst, after
    module-elf-format (or at the end of the toctree)."""
    def entries(text: str) -> List[str]:
        tree = text.split(".. toctree::", 1)[1]
        return re.findall(r"^ {3,}([\w./-]+)\s*$", tree, re.MULTILINE)
    have = entries(theirs)
    new = [e for e in entries(ours) if e not in have]
    if not new:
        return theirs
    lines = theirs.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines)
                 if line.startswith(".. toctree::"))
    indent, anchor, last = "    ", -1, start
    for i in range(start + 1, len(lines)):
        m = _ENTRY.match(lines[i])
        if m:
            indent, last = m.group(1), i
            if m.group(2) == "module-elf-format":
                anchor = i
        elif lines[i].strip() and not lines[i].startswith(" "):
            break
    at = (anchor if anchor >= 0 else last) + 1
    lines[at:at] = [f"{indent}{e}\n" for e in new]
    return "".join(lines)


def logical_lines(text: str) -> List[str]:
    """Make lines with backslash continuations joined."""
    out, cur = [], ""
    for line in text.splitlines():
        cur += line
        if line.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        out.append(cur)
        cur = ""
    if cur:
        out.append(cur)
    return out


def _items(var: str, lines: List[str]) -> List[str]:
    """The values assigned to @var, in order, each once."""
    found: List[str] = []
    for line in lines:
        m = _ASSIGN.match(line.strip())
        if m and m.group(1) == var:
            found += [w for w in m.group(3).split() if w not in found]
    return found


def _values(var: str, lines: List[str]) -> Set[str]:
    return set(_items(var, lines))


def _new_assignments(theirs: str, ours: str) -> List[str]:
    have = {" ".join(line.split()) for line in logical_lines(theirs)}
    defined = set(re.findall(r"^([A-Za-z_][\w-]*)\s*:?=", theirs, re.MULTILINE))
    added: List[str] = []
    for line in logical_lines(ours):
        norm = " ".join(line.split())
        if not norm or norm.startswith(("#", "include ")) or norm in have:
            continue
        m = _ASSIGN.match(norm)
        if m and m.group(2) != "+=" and m.group(1) in defined:
            old = _values(m.group(1), logical_lines(theirs) + added)
            items = [w for w in m.group(3).split() if w not in old]
            if not items:
                continue
            norm = f"{m.group(1)} += {' '.join(items)}"
        added.append(norm)
    return added


def merge_makefile(theirs: str, ours: str) -> str:
    """Append our Kbuild/kselftest assignments to the kernel's Makefile.

    Lines already present are skipped.  A 'VAR :=' or 'VAR =' list that the
    kernel Makefile already defines is extended with 'VAR +=' so existing
    entries stay; includes of lib.mk stay last."""
    added = _new_assignments(theirs, ours)
    if not added:
        return theirs
    lines = theirs.rstrip("\n").splitlines()
    tail: List[str] = []
    while lines and (lines[-1].startswith("include ") or not lines[-1].strip()):
        tail.insert(0, lines.pop())
    body = lines + [""] + added if lines and lines[-1].strip() else lines + added
    if tail:
        body += [""] + [t for t in tail if t.strip()]
    return "\n".join(body) + "\n"


def _list_block(lines: List[str], var: str) -> Optional[Tuple[int, int]]:
    """First and last physical line of the first assignment to @var."""
    for i, line in enumerate(lines):
        m = _ASSIGN.match(line)
        if m and m.group(1) == var:
            end = i
            while lines[end].endswith("\\") and end + 1 < len(lines):
                end += 1
            return i, end
    return None


def _rebuild_list(block: List[str], items: List[str]) -> List[str]:
    """@block (one item per continuation line) with @items in it."""
    head = block[0].rstrip("\\").rstrip()
    m = _ASSIGN.match(head)
    assert m is not None
    first = m.group(3).split()
    rest = [w for line in block[1:] for w in line.rstrip("\\").split()]
    indent = "\t"
    if len(block) > 1:
        indent = block[1][:len(block[1]) - len(block[1].lstrip())]
    old = first + rest
    merged = sorted(old + items) if old == sorted(old) else old + items
    prefix = head[:len(head) - len(m.group(3))].rstrip() + " "
    out = [prefix + merged[0]] if first else [prefix.rstrip()]
    out += [indent + w for w in (merged[1:] if first else merged)]
    return [line + " \\" for line in out[:-1]] + [out[-1]]


def merge_lists(*list_vars: str) -> Merger:
    """A merger that puts our items of @list_vars into the kernel's
    one-item-per-line lists, in order when the list is sorted, and adds
    our assignments of variables the kernel does not set after the last
    of those lists.  Everything else of ours is the kernel's business."""
    def merge(theirs: str, ours: str) -> str:
        lines = theirs.splitlines()
        have = {v: _values(v, logical_lines(theirs)) for v in list_vars}
        new_items = {v: [w for w in _items(v, logical_lines(ours))
                         if w not in have[v]] for v in list_vars}
        defined = {m.group(1) for m in map(_ASSIGN.match, logical_lines(theirs)) if m}
        extra = [" ".join(line.split()) for line in logical_lines(ours)
                 if (m := _ASSIGN.match(line)) and m.group(1) not in defined
                 and m.group(1) not in list_vars]
        after = 0
        for var in list_vars:
            span = _list_block(lines, var)
            if span is None:
                raise SeriesError(f"the kernel's file has no {var} list")
            start, end = span
            if new_items[var]:
                block = _rebuild_list(lines[start:end + 1], new_items[var])
                lines[start:end + 1] = block
                end = start + len(block) - 1
            after = max(after, end + 1)
        if extra:
            lines[after:after] = [""] + extra
        return "\n".join(lines) + "\n" if lines != theirs.splitlines() else theirs
    return merge


def append_block(marker: str) -> Merger:
    """A merger that appends the part of our file from the line @marker on
    (helpers the kernel's file lacks) to the kernel's file."""
    def merge(theirs: str, ours: str) -> str:
        at = ours.find(f"\n{marker}\n")
        if at < 0:
            raise SeriesError(f"the project's file has no '{marker}' line: the "
                              "part to add to the kernel's file must follow it")
        block = ours[at + 1:].rstrip("\n") + "\n"
        if block in theirs:
            return theirs
        return theirs.rstrip("\n") + "\n\n" + block
    return merge


def merge_config(theirs: str, ours: str) -> str:
    """A kselftest config fragment: the kernel's lines, then ours it lacks."""
    have = set(theirs.splitlines())
    new = [line for line in ours.splitlines() if line.strip() and line not in have]
    return theirs.rstrip("\n") + "\n" + "".join(f"{line}\n" for line in new) \
        if new else theirs
