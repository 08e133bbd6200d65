# SPDX-License-Identifier: GPL-2.0-only
"""Collect the error messages the klp_convert package can produce.

The messages are read from the package's source with the ast module, so
nothing is imported or executed and a new check is found without anyone
updating a list. A message is the first argument of:

- an exception constructed in the package (a call of a name ending in
  ``Error`` or ``Exception``, raised or not), or
- a call of a function or method whose name says it reports an error
  or a warning (``error``, ``fail``, ``die``, ``fatal``, ``usage_error``,
  ``warning`` ...), or
- ``print(..., file=sys.stderr)``.

The first argument may be a string, an f-string, ``"..." % args``,
``"...".format(...)``, or a concatenation of those. Each message becomes a
Template: its constant parts, with the interpolated values as gaps.
Arguments that are plain variables carry no text and are skipped.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

REPORTER_NAMES = frozenset({
    "error", "fail", "die", "fatal", "usage_error", "_error", "_fail",
    "_die", "_fatal", "err", "_err", "abort", "_abort", "warning",
})

GAP = None  # marks an interpolated value in Template.parts


@dataclass(frozen=True)
class Template:
    parts: tuple  # str or GAP
    file: str
    line: int

    @property
    def text(self) -> str:
        """Human-readable form with <...> for every gap."""
        return "".join("<...>" if p is GAP else p for p in self.parts)

    @property
    def constant_text(self) -> str:
        return "".join(p for p in self.parts if p is not GAP)

    def regex(self) -> "re.Pattern[str]":
        """Match the message in documentation text: constant parts in
        order (whitespace-insensitive), anything in the gaps."""
        pieces: List[str] = []
        for part in self.parts:
            if part is GAP:
                if not pieces or pieces[-1] != r".+?":
                    pieces.append(r".+?")
                continue
            words = part.split()
            if not words:
                pieces.append(r"\s*")
                continue
            lead = r"\s*" if part[0].isspace() else ""
            trail = r"\s*" if part[-1].isspace() else ""
            pieces.append(lead + r"\s+".join(re.escape(w) for w in words)
                          + trail)
        # leading/trailing gaps are free: the documentation may write
        # <symbol> or nothing there, and leave out the punctuation that
        # separates the gap from the text ("{prog}: too many arguments")
        def free(piece: str) -> bool:
            return piece == r".+?" or not re.search(r"[A-Za-z0-9]",
                                                    piece.replace(r"\s", ""))
        lead = trail = False
        while pieces and free(pieces[0]):
            lead = lead or pieces[0] == r".+?"
            pieces.pop(0)
        while pieces and free(pieces[-1]):
            trail = trail or pieces[-1] == r".+?"
            pieces.pop()
        def variants(piece: str, first: bool, last: bool) -> str:
            alts = [piece]
            if first:
                alts.append(_trim_punct(piece, 0))
            if last:
                alts += [_trim_punct(a, -1) for a in list(alts)]
            alts = list(dict.fromkeys(alts))
            return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if pieces:
            if len(pieces) == 1:
                pieces[0] = variants(pieces[0], lead, trail)
            else:
                pieces[0] = variants(pieces[0], lead, False)
                pieces[-1] = variants(pieces[-1], False, trail)
        return re.compile("".join(pieces), re.DOTALL)


def _trim_punct(pattern: str, end: int) -> str:
    """Drop the escaped punctuation and spaces at one end of a piece."""
    token = r"(?:\\[^A-Za-z0-9]|\\s[*+]|[^A-Za-z0-9\\])"
    if end == 0:
        return re.sub(r"^" + token + "+", "", pattern) or pattern
    return re.sub(token + r"+$", "", pattern) or pattern


_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
_BRACES = re.compile(r"\{[^{}]*\}")


def _split_format(text: str, pattern: "re.Pattern[str]") -> list:
    parts: list = []
    pos = 0
    for m in pattern.finditer(text):
        if m.group(0) == "%%":
            continue
        parts.append(text[pos:m.start()])
        parts.append(GAP)
        pos = m.end()
    parts.append(text[pos:])
    return [p.replace("%%", "%") if isinstance(p, str) else p for p in parts]


def _parts(node: ast.AST) -> Optional[list]:
    """Message parts of an expression, None if it holds no literal text."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        out: list = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                out.append(value.value)
            else:
                out.append(GAP)
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        left = node.left
        if isinstance(left, ast.Constant) and isinstance(left.value, str):
            return _split_format(left.value, _PERCENT)
        return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _parts(node.left), _parts(node.right)
        if left is None and right is None:
            return None
        return (left or [GAP]) + (right or [GAP])
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
            and isinstance(node.func.value.value, str)):
        return _split_format(node.func.value.value, _BRACES)
    return None


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _is_message_call(name: str) -> bool:
    return (name.endswith("Error") or name.endswith("Exception")
            or name in REPORTER_NAMES)


def _is_stderr_print(node: ast.Call) -> bool:
    """print(..., file=sys.stderr): a message the command line prints."""
    if _call_name(node) != "print":
        return False
    for kw in node.keywords:
        if kw.arg == "file" and isinstance(kw.value, ast.Attribute) \
                and kw.value.attr == "stderr":
            return True
    return False


def _normalise(parts: Sequence) -> tuple:
    merged: list = []
    for part in parts:
        if part is GAP:
            if not merged or merged[-1] is not GAP:
                merged.append(GAP)
        elif part:
            if merged and merged[-1] is not GAP:
                merged[-1] += part
            else:
                merged.append(part)
    return tuple(merged)


def templates_in_source(source: str, filename: str = "<string>") -> List[Template]:
    tree = ast.parse(source, filename=filename)
    found: List[Template] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        if not (_is_message_call(_call_name(node)) or _is_stderr_print(node)):
            continue
        parts = _parts(node.args[0])
        if parts is None:
            continue
        norm = _normalise(parts)
        # a message must say something beyond punctuation
        if not re.search(r"[A-Za-z]{2,}", "".join(p for p in norm if p is not GAP)):
            continue
        found.append(Template(norm, filename, node.lineno))
    return found


def package_templates(package_dir: Path) -> List[Template]:
    out: List[Template] = []
    seen = set()
    for path in sorted(package_dir.rglob("*.py")):
        for tmpl in templates_in_source(path.read_text(encoding="utf-8"),
                                        str(path)):
            if tmpl.parts not in seen:
                seen.add(tmpl.parts)
                out.append(tmpl)
    return out


def undocumented(templates: Iterable[Template], doc_text: str) -> List[Template]:
    return [t for t in templates if not t.regex().search(doc_text)]


HELP_KEYWORDS = frozenset({"help", "description", "epilog", "metavar",
                           "usage", "prog"})


def long_literals(source: str, filename: str = "<string>",
                  min_words: int = 5) -> List[Template]:
    """Every string literal of @min_words words or more that is not a
    docstring or argparse help: the pieces messages are made of, including
    reasons kept in tables (``(name, why)``) and module constants."""
    tree = ast.parse(source, filename=filename)
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef,
                             ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.keyword) and node.arg in HELP_KEYWORDS:
            skip.update(id(n) for n in ast.walk(node.value))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in skip
                and len(node.value.split()) >= min_words):
            found.append(Template((GAP, node.value, GAP), filename, node.lineno))
    return found


def package_literals(package_dir: Path) -> List[Template]:
    out: List[Template] = []
    for path in sorted(package_dir.rglob("*.py")):
        out += long_literals(path.read_text(encoding="utf-8"), str(path))
    return out
