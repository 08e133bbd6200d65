# SPDX-License-Identifier: GPL-2.0-only
"""scripts/livepatch runs on Python 3.9 (what a kernel builder may have),
while mypy.ini targets 3.10: the oldest the pinned mypy accepts.

Statically: every module of scripts/livepatch parses as Python 3.9
(ast feature_version: no match, no except*), and uses none of the
3.10+ constructs that parse but fail when run: an `X | Y` type evaluated
at run time (in an annotation without `from __future__ import
annotations`, or in isinstance() or an alias outside `if
TYPE_CHECKING:`), and 3.10+ library calls (zip(strict=), int.bit_count(),
itertools.pairwise, dataclass(slots=) ...).  The checker is tested on
snippets of each.

Dynamically, where a Python 3.9 interpreter is installed (pyenv's
included): every module imports, and the golden inputs convert to the
golden outputs byte for byte.
"""

from __future__ import annotations

import ast
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
LIVEPATCH = TOP / "scripts" / "livepatch"
GOLDEN = TOP / "tests" / "convert" / "golden"

# 3.10+ (and 3.11+) names, by module, that fail on 3.9 when used at run time
NEW_NAMES = {
    "itertools": {"pairwise"},
    "typing": {"TypeAlias", "ParamSpec", "Concatenate", "TypeGuard", "Self",
               "Never", "LiteralString", "assert_never", "assert_type",
               "reveal_type", "Required", "NotRequired", "TypeVarTuple",
               "Unpack", "dataclass_transform", "is_typeddict"},
    "types": {"NoneType", "EllipsisType", "NotImplementedType", "UnionType"},
    "contextlib": {"aclosing", "chdir"},
    "enum": {"StrEnum", "verify", "ReprEnum"},
    "math": {"cbrt", "exp2"},
    "operator": {"call"},
    "hashlib": {"file_digest"},
    "datetime": {"UTC"},
    "inspect": {"get_annotations"},
    "statistics": {"correlation", "covariance", "linear_regression"},
}
NEW_MODULES = {"tomllib", "wsgiref.types"}
NEW_BUILTINS = {"aiter", "anext", "ExceptionGroup", "BaseExceptionGroup",
                "EncodingWarning"}
NEW_METHODS = {"bit_count"}
# keyword arguments added in 3.10/3.11: function name -> keywords
NEW_KEYWORDS = {
    "zip": {"strict"},
    "dataclass": {"slots", "kw_only", "match_args"},
    "bisect": {"key"}, "bisect_left": {"key"}, "bisect_right": {"key"},
    "insort": {"key"}, "insort_left": {"key"}, "insort_right": {"key"},
    "glob": {"root_dir", "dir_fd"}, "iglob": {"root_dir", "dir_fd"},
}
TYPE_NAMES = {"None", "int", "str", "bytes", "bytearray", "float", "bool",
              "list", "dict", "tuple", "set", "frozenset", "object", "type"}


def sources() -> list[Path]:
    """Every Python file of scripts/livepatch: the modules and the
    scripts that say python in their first line."""
    out = sorted(LIVEPATCH.rglob("*.py"))
    for path in sorted(LIVEPATCH.rglob("*")):
        if path.is_file() and path.suffix == "" and \
                path.read_bytes()[:64].startswith(b"#!") and \
                b"python" in path.read_bytes().split(b"\n", 1)[0]:
            out.append(path)
    return out


def _typelike(node: ast.expr) -> bool:
    """An operand of | that is a type, not a number or a flag."""
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.Name):
        return node.id in TYPE_NAMES
    if isinstance(node, ast.Subscript):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _typelike(node.left) or _typelike(node.right)
    return False


def _union(node: ast.AST | None) -> bool:
    return node is not None and any(
        isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr)
        for n in ast.walk(node))


