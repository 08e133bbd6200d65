# SPDX-License-Identifier: GPL-2.0-only
"""scripts/kbuild-hook/install-hook on the Kbuild Makefiles of every
supported kernel: each generation's patch applies exactly to its own
kernel and to no other, a patch that would need fuzz is refused, and a
refusal leaves the tree as it was."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from kbuild_support import INSTALL_HOOK, SUITES, TOP, environment

MAKEFILES = ("Makefile.modpost", "Makefile.modfinal", "Makefile.modinst")
GENERATION = {"6.1": "6.1", "6.12": "6.12", "7.2": "7", "7.3": "7"}


def kbuild_scripts(suite: str) -> tuple[str, Path]:
    """(series, the scripts/ directory of the kernel's Debian kbuild)."""
    e = environment(suite)
    return e.series, (Path(e.headers) / "scripts").resolve()


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path]]:
    """Per suite: (series, a tree holding only the kbuild's three Makefiles)."""
    out = {}
    for suite in SUITES:
        series, scripts = kbuild_scripts(suite)
        d = tmp_path_factory.mktemp(f"tree-{suite}")
        (d / "scripts").mkdir()
        for name in MAKEFILES:
            shutil.copy(scripts / name, d / "scripts" / name)
        out[suite] = (series, d)
    return out


def fresh(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


def digest(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(d.rglob("*")) if p.is_file()}


def install(d: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(INSTALL_HOOK), *args, str(d)],
                          capture_output=True, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("suite", SUITES)
def test_own_generation_applies_exactly(trees, suite: str, tmp_path: Path) -> None:
    series, src = trees[suite]
    d = fresh(src, tmp_path / "t")
    r = install(d, "--kernel-version", series)
    assert r.returncode == 0, r.stderr
    assert f"(Kbuild {GENERATION[series]})" in r.stdout
    assert (d / "scripts" / "livepatch" / "Makefile.klp").is_file()
    assert not list((d / "scripts" / "livepatch").rglob("__pycache__"))
    for name in MAKEFILES:
        text = (d / "scripts" / name).read_text()
        assert "include $(srctree)/scripts/livepatch/Makefile.klp" in text
    assert "$(cmd_klp_weaken)" in (d / "scripts" / "Makefile.modpost").read_text()
    assert "$(klp-finish)" in (d / "scripts" / "Makefile.modfinal").read_text()
    assert "$(klp-strip)" in (d / "scripts" / "Makefile.modinst").read_text()
    assert not list(d.rglob("*.orig")) and not list(d.rglob("*.rej"))
    # twice: refused, nothing changed
    before = digest(d)
    r = install(d, "--kernel-version", series)
    assert r.returncode == 1 and "already installed" in r.stderr, r.stderr
    assert digest(d) == before


@pytest.mark.slow
@pytest.mark.parametrize("suite", SUITES)
def test_other_generations_are_refused(trees, suite: str, tmp_path: Path) -> None:
    """Claiming another kernel's version selects another generation's
    patch: it must not apply, and the refusal names the version."""
    series, src = trees[suite]
    for other in sorted(set(GENERATION) - {series}):
        if GENERATION[other] == GENERATION[series]:
            continue
        d = fresh(src, tmp_path / f"t-{other}")
        before = digest(d)
        r = install(d, "--kernel-version", other)
        assert r.returncode == 1, (other, r.stdout, r.stderr)
        assert f"does not apply to Linux {other}" in r.stderr and "without fuzz" in r.stderr
        assert digest(d) == before


@pytest.mark.slow
def test_fuzz_is_refused(trees, tmp_path: Path) -> None:
    """The outermost context line of a hunk differs: patch would apply it
    with fuzz (at a possibly wrong place); install-hook refuses."""
    series, src = trees["trixie-backports"]
    d = fresh(src, tmp_path / "t")
    modfinal = d / "scripts" / "Makefile.modfinal"
    text = modfinal.read_text()
    line = "include $(srctree)/scripts/Kbuild.include\n"
    assert text.count(line) == 1
    modfinal.write_text(text.replace(line, "include $(srctree)/scripts/Kbuild.include # !\n"))
    fuzzy = subprocess.run(["patch", "-p1", "--dry-run", "-d", str(d)],
                           stdin=open(TOP / "scripts" / "kbuild-hook" / "kbuild-7.patch"),
                           capture_output=True, text=True)
    assert fuzzy.returncode == 0 and "fuzz" in fuzzy.stdout, fuzzy.stdout
    before = digest(d)
    r = install(d, "--kernel-version", series)
    assert r.returncode == 1 and "without fuzz" in r.stderr, r.stderr
    assert digest(d) == before


@pytest.mark.slow
def test_untested_version_gets_the_one_generation_that_applies(trees,
                                                             tmp_path: Path) -> None:
    series, src = trees["trixie"]
    d = fresh(src, tmp_path / "t")
    (d / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 13\nSUBLEVEL = 0\n")
    r = install(d)
    assert r.returncode == 0, r.stderr
    assert "Linux 6.13.0 is not among the tested kernels" in r.stderr
    assert "(Kbuild 6.12)" in r.stdout


@pytest.mark.slow
def test_untested_version_without_a_matching_generation(trees, tmp_path: Path) -> None:
    series, src = trees["bookworm"]
    d = fresh(src, tmp_path / "t")
    mp = d / "scripts" / "Makefile.modpost"
    mp.write_text(mp.read_text().replace("MODPOST = scripts/mod/modpost\n",
                                         "MODPOST = scripts/mod/modpost2\n"))
    before = digest(d)
    r = install(d, "--kernel-version", "5.15")
    assert r.returncode == 1, r.stdout
    assert "no Kbuild hook for Linux 5.15" in r.stderr
    assert digest(d) == before


def test_usage_errors(tmp_path: Path) -> None:
    assert install(tmp_path, "--bogus").returncode == 2
    r = install(tmp_path)
    assert r.returncode == 1 and "not a kernel tree" in r.stderr
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "Makefile.modpost").write_text("")
    r = install(tmp_path)
    assert r.returncode == 1 and "--kernel-version" in r.stderr
    r = install(tmp_path, "--kernel-version", "seven")
    assert r.returncode == 1 and "is not X.Y" in r.stderr


@pytest.mark.slow
def test_dry_run_changes_nothing(trees, tmp_path: Path) -> None:
    series, src = trees["sid"]
    d = fresh(src, tmp_path / "t")
    before = digest(d)
    r = install(d, "--dry-run", "--kernel-version", series)
    assert r.returncode == 0 and "kbuild-7.patch applies to Linux" in r.stdout
    assert digest(d) == before
