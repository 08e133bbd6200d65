# SPDX-License-Identifier: GPL-2.0-only
"""contrib/series/gen-patch-series: the upstream patch series.

The fast test runs the generator on a small kernel-like git tree made of
the files of Debian's linux-source-6.1 the series touches (its real
MAINTAINERS, Kbuild makefiles, livepatch docs, samples and selftests, and
checkpatch.pl), checks the result with that checkpatch, and applies the
series with git am. The slow test does the same on the whole source tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

TOP = Path(__file__).resolve().parents[2]
SCRIPT = TOP / "contrib" / "series" / "gen-patch-series"
TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
PREFIX = "linux-source-6.1"
MINI_MEMBERS = [
    "MAINTAINERS", "Makefile", "COPYING", "scripts/*",
    "Documentation/livepatch/*", "samples/livepatch/*",
    "tools/testing/selftests/livepatch/*", "tools/testing/selftests/lib.mk",
    "lib/livepatch/*",
]

SUBJECTS = {
    "tool": "livepatch: add klp-convert",
    "kbuild": "kbuild: convert livepatch modules",
    "sample": "livepatch/samples: add a sample",
    "selftests": "selftests/livepatch: add klp-convert tests",
    "docs": "docs: livepatch: document klp-convert",
}


sys.path.insert(0, str(SCRIPT.parent))

from klp_series import assemble, merge, plan  # noqa: E402
from klp_series import base as basemod  # noqa: E402
from klp_series.project import Project  # noqa: E402


def series_plan(ksrc: Path):
    """What the generator plans for @ksrc: project, patches, files, sources."""
    base = basemod.detect(ksrc)
    layout = basemod.layout(base)
    src = plan.sources(layout)
    project = Project("HEAD")
    hook = next((h for h in base.generation.hooks if project.has(h)), None)
    patches = plan.series(layout, hook)
    return project, patches, plan.selected(project.files(), src), src


def git(cwd: Path, *args: str, env: Dict[str, str] = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, text=True,
                          stdout=subprocess.PIPE, env=env).stdout


def extract(dest: Path, members: List[str]) -> Path:
    if not TARBALL.exists():
        pytest.fail(f"{TARBALL} not installed (tests/run installs linux-source-6.1)")
    subprocess.run(["tar", "-xJf", str(TARBALL), "-C", str(dest),
                    "--wildcards", *[f"{PREFIX}/{m}" for m in members]],
                   check=True)
    return dest / PREFIX


@pytest.fixture(scope="module")
def mini_tree(tmp_path_factory, git_env) -> Path:
    root = extract(tmp_path_factory.mktemp("mini"), MINI_MEMBERS)
    git(root, "init", "-q", env=git_env)
    git(root, "add", "-A", ".", env=git_env)
    git(root, "commit", "-q", "-m", "linux-source-6.1 (subset)", env=git_env)
    return root


def expected_identity(env: Dict[str, str]) -> str:
    name = git(TOP, "config", "user.name", env=env).strip()
    email = git(TOP, "config", "user.email", env=env).strip()
    return f"{name} <{email}>"


def run_generator(ksrc: Path, out: Path, env: Dict[str, str],
                  *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "-o", str(out),
                           *extra, str(ksrc)],
                          text=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=1800)


def parts_present(ksrc: Path) -> List[str]:
    _project, patches, files, _src = series_plan(ksrc)
    keys = []
    for patch in patches:
        owned = [f for f in files if plan.owner(f, patches) == patch.key]
        if owned or patch.hook or patch.key == "tool":
            keys.append(patch.key)
    return keys


def check_series(ksrc: Path, out: Path, env: Dict[str, str],
                 proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stderr
    patches = sorted(out.glob("*.patch"))
    assert patches[0].name == "0000-cover-letter.patch"
    subjects = []
    for path in patches[1:]:
        text = path.read_text()
        m = re.search(r"^Subject: \[PATCH \d+/\d+\] (.*(?:\n .*)*)$", text,
                      re.MULTILINE)
        assert m, path.name
        subjects.append(" ".join(m.group(1).split()))
        # short enough for one Subject: line with the [PATCH n/m] prefix
        assert len(subjects[-1]) <= 62, subjects[-1]
        assert f"Signed-off-by: {expected_identity(env)}" in text, path.name
        # kernel-style: no line of the commit message over 75 columns
        message = text.split("\n\n", 1)[1].split("\n---\n", 1)[0]
        for line in message.splitlines():
            assert len(line) <= 75, f"{path.name}: {line}"
    keys = parts_present(ksrc)
    assert len(subjects) == len(keys)
    for subject, key in zip(subjects, keys):
        assert subject.startswith(SUBJECTS[key]), subject

    cover = patches[0].read_text()
    assert f"Based on Linux {basemod.detect(ksrc).release} (" in cover
    assert "*** SUBJECT HERE ***" not in cover
    assert "*** BLURB HERE ***" not in cover
    for heading in ("Why not klp-build?",
                    "over the v7 klp-convert series and the minimal one",
                    "Why Python?"):
        assert heading in cover
    # what the series is next to objtool's klp code depends on the base
    has_klp = basemod.detect(ksrc).has("objtool_klp")
    assert ("How does it interact with objtool klp post-link?" in cover) \
        == has_klp
    assert ("neither klp-build nor objtool" in cover) == (not has_klp)

    # every patch passes the tree's checkpatch --strict without errors
    for path in patches[1:]:
        res = subprocess.run(
            ["perl", str(ksrc / "scripts" / "checkpatch.pl"), "--strict",
             "--no-tree", "--color=never", str(path)],
            cwd=ksrc, text=True, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT)
        m = re.search(r"total: (\d+) errors", res.stdout)
        assert m and m.group(1) == "0", res.stdout

    # the series applies with git am on a fresh copy of the tree
    clone = out.parent / (out.name + "-am")
    if clone.exists():
        shutil.rmtree(clone)
    git(out.parent, "clone", "-q", "--shared", str(ksrc), str(clone), env=env)
    git(clone, "am", "-q", "--whitespace=error-all",
        *[str(p) for p in patches[1:]], env=env)
    log = git(clone, "log", "--format=%s", f"-{len(subjects)}", env=env)
    assert log.splitlines()[::-1] == subjects
    # the project's new files arrive byte for byte
    project, patches, files, src = series_plan(ksrc)
    by_key = {p.key: p for p in patches}
    for rel in files:
        key = plan.owner(rel, patches)
        if key is None:
            continue
        patch = by_key[key]
        target = patch.dest(rel)
        dest = clone / target
        assert dest.exists(), rel
        if not (ksrc / target).exists():
            want = assemble.transform(target, project.blob(rel), patch, src)
            assert dest.read_bytes() == want, rel


def test_series_on_linux_6_1_subset(mini_tree, git_env, tmp_path) -> None:
    out = tmp_path / "series"
    proc = run_generator(mini_tree, out, git_env)
    check_series(mini_tree, out, git_env, proc)
    # the input tree is untouched
    assert git(mini_tree, "status", "--porcelain", env=git_env) == ""


def test_rerun_is_identical_but_for_dates(mini_tree, git_env, tmp_path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert run_generator(mini_tree, out, git_env, "-q").returncode == 0

    def strip(text: str) -> str:
        text = re.sub(r"^(From [0-9a-f]+|Date:|Message-Id:|In-Reply-To:|References:).*$",
                      "", text, flags=re.MULTILINE)
        return re.sub(r"^(index [0-9a-f]+\.\.[0-9a-f]+|From [0-9a-f]{40}).*$",
                      "", text, flags=re.MULTILINE)
    names = sorted(p.name for p in a.glob("*.patch"))
    assert names == sorted(p.name for p in b.glob("*.patch"))
    for name in names:
        assert strip((a / name).read_text()) == strip((b / name).read_text())


def test_usage_errors(tmp_path, git_env) -> None:
    proc = run_generator(tmp_path, tmp_path / "out", git_env)
    assert proc.returncode == 2
    assert "not a kernel source tree" in proc.stderr


def test_merge_toctree_inserts_after_module_elf_format() -> None:
    theirs = (".. toctree::\n    :maxdepth: 1\n\n    livepatch\n"
              "    module-elf-format\n    shadow-vars\n\n.. only::  html\n")
    ours = ".. toctree::\n    :maxdepth: 1\n\n    klp-convert\n    livepatch\n"
    merged = merge.merge_toctree(theirs, ours)
    assert merged.splitlines()[3:7] == [
        "    livepatch", "    module-elf-format", "    klp-convert",
        "    shadow-vars"]
    assert merge.merge_toctree(merged, ours) == merged


def test_merge_makefile_appends_and_extends() -> None:
    theirs = ("# SPDX-License-Identifier: GPL-2.0\n\nTEST_PROGS := \\\n"
              "\ttest-livepatch.sh \\\n\ttest-state.sh\n\n"
              "TEST_FILES := settings\n\ninclude ../lib.mk\n")
    ours = ("# SPDX-License-Identifier: GPL-2.0\nTEST_PROGS := test-livepatch.sh "
            "test-klp-convert.sh\nTEST_FILES := settings\n"
            "TEST_GEN_MODS_DIR := test_modules\ninclude ../lib.mk\n")
    merged = merge.merge_makefile(theirs, ours)
    assert "TEST_PROGS += test-klp-convert.sh\n" in merged
    assert "TEST_GEN_MODS_DIR := test_modules\n" in merged
    assert merged.rstrip().endswith("include ../lib.mk")
    assert merged.count("include ../lib.mk") == 1
    assert merge.merge_makefile(merged, ours) == merged


DEBIAN_CONFIG = Path("/usr/src/linux-config-6.1/config.amd64_none_amd64.xz")


@pytest.mark.slow
def test_series_on_full_linux_source_6_1(tmp_path, git_env) -> None:
    """The whole linux-source-6.1 tree (the shared pristine extraction of
    vmtest's environments, a git repository the generator clones):
    checkpatch from the tree, and with Debian's config the build check
    (olddefconfig, modules_prepare, make M=samples/livepatch and the
    selftest modules after every patch, with the host's gcc-12)."""
    import linux7
    root = Path(linux7.env.source_tree("bookworm"))
    assert linux7.pristine_clean(root), f"{root} was modified"
    out = tmp_path / "series"
    if not DEBIAN_CONFIG.exists():
        pytest.fail(f"{DEBIAN_CONFIG} missing: tests/run installs linux-config-6.1")
    proc = run_generator(root, out, git_env, "--build-check", "--config",
                         str(DEBIAN_CONFIG), "-j2",
                         "--workdir", str(tmp_path / "work"))
    builds = re.findall(r"^gen-patch-series: build: (\w+): M=(\S+), ",
                        proc.stderr, re.MULTILINE)
    assert builds and {ok for ok, _ in builds} == {"ok"}, proc.stderr
    # the 6.1 layout: the selftests in a suite of their own
    assert {t for _, t in builds} == {
        "samples/livepatch",
        "tools/testing/selftests/livepatch/klp-convert/test_modules"}, builds
    check_series(root, out, git_env, proc)
    assert linux7.pristine_clean(root)
    for tree in (tmp_path / "work", tmp_path / "series-am"):
        shutil.rmtree(tree)