def _type_checking(node: ast.stmt) -> bool:
    """`if TYPE_CHECKING:` (or typing.TYPE_CHECKING): not run."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Finder(ast.NodeVisitor):
    """The 3.10+ constructs of one module that fail on 3.9 at run time."""

    def __init__(self, future: bool) -> None:
        self.future = future
        self.found: list[tuple[int, str]] = []

    def _add(self, node: ast.AST, what: str) -> None:
        self.found.append((getattr(node, "lineno", 0), what))

    def visit_If(self, node: ast.If) -> None:
        if _type_checking(node):
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)

    def _annotation(self, node: ast.expr | None) -> None:
        if not self.future and _union(node):
            self._add(node, "X | Y annotation without "
                      "'from __future__ import annotations'")

    def visit_arg(self, node: ast.arg) -> None:
        self._annotation(node.annotation)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._annotation(node.returns)
        for child in (node.args, *node.decorator_list, *node.body):
            self.visit(child)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._annotation(node.annotation)
        if node.value is not None:
            self.visit(node.value)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.BitOr) and \
                (_typelike(node.left) or _typelike(node.right)):
            self._add(node, "X | Y type evaluated at run time")
            return
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else \
            func.attr if isinstance(func, ast.Attribute) else ""
        for kw in node.keywords:
            if kw.arg in NEW_KEYWORDS.get(name, ()):
                self._add(node, f"{name}({kw.arg}=...)")
        if isinstance(func, ast.Attribute) and func.attr in NEW_METHODS:
            self._add(node, f".{func.attr}()")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in NEW_BUILTINS:
            self._add(node, node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        value = node.value
        if isinstance(value, ast.Name) and \
                node.attr in NEW_NAMES.get(value.id, ()):
            self._add(node, f"{value.id}.{node.attr}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module in NEW_MODULES:
            self._add(node, f"module {node.module}")
        new = NEW_NAMES.get(node.module or "", set())
        for alias in node.names:
            if alias.name in new:
                self._add(node, f"{node.module}.{alias.name}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name in NEW_MODULES:
                self._add(node, f"module {alias.name}")


def problems(source: str, name: str = "<snippet>") -> list[str]:
    """What in @source needs Python 3.10 or later."""
    try:
        tree = ast.parse(source, name, feature_version=(3, 9))
    except SyntaxError as exc:
        return [f"{name}:{exc.lineno}: not Python 3.9: {exc.msg}"]
    future = any(isinstance(n, ast.ImportFrom) and n.module == "__future__"
                 and any(a.name == "annotations" for a in n.names)
                 for n in tree.body)
    finder = _Finder(future)
    finder.visit(tree)
    return [f"{name}:{line}: {what}" for line, what in finder.found]


def test_sources_found():
    names = {p.name for p in sources()}
    assert {"klp-convert", "cli.py", "convert.py", "elf.py"} <= names


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(
    p.relative_to(LIVEPATCH)))
def test_python39_source(path):
    assert problems(path.read_text(), str(path.relative_to(TOP))) == []


@pytest.mark.parametrize("snippet", [
    "match x:\n    case 1:\n        pass\n",
    "try:\n    pass\nexcept* ValueError:\n    pass\n",
    "def f(x: int | None) -> None: ...\n",
    "def f() -> int | None: ...\n",
    "x: int | None = None\n",
    "from __future__ import annotations\nisinstance(1, int | str)\n",
    "from __future__ import annotations\nAlias = list[int] | None\n",
    "zip([1], [2], strict=True)\n",
    "(5).bit_count()\n",
    "from itertools import pairwise\n",
    "import itertools\nitertools.pairwise([1, 2])\n",
    "from dataclasses import dataclass\n@dataclass(slots=True)\nclass A:\n"
    "    x: int\n",
    "from typing import TypeAlias\n",
    "import tomllib\n",
    "anext(x)\n",
    "import bisect\nbisect.bisect([1], 1, key=abs)\n",
])
def test_checker_finds(snippet):
    assert problems(snippet)


@pytest.mark.parametrize("snippet", [
    "from __future__ import annotations\ndef f(x: int | None) -> str | None:"
    " ...\n",
    "from __future__ import annotations\nx: dict[str, int | None] = {}\n",
    "TYPE_CHECKING = False\nif TYPE_CHECKING:\n    from typing import "
    "TypeAlias\n    Found = tuple[int, str] | None\n",
    "SHF_ALLOC = 2\nSHF_WRITE = 1\nflags = SHF_ALLOC | SHF_WRITE\n",
    "flags = sec.sh_flags | 0x40\n",
    "zip([1], [2])\n",
    "(5).bit_length()\n",
])
def test_checker_allows(snippet):
    assert problems(snippet) == []


# -- a real Python 3.9, where there is one -------------------------------

def _python39() -> str | None:
    """A Python 3.9 interpreter: on PATH, Debian's, or pyenv's."""
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = [shutil.which("python3.9"), "/usr/bin/python3.9",
                  *sorted(glob.glob(os.path.join(root, "versions", "3.9*",
                                                 "bin", "python3.9")))]
    for exe in candidates:
        if not exe or not os.access(exe, os.X_OK):
            continue
        proc = subprocess.run([exe, "-c", "import sys; print(sys.version_info"
                               "[:2] == (3, 9))"], capture_output=True,
                              text=True)
        if proc.returncode == 0 and proc.stdout.strip() == "True":
            return exe
    return None


PY39 = _python39()
needs_py39 = pytest.mark.skipif(PY39 is None, reason="no Python 3.9 "
                                "interpreter installed (the static checks "
                                "above still run)")


@needs_py39
def test_python39_imports_every_module():
    assert PY39 is not None
    code = ("import importlib, pkgutil, sys; sys.path.insert(0, sys.argv[1]);"
            "import klp_convert as k; [importlib.import_module(m.name) for m"
            " in pkgutil.walk_packages(k.__path__, 'klp_convert.')]")
    proc = subprocess.run([PY39, "-X", "dev", "-W", "error", "-c", code,
                           str(LIVEPATCH)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _golden() -> list[str]:
    manifest = json.loads((GOLDEN / "MANIFEST.json").read_text())
    return sorted(k for k, e in manifest.items() if "file" in e and
                  e["mode"] in ("convert", "list", "strip", "weaken"))


@needs_py39
@pytest.mark.parametrize("output", _golden())
def test_python39_converts_like_golden(output, tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "make_golden_py39", GOLDEN / "make_golden.py")
    assert spec is not None and spec.loader is not None
    make_golden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_golden)
    entry = json.loads((GOLDEN / "MANIFEST.json").read_text())[output]
    monkeypatch.setattr(sys, "executable", PY39)    # run_mode's interpreter
    data = make_golden.run_mode(LIVEPATCH / "klp-convert", entry["mode"],
                                make_golden.input_bytes(entry["input"]),
                                tmp_path)
    assert data == (GOLDEN / entry["file"]).read_bytes()
