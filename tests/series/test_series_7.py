# SPDX-License-Identifier: GPL-2.0-only
"""The series on mainline 7.x, end to end, as CI runs it.

One run of gen-patch-series on the pristine linux-source-7.3 of
trixie-backports (vmtest_lib.env.source_tree(): one cached extraction,
a git repository nobody modifies) does all the work once:

- every patch is checked with that tree's checkpatch.pl --strict;
- the tree is configured once with the 7.3 kernel's own config and
  Module.symvers (olddefconfig, modules_prepare), and after every patch
  make M=samples/livepatch and make M=tools/testing/selftests/livepatch/
  test_modules run in the trixie chroot with the kernel's gcc-14, -j2;
- after the last patch the series' own selftests (mainline's
  functions.sh with the series' hunk, its test_modules built by its
  Kbuild with the hook the series adds) run in the 7.3 kernel under QEMU.

The test then applies the patches with git am to another clone of the
pristine tree and checks that after every patch the tree is the one the
generator built and tested (same git tree objects), so what was built
and booted is exactly what git am produces; and it reads the cover
letter for the figures of the run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

import linux7
from test_gen_patch_series import check_series, git, run_generator

from klp_series import base as basemod  # noqa: E402
from vmtest_lib import fetch, userland  # noqa: E402

pytestmark = pytest.mark.slow
SELFTESTS = "tools/testing/selftests/livepatch"
VMTEST = linux7.SELFTESTS / "vmtest"
PATCHES = 5


@pytest.fixture(scope="module")
def env7():
    try:
        return linux7.environ()
    except linux7.Missing as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def pristine() -> Path:
    try:
        tree = linux7.tree()
    except linux7.Missing as exc:
        pytest.fail(str(exc))
    assert linux7.pristine_clean(tree), f"{tree} was modified"
    return tree


def project_tests() -> List[str]:
    text = (linux7.SELFTESTS / "Makefile").read_text().replace("\\\n", " ")
    m = re.search(r"^TEST_PROGS\s*:?=\s*(.*)$", text, re.M)
    assert m
    return m.group(1).split()


def count_cases(tests: List[str]) -> int:
    """How many start_test calls the scripts make (a branch per kernel
    starts none of its own)."""
    return sum(len(re.findall(r"^start_test ",
                              (linux7.SELFTESTS / t).read_text(), re.M))
               for t in tests)


def generate(pristine: Path, env7, git_env, out: Path, work: Path):
    """gen-patch-series with every check, on the pristine tree."""
    fetch.apt_install(userland.PACKAGES)
    version = ".".join(str(v) for v in basemod.detect(pristine).version)
    assert env7.release.startswith(version), (env7.release, version)
    vmtest = f"{VMTEST} --suite {linux7.SUITE} --no-install"
    headers = Path(env7.headers)
    start = time.monotonic()
    proc = run_generator(
        pristine, out, git_env, "--build-check", "--config", env7.config,
        "--symvers", str(headers / "Module.symvers"), "-j2",
        # modules that load in Debian's kernel: its release string
        "--make-prefix",
        f"{vmtest} --run env LOCALVERSION={env7.release[len(version):]}",
        "--run-selftests",
        f"{vmtest} --selftests-dir {{dir}} --tests {{tests}}",
        "--workdir", str(work))
    sys.stderr.write(f"gen-patch-series on {version}: "
                     f"{time.monotonic() - start:.0f} s\n")
    return proc


def check_builds_and_selftests(stderr: str, work: Path, tests: List[str]) -> None:
    builds = re.findall(r"^gen-patch-series: build: (\w+): M=(\S+), (\d+) "
                        r"converted: ", stderr, re.M)
    targets = {"samples/livepatch", f"{SELFTESTS}/test_modules"}
    assert len(builds) == 2 * PATCHES, stderr
    assert {t for _, t, _ in builds} == targets
    assert {ok for ok, _, _ in builds} == {"ok"}, stderr
    # the sample and the three test livepatches went through klp-convert
    assert sum(int(n) for _, _, n in builds) == 4, builds
    ran = re.search(r"^gen-patch-series: selftests: ran (.*)$", stderr, re.M)
    assert ran, stderr
    assert f"--selftests-dir {work}/linux/{SELFTESTS} " in ran.group(1)
    assert ran.group(1).endswith("--tests " + " ".join(tests))
    assert re.search(rf"^gen-patch-series: selftests: {len(tests)} passed, "
                     r"0 failed, exit status 0 ", stderr, re.M), stderr


def check_cover(cover: str, release: str, tests: List[str]) -> None:
    assert re.search(r"^Based on Linux 7\.3\.\d+ \(linux-source-7\.3, git ",
                     cover, re.M)
    assert "Why not klp-build?" in cover
    assert "How does it interact with objtool klp post-link?" in cover
    counts = re.findall(r"^  0/(\d+)/(\d+)  (\S.*)$", cover, re.M)
    assert len(counts) == PATCHES, cover
    assert len(re.findall(r"^  ok +\d+  \S", cover, re.M)) == PATCHES, cover
    assert "FAILED" not in cover
    assert re.search(r"modules carry \d+ livepatch relocations", cover)
    want = (f"--selftests-dir {{dir}} --tests {{tests}}' in {release}: "
            f"{len(tests)} scripts passed, 0 failed, {count_cases(tests)} test "
            "cases passed (passed")
    assert want in " ".join(cover.split()), cover
    assert re.search(r"with \S*gcc\S* \(Debian 14\.", " ".join(cover.split())), cover
    # no path of the machine that generated it
    assert str(linux7.TOP) not in cover and "/var/cache" not in cover
    # figures come from the run, not from the project's README
    assert "86 ms" not in cover and "4.6 times" not in cover


def check_checkpatch(pristine: Path, patches: List[Path]) -> None:
    """Every warning type is justified in its commit message; the
    selftests patch has none but the MAINTAINERS question."""
    for path in patches:
        res = subprocess.run(
            ["perl", str(pristine / "scripts/checkpatch.pl"), "--strict",
             "--no-tree", "--show-types", "--color=never", str(path)],
            capture_output=True, text=True)
        kinds = set(re.findall(r"^(?:WARNING|CHECK):([A-Z_]+):", res.stdout,
                               re.M))
        message = path.read_text().split("\n---\n", 1)[0]
        for kind in kinds:
            assert f"checkpatch --strict: {kind}" in message, (path.name, kind)
        if "selftests-livepatch" in path.name:
            assert kinds <= {"FILE_PATH_CHANGES"}, res.stdout


def check_same_trees(applied: Path, work: Path, pristine: Path) -> None:
    """git am gives, patch after patch, the trees that were built."""
    for k in range(PATCHES):
        ours = git(applied, "rev-parse", f"HEAD~{k}^{{tree}}")
        built = git(work / "linux", "rev-parse", f"HEAD~{k}^{{tree}}")
        assert ours == built, f"HEAD~{k}"
    base = git(applied, "rev-parse", f"HEAD~{PATCHES}")
    assert base == git(pristine, "rev-parse", "HEAD")
    # mainline's functions.sh, extended by the helpers: no second copy
    theirs = (pristine / SELFTESTS / "functions.sh").read_text()
    merged = (applied / SELFTESTS / "functions.sh").read_text()
    helpers = (linux7.SELFTESTS / "functions.sh").read_text()
    helpers = helpers[helpers.index("\n# klp-convert helpers\n") + 1:]
    assert merged == theirs.rstrip("\n") + "\n\n" + helpers


def test_series_on_linux_7(pristine, env7, git_env, tmp_path) -> None:
    out, work = tmp_path / "series", tmp_path / "work"
    tests = project_tests()
    proc = generate(pristine, env7, git_env, out, work)
    assert proc.returncode == 0, proc.stderr[-8000:]
    check_builds_and_selftests(proc.stderr, work, tests)
    # subjects, Signed-off-by, 0 checkpatch errors, git am on a clone of
    # the pristine tree, the project's files byte for byte
    check_series(pristine, out, git_env, proc)
    patches = sorted(out.glob("0*.patch"))[1:]
    check_checkpatch(pristine, patches)
    check_cover((out / "0000-cover-letter.patch").read_text(), env7.release,
                tests)
    check_same_trees(tmp_path / "series-am", work, pristine)
    for path in patches:
        text = path.read_text()
        for word in ("klp_reloc.h", "scripts/livepatch/include", "install-hook",
                     "kbuild-hook", "vmtest", "contrib/"):
            assert word not in text, (path.name, word)
    assert linux7.pristine_clean(pristine)
    # two clones of 1.8 GB each: kept only when the test fails
    for tree in (work, tmp_path / "series-am"):
        shutil.rmtree(tree)
