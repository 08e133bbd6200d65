# SPDX-License-Identifier: GPL-2.0-only
"""gen-patch-series' parts: base detection, the hook table, the layout per
base, the templates, and the mergers and edits for mainline's layout
(checked on the real files of the 7.x tree)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict

import pytest

import linux7
from klp_series import assemble, cover, edits, plan, templates
from klp_series import base as basemod
from klp_series.cli import find_hook
from klp_series.merge import append_block, merge_config, merge_lists
from klp_series.merge import logical_lines
from klp_series.proc import SeriesError, Tree
from klp_series.project import NEVER, Project

TOP = linux7.TOP
SELFTESTS = plan.SELFTESTS


def kernel_tree(root: Path, version: str, *features: str) -> Path:
    v, p, s = (version.split(".") + ["0"])[:3]
    root.mkdir(parents=True, exist_ok=True)
    (root / "Makefile").write_text(
        f"# SPDX-License-Identifier: GPL-2.0\nVERSION = {v}\nPATCHLEVEL = {p}\n"
        f"SUBLEVEL = {s}\nEXTRAVERSION =\nNAME = Test\n")
    for feat in features:
        path = root / basemod.FEATURES[feat]
        path.parent.mkdir(parents=True, exist_ok=True)
        if feat == "test_modules":
            path.mkdir()
        else:
            path.write_text("")
    return root


@pytest.fixture(scope="module")
def tree7() -> Path:
    try:
        return linux7.tree()
    except linux7.Missing as exc:
        pytest.fail(str(exc))


# ---------------------------------------------------------------- bases

@pytest.mark.parametrize("version,features,gen,layout", [
    ("6.1.192", (), "6.1", (False, False)),
    ("6.9.0", (), "6.1", (False, False)),
    ("6.12.117", ("test_modules",), "6.12", (False, True)),
    ("6.19.2", ("klp_build", "objtool_klp", "livepatch_external",
                "test_modules"), "6.12", (True, True)),
    ("7.0", ("test_modules",), "7", (False, True)),
    ("7.3.4", ("klp_build", "objtool_klp", "livepatch_external",
               "test_modules"), "7", (True, True)),
])
def test_detect(tmp_path, version, features, gen, layout) -> None:
    base = basemod.detect(kernel_tree(tmp_path / "k", version, *features))
    assert base.release == (version if version.count(".") == 2
                            else version + ".0")
    assert base.generation.name == gen
    assert set(base.features) == set(features)
    lay = basemod.layout(base)
    assert (lay.macros_in_livepatch_h, lay.selftests_in_place) == layout


def test_detect_refuses(tmp_path) -> None:
    with pytest.raises(SeriesError, match="older than 6.1"):
        basemod.detect(kernel_tree(tmp_path / "old", "5.15.1"))
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "Makefile").write_text("all:\n\techo\n")
    with pytest.raises(SeriesError, match="not a kernel Makefile"):
        basemod.detect(tmp_path / "x")


def test_detect_extraversion(tmp_path) -> None:
    root = kernel_tree(tmp_path / "k", "7.3.4")
    text = (root / "Makefile").read_text().replace("EXTRAVERSION =",
                                                   "EXTRAVERSION = -rc2")
    (root / "Makefile").write_text(text)
    assert basemod.detect(root).release == "7.3.4-rc2"


def test_detect_linux_7_3(tree7) -> None:
    base = basemod.detect(tree7)
    assert base.version[:2] >= (7, 0)
    assert base.generation.name == "7"
    assert set(base.features) == set(basemod.FEATURES)


class FakeProject:
    commit = "0123456789abcdef"

    def __init__(self, *files: str) -> None:
        self.files = set(files)

    def has(self, path: str) -> bool:
        return path in self.files


def test_hook_table(tmp_path) -> None:
    b61 = basemod.detect(kernel_tree(tmp_path / "a", "6.1.192"))
    b612 = basemod.detect(kernel_tree(tmp_path / "c", "6.12.117"))
    b73 = basemod.detect(kernel_tree(tmp_path / "b", "7.3.4"))
    hooks = FakeProject("scripts/kbuild-hook/kbuild-6.1.patch",
                        "scripts/kbuild-hook/kbuild-6.12.patch",
                        "scripts/kbuild-hook/kbuild-7.patch")
    assert find_hook(b61, hooks) == "scripts/kbuild-hook/kbuild-6.1.patch"
    assert find_hook(b612, hooks) == "scripts/kbuild-hook/kbuild-6.12.patch"
    assert find_hook(b73, hooks) == "scripts/kbuild-hook/kbuild-7.patch"
    with pytest.raises(SeriesError,
                       match=r"Linux 7\.3\.4 .*kbuild-hook/kbuild-7\.patch"):
        find_hook(b73, FakeProject("scripts/kbuild-hook/kbuild-6.1.patch"))
    # the project has every hook the table names
    project = Project("HEAD")
    for gen in basemod.GENERATIONS:
        for hook in gen.hooks:
            assert project.has(hook), hook
    # every hook variant and install-hook are applied or left, never copied
    for path in ("scripts/kbuild-hook/install-hook",
                 *(h for g in basemod.GENERATIONS for h in g.hooks)):
        assert any(rx.search(path) for rx in NEVER), path


def test_project_never_sends() -> None:
    files = Project("HEAD").files()
    assert "scripts/livepatch/klp-convert" in files
    for path in files:
        assert not path.startswith(("contrib/", "scripts/kbuild-hook/")), path
        assert not re.match(r"tools/testing/selftests/livepatch/vmtest", path)


def test_mainline_layout_selection() -> None:
    files = Project("HEAD").files()
    old = plan.selected(files, plan.sources(basemod.Layout(False, False)))
    new = plan.selected(files, plan.sources(basemod.Layout(True, True)))
    assert old == files
    gone = set(files) - set(new)
    assert "scripts/livepatch/include/linux/klp_reloc.h" in gone
    assert not any(p.startswith(("scripts/livepatch/klp", "samples/"))
                   for p in gone)
    assert all(p.startswith(("scripts/livepatch/include/", SELFTESTS))
               for p in gone), gone


# ------------------------------------------------------------ templates

TEMPLATE_NAMES = {"tool", "macros-klp_reloc", "macros-livepatch_h", "kbuild",
                  "sample", "selftests-suite", "selftests", "docs", "cover",
                  "cover-klp-build", "cover-no-klp-build", "livepatch-h"}


def test_templates_all_used_and_kernel_style() -> None:
    assert {p.stem for p in templates.TEMPLATES.glob("*.txt")} == TEMPLATE_NAMES
    for layout in (basemod.Layout(False, False), basemod.Layout(True, True)):
        for patch in plan.series(layout, "scripts/kbuild-hook/kbuild-7.patch"):
            assert len(patch.subject) <= 62, patch.subject
            assert "{{" not in patch.body and "}}" not in patch.body
            for line in patch.body.splitlines():
                assert len(line) <= 75, line
    for klp_build in (False, True):
        subject, body = cover.cover_text(klp_build)
        assert subject.startswith("livepatch: ")
        assert "Why Python?" in body and "Why not klp-build?" in body
        assert ("objtool klp post-link" in body) == klp_build
        assert ("neither klp-build nor objtool" in body) == (not klp_build)
        for line in body.splitlines():
            assert len(line) <= 75, line


def test_template_placeholders_must_match() -> None:
    with pytest.raises(SeriesError, match="placeholders"):
        templates.render("tool", {})
    with pytest.raises(SeriesError, match="placeholders"):
        templates.render("kbuild", {"macros": "x"})


def test_layout_changes_commit_texts() -> None:
    old = plan.series(basemod.Layout(False, False), None)
    new = plan.series(basemod.Layout(True, True), None)
    assert "scripts/livepatch/include/linux/klp_reloc.h" in old[0].body
    assert "<linux/livepatch.h>" in new[0].body
    assert "klp_reloc.h" not in new[0].body
    assert "livepatch/klp-convert/" in old[3].body
    assert "test_modules/" in new[3].body


# Under GNU C `unix` and `linux` are predefined macros (1), and `unix` is
# also a module: a macro that hands its arguments to another macro before
# stringizing them would turn them into "1".  c11 has no `asm` keyword.
MACRO_NAMES = {
    "KLP_RELOC_SYMBOL_POS(demo, demo, counter, 2)":
        ".klp.sym.rela.demo.demo.counter,2",
    "KLP_RELOC_SYMBOL(unix, linux, unix)": ".klp.sym.rela.unix.linux.unix,0",
    "KLP_RELOC_SYMBOL(linux, unix, linux)": ".klp.sym.rela.linux.unix.linux,0",
    "KLP_RELOC_SYMBOL_POS(unix, linux, linux, 2)":
        ".klp.sym.rela.unix.linux.linux,2",
    "KLP_RELOC_SYMBOL_POS(linux, unix, unix, 3)":
        ".klp.sym.rela.linux.unix.unix,3",
}


def _symbols_of(tmp_path: Path, name: str, header: str, std: str) -> list:
    decls = "".join(f"extern int v{i} {macro};\n"
                    for i, macro in enumerate(MACRO_NAMES))
    uses = " + ".join(f"v{i}" for i in range(len(MACRO_NAMES)))
    src = tmp_path / f"{name}-{std}.c"
    src.write_text(f"{header}\n{decls}int f(void) {{ return {uses}; }}\n")
    obj = tmp_path / f"{name}-{std}.o"
    subprocess.run(["gcc", f"-std={std}", "-O2", "-c", str(src), "-o",
                    str(obj)], check=True)
    out = subprocess.run(["nm", str(obj)], check=True, capture_output=True,
                         text=True).stdout
    return sorted(re.findall(r"U (\S+)", out))


@pytest.mark.parametrize("std", ["gnu89", "gnu11", "c11"])
def test_livepatch_h_macros_expand_like_klp_reloc_h(tmp_path, std) -> None:
    klp_reloc = (TOP / "scripts/livepatch/include/linux/klp_reloc.h").read_text()
    mainline = '#define KLP_SYM_PREFIX ".klp.sym."\n' + \
        templates.snippet("livepatch-h")
    want = sorted(MACRO_NAMES.values())
    assert _symbols_of(tmp_path, "old", klp_reloc, std) == want
    assert _symbols_of(tmp_path, "new", mainline, std) == want


# ----------------------------------------------- edits and mergers on 7.x

def _git_tree(root: Path) -> Tree:
    env = ["-c", "user.name=T", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", *env, "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", *env, "-C", str(root), "commit", "-q", "-m",
                    "base"], check=True)
    return Tree(root)


def test_livepatch_h_edit_is_checkpatch_clean(tree7, tmp_path) -> None:
    root = tmp_path / "k"
    (root / "include/linux").mkdir(parents=True)
    shutil.copy(tree7 / edits.LIVEPATCH_H, root / edits.LIVEPATCH_H)
    tree = _git_tree(root)
    assert edits.livepatch_h_macros(root) == [edits.LIVEPATCH_H]
    assert edits.livepatch_h_macros(root) == []
    text = (root / edits.LIVEPATCH_H).read_text()
    assert text.index("#define KLP_RELOC_SYMBOL_POS(") < \
        text.index("#if IS_ENABLED(CONFIG_LIVEPATCH)")
    diff = tree.git("diff")
    proc = subprocess.run(
        ["perl", str(tree7 / "scripts/checkpatch.pl"), "--strict", "--no-tree",
         "--show-types", "--no-signoff", "-"], input=diff, text=True,
        capture_output=True)
    assert "total: 0 errors, 0 warnings, 0 checks" in proc.stdout, proc.stdout


def _project_text(path: str, layout: basemod.Layout, key: str) -> str:
    patch = next(p for p in plan.series(layout, None) if p.key == key)
    data = Project("HEAD").blob(path)
    return assemble.transform(patch.dest(path), data, patch,
                              plan.sources(layout)).decode()


def _assignments(text: str) -> Dict[str, list]:
    out: Dict[str, list] = {}
    for line in logical_lines(text):
        m = re.match(r"^([\w-]+)\s*[:+]?=\s*(.*)$", line)
        if m:
            out.setdefault(m.group(1), []).extend(m.group(2).split())
    return out


def test_merge_selftest_makefile_7(tree7) -> None:
    lay = basemod.Layout(True, True)
    theirs = (tree7 / SELFTESTS / "Makefile").read_text()
    ours = _project_text(SELFTESTS + "Makefile", lay, "selftests")
    merged = merge_lists("TEST_PROGS")(theirs, ours)
    progs = _assignments(merged)["TEST_PROGS"]
    assert progs[:len(_assignments(theirs)["TEST_PROGS"])] == \
        _assignments(theirs)["TEST_PROGS"]
    assert progs[-3:] == ["test-klp-convert.sh", "test-klp-convert-sections.sh",
                          "test-klp-convert-keys.sh"]
    assert _assignments(merged)["TEST_FILES"] == ["settings"]
    assert merged.rstrip().endswith("include ../lib.mk")
    assert merge_lists("TEST_PROGS")(merged, ours) == merged


def test_merge_test_modules_makefile_7(tree7) -> None:
    lay = basemod.Layout(True, True)
    theirs = (tree7 / SELFTESTS / "test_modules/Makefile").read_text()
    ours = _project_text(SELFTESTS + "test_modules/Makefile", lay, "selftests")
    assert "scripts/livepatch/include" not in ours
    merged = merge_lists("obj-m")(theirs, ours)
    objs = _assignments(merged)["obj-m"]
    assert objs == sorted(objs)
    assert "test_klp_convert1.o" in objs and "test_klp_syscall.o" in objs
    assert "test_klp_convert_mod-y := test_klp_convert_mod_a.o " \
        "test_klp_convert_mod_b.o" in merged
    assert merged.index("test_klp_convert_mod-y") < merged.index("modules:")
    assert merge_lists("obj-m")(merged, ours) == merged


def test_append_block_and_config() -> None:
    merge = append_block("# helpers")
    assert merge("a\n", "x\n# helpers\nf() {\n}\n") == "a\n\n# helpers\nf() {\n}\n"
    merged = merge("a\n", "x\n# helpers\nf() {\n}\n")
    assert merge(merged, "x\n# helpers\nf() {\n}\n") == merged
    with pytest.raises(SeriesError, match="no '# helpers' line"):
        merge("a\n", "x\n")
    assert merge_config("A=y\nB=y\n", "B=y\nC=y\n") == "A=y\nB=y\nC=y\n"
    assert merge_config("A=y\n", "A=y\n") == "A=y\n"


def test_mainline_sources_and_forbidden(tmp_path) -> None:
    lay = basemod.Layout(True, True)
    src = plan.sources(lay)
    sample = _project_text("samples/livepatch/livepatch-klp-convert.c", lay,
                           "sample")
    assert "klp_reloc.h" not in sample and "<linux/livepatch.h>" in sample
    make = _project_text("samples/livepatch/Makefile", lay, "sample")
    assert "scripts/livepatch/include" not in make
    assert "livepatch-klp-convert.o" in make
    root = tmp_path / "t"
    root.mkdir()
    (root / "a.rst").write_text("fine\n  ccflags-y += -I$(srctree)/scripts/"
                                "livepatch/include\n")
    with pytest.raises(SeriesError, match=r"a\.rst:2: 'scripts/livepatch/include'"):
        assemble.check_forbidden(Tree(root), ["a.rst"], src)
    assemble.check_forbidden(Tree(root), ["a.rst"], plan.sources(
        basemod.Layout(False, False)))


# ---------------------------------------------------------------- shape

PACKAGE = TOP / "contrib" / "series" / "klp_series"


def test_mypy_strict() -> None:
    """The generator type-checks with mypy --strict (mypy comes from
    requirements-dev.txt)."""
    try:
        from mypy import api
    except ImportError:
        pytest.fail("mypy is not installed: requirements-dev.txt must list it")
    out, err, status = api.run(["--strict", "--no-incremental",
                                str(PACKAGE), str(PACKAGE.parent / "gen-patch-series")])
    assert status == 0, out + err


def test_no_long_functions() -> None:
    import ast
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                length = node.end_lineno - node.lineno + 1
                assert length <= 60, f"{path.name}: {node.name}: {length} lines"


def test_file_path_changes_justified_per_base(tmp_path) -> None:
    b61 = basemod.detect(kernel_tree(tmp_path / "a", "6.1.192"))
    b73 = basemod.detect(kernel_tree(tmp_path / "b", "7.3.4", "klp_build",
                                     "livepatch_external", "test_modules"))
    assert not basemod.layout(b61).listed_in_maintainers
    assert basemod.layout(b73).listed_in_maintainers
    for patch in plan.series(basemod.layout(b73), None):
        assert "already lists" in patch.justifications["FILE_PATH_CHANGES"]
    for patch in plan.series(basemod.layout(b61), None):
        assert "FILE_PATH_CHANGES" not in patch.justifications


def test_marked_rst_blocks() -> None:
    text = ("a\n\n.. klp_reloc.h begin\n\nold kernels: klp_reloc.h\n\n"
            ".. klp_reloc.h end\n\nb\n\n.. klp-convert project begin\n\n"
            "install-hook\n\n.. klp-convert project end\n\nc\n")
    keep = assemble.marked_blocks(text, drop=())
    assert keep == "a\n\nold kernels: klp_reloc.h\n\nb\n\ninstall-hook\n\nc\n"
    assert assemble.marked_blocks(text, drop=plan.BLOCKS) == "a\n\nb\n\nc\n"
    # a block at the end of the file leaves no blank line at its end
    # (git am --whitespace=error-all refuses one)
    tail = "a\n\n.. klp-convert project begin\n\nvmtest\n\n.. klp-convert project end\n"
    assert assemble.marked_blocks(tail, drop=plan.BLOCKS) == "a\n"
    assert assemble.marked_blocks(tail, drop=()) == "a\n\nvmtest\n"
    with pytest.raises(SeriesError, match="without"):
        assemble.marked_blocks("x\n.. klp_reloc.h begin\n", drop=())
    with pytest.raises(SeriesError, match="unbalanced"):
        assemble.marked_blocks("x\n.. klp_reloc.h end\n", drop=())
    with pytest.raises(SeriesError, match="unbalanced"):
        assemble.marked_blocks(".. klp_reloc.h begin\n"
                               ".. klp-convert project end\n", drop=())
    old = plan.series(basemod.Layout(False, False), None)
    new = plan.series(basemod.Layout(True, True), None)
    rst = "Documentation/livepatch/klp-convert.rst"
    data = text.encode()
    # 6.1: the klp_reloc.h blocks stay, the project's own go
    on_old = assemble.transform(rst, data, old[4],
                                plan.sources(basemod.Layout(False, False)))
    assert b"klp_reloc.h begin" not in on_old and b"old kernels" in on_old
    assert b"install-hook" not in on_old
    on_new = assemble.transform(rst, data, new[4],
                                plan.sources(basemod.Layout(True, True)))
    assert b"old kernels" not in on_new and b"install-hook" not in on_new
