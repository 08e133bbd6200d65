# SPDX-License-Identifier: GPL-2.0-only
"""scripts/kbuild-hook/install-hook on the Kbuild Makefiles of every
supported kernel: each generation's patch applies exactly to its own
kernel and to no other, a patch that would need fuzz is refused, and a
refusal leaves the tree as it was."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
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


def install(d: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(INSTALL_HOOK), *args, str(d)],
                          capture_output=True, text=True, env=env)


def tree(d: Path) -> dict[str, object]:
    """Every entry under @d: file contents, link targets, directories."""
    out: dict[str, object] = {}
    for p in sorted(d.rglob("*")):
        rel = str(p.relative_to(d))
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_file():
            out[rel] = hashlib.sha1(p.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


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


@pytest.mark.slow
def test_failed_copy_leaves_the_tree_unchanged(trees, tmp_path: Path) -> None:
    """scripts/livepatch cannot be made (a file is in the way; root
    ignores permission bits, so no read-only directory): the Makefiles are
    not patched and nothing is left behind."""
    series, src = trees["trixie-backports"]
    d = fresh(src, tmp_path / "t")
    (d / "scripts" / "livepatch").write_text("not a directory\n")
    before = tree(d)
    r = install(d, "--kernel-version", series)
    assert r.returncode == 1, r.stdout + r.stderr
    assert tree(d) == before
    assert "nothing was changed" in r.stderr, r.stderr


@pytest.mark.slow
def test_failed_patch_leaves_the_tree_unchanged(trees, tmp_path: Path) -> None:
    """patch fails after changing the Makefiles (an injected failure: a
    patch on PATH that applies for real, then exits 1): the Makefiles are
    restored, our scripts/livepatch entries removed, the kernel's own
    entries (7.x ships scripts/livepatch/klp-build) and one of ours that
    was there before are kept as they were."""
    series, src = trees["trixie-backports"]
    d = fresh(src, tmp_path / "t")
    lp = d / "scripts" / "livepatch"
    lp.mkdir()
    (lp / "klp-build").write_text("#!/bin/bash\n# the kernel's own\n")
    (lp / "Makefile.klp").write_text("# a stale copy\n")
    fake = tmp_path / "bin"
    fake.mkdir()
    real = shutil.which("patch")
    assert real
    (fake / "patch").write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --dry-run "*) exec %s "$@" ;; esac\n'
        '%s "$@"\n'
        'echo "patch: injected failure" >&2\n'
        "exit 1\n" % (real, real))
    (fake / "patch").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    before = tree(d)
    r = install(d, "--kernel-version", series, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert tree(d) == before
    assert "injected failure" in r.stderr and "nothing was changed" in r.stderr, r.stderr
    # the same tree without the injected failure: hooked, the kernel's
    # own entry kept, ours replaced
    r = install(d, "--kernel-version", series)
    assert r.returncode == 0, r.stderr
    assert (lp / "klp-build").read_text() == "#!/bin/bash\n# the kernel's own\n"
    assert (lp / "Makefile.klp").read_bytes() == \
        (TOP / "scripts" / "livepatch" / "Makefile.klp").read_bytes()
    assert [p.name for p in (d / "scripts").iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_signal_leaves_the_tree_unchanged(trees, tmp_path: Path) -> None:
    """SIGTERM while patch runs (a patch on PATH that applies for real and
    then waits): the tree is restored."""
    series, src = trees["sid"]
    d = fresh(src, tmp_path / "t")
    fake = tmp_path / "bin"
    fake.mkdir()
    real = shutil.which("patch")
    flag = tmp_path / "patched"
    (fake / "patch").write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --dry-run "*) exec %s "$@" ;; esac\n'
        '%s "$@"\n'
        ": > %s\n"
        "sleep 60\n" % (real, real, flag))
    (fake / "patch").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    before = tree(d)
    p = subprocess.Popen([str(INSTALL_HOOK), "--kernel-version", series, str(d)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, start_new_session=True)
    try:
        for _ in range(6000):
            if flag.exists() or p.poll() is not None:
                break
            time.sleep(0.01)
        assert flag.exists(), p.communicate()
        assert "$(klp-finish)" in (d / "scripts" / "Makefile.modfinal").read_text()
        os.killpg(p.pid, signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 143, (p.returncode, out, err)
    assert tree(d) == before
