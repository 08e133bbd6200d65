# SPDX-License-Identifier: GPL-2.0-only
"""Build reStructuredText with plain docutils, the way the tests need it.

The kernel builds its documentation with Sphinx. Sphinx is not needed here:
the few Sphinx-only directives and roles the kernel uses are registered as
harmless stand-ins, so docutils parses every page and reports every other
warning or error.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import List, Tuple

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles

_registered = False


class _ContentDirective(Directive):
    """Accept any arguments, options and content; emit a literal block."""

    has_content = True
    optional_arguments = 10
    final_argument_whitespace = True
    option_spec = None  # type: ignore[assignment]

    def run(self) -> list:
        text = "\n".join(self.content)
        return [nodes.literal_block(text, text)] if text else []


class _OptionsDict(dict):
    """An option_spec that accepts every option name."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str):
        return directives.unchanged


class _AnyOptionsDirective(_ContentDirective):
    option_spec = _OptionsDict()  # type: ignore[assignment]


def _text_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [nodes.literal(rawtext, text)], []


SPHINX_DIRECTIVES = ("toctree", "kernel-doc", "code-block", "only",
                     "sourcecode", "highlight", "literalinclude", "c:function",
                     "c:type", "c:macro")
SPHINX_ROLES = ("doc", "ref", "c:func", "c:type", "c:macro", "manpage",
                "file", "envvar", "option", "command")


def register_sphinx_stubs() -> None:
    global _registered
    if _registered:
        return
    for name in SPHINX_DIRECTIVES:
        directives.register_directive(name, _AnyOptionsDirective)
    for name in SPHINX_ROLES:
        roles.register_local_role(name, _text_role)
    _registered = True


def build(path: Path) -> Tuple[nodes.document, List[str]]:
    """Parse one .rst file; return the doctree and every system message
    of level WARNING or above, as text."""
    register_sphinx_stubs()
    warnings = io.StringIO()
    doctree = publish_doctree(
        path.read_text(encoding="utf-8"),
        source_path=str(path),
        settings_overrides={
            "report_level": 2,       # warnings and up are reported
            "halt_level": 5,         # never raise: collect everything
            "warning_stream": warnings,
            "file_insertion_enabled": False,
            "raw_enabled": False,
        },
    )
    problems = [
        m.astext() for m in _findall(doctree, nodes.system_message)
        if m["level"] >= 2
    ]
    # Messages from transforms (unknown link targets, for example) only
    # reach the warning stream.
    for line in warnings.getvalue().splitlines():
        if "(WARNING/" in line or "(ERROR/" in line or "(SEVERE/" in line:
            if not any(line.split(") ", 1)[-1] in p for p in problems):
                problems.append(line)
    return doctree, problems


def _findall(tree: nodes.Node, cls: type) -> list:
    finder = getattr(tree, "findall", None) or tree.traverse
    return list(finder(cls))
