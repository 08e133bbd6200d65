# SPDX-License-Identifier: GPL-2.0-only
"""The converter package's shape: its modules import each other as a
staircase, with no cycle, counting the imports inside functions (the
deferred ones that keep start-up fast) and those under TYPE_CHECKING;
and no function is much longer than a screen."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
PACKAGE = TOP / "scripts" / "livepatch" / "klp_convert"
MAX_FUNCTION_LINES = 60


def module_name(path: Path, package: Path = PACKAGE) -> str:
    rel = path.relative_to(package.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module of a (relative) from-import."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base.pop()
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(source: str, importer: str, is_package: bool,
            known: set[str]) -> set[str]:
    """The package's modules that @source imports, anywhere in it."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = _resolve(importer, is_package, node)
            out.add(mod)
            # "from . import x" / "from .checks import module": submodules
            out.update(f"{mod}.{a.name}" for a in node.names)
    return {m for m in out if m in known and m != importer}


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    files = {module_name(p, package): p for p in package.rglob("*.py")}
    known = set(files)
    return {name: imports(path.read_text(), name,
                          path.name == "__init__.py", known)
            for name, path in files.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}          # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_graph_is_read():
    edges = graph()
    assert "klp_convert.elf" in edges["klp_convert.convert"]
    assert "klp_convert.checks.relocations" in edges["klp_convert.convert"]
    # a deferred import, inside a function
    assert "klp_convert.finished" in edges["klp_convert.cli"]


def test_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("files, cycle", [
    ({"a.py": "from . import b\n", "b.py": "def f():\n    from .a import x\n"},
     True),
    ({"a.py": "from .b import y\n", "b.py": "from .c import z\n",
      "c.py": "TYPE_CHECKING = False\nif TYPE_CHECKING:\n"
              "    from . import a\n"},
     True),
    ({"a.py": "from . import b\n", "b.py": "import os\n"}, False),
])
def test_cycle_finder(tmp_path, files, cycle):
    pkg = tmp_path / "klp_convert"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name, text in files.items():
        (pkg / name).write_text(text)
    assert (find_cycle(graph(pkg)) is not None) == cycle


def test_functions_are_short():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(TOP)}:{node.lineno} "
                                f"{node.name}() {lines} lines")
    assert long == []
