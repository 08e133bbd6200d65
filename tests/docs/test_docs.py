# SPDX-License-Identifier: GPL-2.0-only
"""Documentation checks: every page builds, has its SPDX line, and
klp-convert.rst documents every error message the converter can print."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import messages  # noqa: E402
import rstcheck  # noqa: E402

TOP = HERE.parents[1]
DOCS = TOP / "Documentation" / "livepatch"
PACKAGE = TOP / "scripts" / "livepatch" / "klp_convert"
PAGES = sorted(DOCS.glob("*.rst"))


def test_pages_exist() -> None:
    names = {p.name for p in PAGES}
    assert {"index.rst", "klp-convert.rst", "klp-convert-format.rst"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_builds_without_warnings(page: Path) -> None:
    _, problems = rstcheck.build(page)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_spdx_first_line(page: Path) -> None:
    first = page.read_text(encoding="utf-8").splitlines()[0]
    assert first == ".. SPDX-License-Identifier: GPL-2.0"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_kernel_style(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n")
    for number, line in enumerate(text.splitlines(), 1):
        assert line == line.rstrip(), f"{page.name}:{number}: trailing space"


def test_toctree_lists_every_page() -> None:
    index = (DOCS / "index.rst").read_text(encoding="utf-8")
    tree = index.split(".. toctree::", 1)[1]
    entries = set(re.findall(r"^    ([\w-]+)\s*$", tree, re.MULTILINE))
    pages = {p.stem for p in PAGES} - {"index"}
    assert entries == pages


def _error_section() -> str:
    text = (DOCS / "klp-convert.rst").read_text(encoding="utf-8")
    start = text.index(".. ERRORS-BEGIN")
    end = text.index(".. ERRORS-END")
    return text[start:end]


def test_message_extractor_finds_every_form() -> None:
    source = '''
class KlpError(Exception):
    pass
def f(sym, sec, n):
    raise KlpError(f"{sec}: symbol {sym!r} is too long ({n} > 511)")
    raise KlpError("object name %s contains a dot" % sym)
    raise KlpError("bad sympos {} in {}".format(n, sym))
    raise ConvertError(sec + ": not SHF_ALLOC")
    err = FormatError("plain message")
    parser.error("--weaken takes object files")
    raise KlpError(message)
    raise KlpError(f"{sym}")
    print(f"{PROG}: {sym}: interrupted", file=sys.stderr)
    print(f"{PROG}: {sym}: converted", file=sys.stdout)
    out.append(warning(f"lp-obj {sym} is not declared"))
'''
    found = {t.text for t in messages.templates_in_source(source)}
    assert found == {
        "<...>: symbol <...> is too long (<...> > 511)",
        "object name <...> contains a dot",
        "bad sympos <...> in <...>",
        "<...>: not SHF_ALLOC",
        "plain message",
        "--weaken takes object files",
        "<...>: <...>: interrupted",
        "lp-obj <...> is not declared",
    }
    tmpl = next(t for t in messages.templates_in_source(source)
                if t.text.startswith("<...>: symbol"))
    assert tmpl.regex().search(
        "``<section>: symbol '<sym>' is too long\n  (<length> > 511)``")
    tmpl = next(t for t in messages.templates_in_source(source)
                if t.text.endswith("interrupted"))
    assert tmpl.regex().search("``interrupted``")


def test_every_converter_message_is_documented() -> None:
    if not any(PACKAGE.rglob("*.py")):
        pytest.fail("klp_convert package is missing")
    templates = messages.package_templates(PACKAGE)
    assert templates, "no messages found in the klp_convert sources"
    missing = messages.undocumented(templates, _error_section())
    assert not missing, "undocumented klp-convert messages:\n" + "\n".join(
        f"  {t.file}:{t.line}: {t.text}" for t in missing)


def test_every_message_fragment_is_documented() -> None:
    """Reasons kept in tables or constants (for example the refused
    relocation types of each architecture) and the command line's other
    output: every long string literal of the converter appears in
    klp-convert.rst."""
    if not any(PACKAGE.rglob("*.py")):
        pytest.fail("klp_convert package is missing")
    text = (DOCS / "klp-convert.rst").read_text(encoding="utf-8")
    missing = messages.undocumented(messages.package_literals(PACKAGE), text)
    assert not missing, "undocumented klp-convert text:\n" + "\n".join(
        f"  {t.file}:{t.line}: {t.constant_text!r}" for t in missing)


def test_documented_messages_exist() -> None:
    """No stale entries: every message listed in the error section still
    exists in the converter."""
    if not any(PACKAGE.rglob("*.py")):
        pytest.fail("klp_convert package is missing")
    templates = messages.package_templates(PACKAGE)
    section = _error_section()
    listed = re.findall(r"^``(.+?)``\s*$", section, re.MULTILINE)
    stale = []
    for entry in listed:
        if not any(t.regex().search(entry) for t in templates):
            stale.append(entry)
    assert not stale, "documented but not produced:\n" + "\n".join(stale)
