# SPDX-License-Identifier: GPL-2.0-only
"""contrib/klp-headers on every supported kernel's headers package: a
self-contained private copy (hooked or not), the source never modified,
the running kernel's headers chosen by default."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest
from kbuild_support import KLP_HEADERS, SUITES, environment, klp_headers

pytestmark = pytest.mark.slow


def tree_digest(root: str) -> dict[str, tuple[int, object]]:
    out: dict[str, tuple[int, object]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    out[p] = (st.st_mtime_ns, hashlib.sha1(f.read()).hexdigest())
            else:
                out[p] = (st.st_mtime_ns,
                          os.readlink(p) if stat.S_ISLNK(st.st_mode) else None)
    return out


@pytest.mark.parametrize("suite", SUITES)
def test_copy_is_self_contained_and_source_untouched(suite: str, tmp_path: Path) -> None:
    e = environment(suite)
    kbuild = os.path.dirname(os.path.realpath(os.path.join(e.headers, "scripts")))
    watched = [os.path.join(kbuild, "scripts"), e.headers]
    before = {w: tree_digest(w) for w in watched}
    kd = Path(klp_headers("--headers", e.headers, str(tmp_path / "k"))
              .stdout.strip().splitlines()[-1])
    assert {w: tree_digest(w) for w in watched} == before
    assert not os.path.exists(os.path.join(kbuild, "scripts", "livepatch"))
    real = Path(os.path.realpath(kd / "scripts"))
    assert str(tmp_path) in str(real)
    makefile = (kd / "Makefile").read_text()
    assert f"include {tmp_path}" in makefile, makefile
    assert "/usr/src/" not in makefile, makefile        # 7.x: KBUILD_OUTPUT too
    if "KBUILD_OUTPUT" in Path(e.headers, "Makefile").read_text():
        assert f"KBUILD_OUTPUT={kd}\n" in makefile
    assert (real / "livepatch" / "klp-convert").is_file()
    assert "klp_convert" in (real / "Makefile.modfinal").read_text()
    assert (kd.parent / f"linux-headers-{e.release.rsplit('-', 1)[0]}-common"
            / "include" / "linux" / "klp_reloc.h").is_file()
    # --no-hook over the same DEST: stock Makefiles, no scripts/livepatch
    kd2 = Path(klp_headers("--no-hook", "--headers", e.headers, str(tmp_path / "k"))
               .stdout.strip().splitlines()[-1])
    assert kd2 == kd
    for name in ("Makefile.modpost", "Makefile.modfinal", "Makefile.modinst"):
        assert (real / name).read_bytes() == Path(kbuild, "scripts", name).read_bytes()
    assert not (real / "livepatch").exists()


def test_default_is_the_running_kernels_headers(tmp_path: Path) -> None:
    """With several headers packages installed, the running kernel's
    wins over the newest; without it, the newest, with a note."""
    older, newer = environment("trixie"), environment("trixie-backports")
    src = tmp_path / "src"
    src.mkdir()
    for e in (older, newer):
        for d in Path(e.headers).parent.iterdir():
            os.symlink(d, src / d.name)
    fake = tmp_path / "bin"
    fake.mkdir()
    uname = fake / "uname"
    uname.write_text(f"#!/bin/sh\necho {older.release}\n")
    uname.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}",
           "KLP_HEADERS_SRCDIR": str(src)}
    # the headers are reached through symlinks: nothing may be written
    # through them into the real trees
    watched = [e.headers for e in (older, newer)]
    before = {w: tree_digest(w) for w in watched}
    r = subprocess.run([str(KLP_HEADERS), str(tmp_path / "k1")], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].endswith(f"linux-headers-{older.release}")
    uname.write_text("#!/bin/sh\necho 9.9.9-not-installed\n")
    r = subprocess.run([str(KLP_HEADERS), str(tmp_path / "k2")], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1].endswith(f"linux-headers-{newer.release}")
    assert "are not installed; using" in r.stderr
    assert {w: tree_digest(w) for w in watched} == before
    assert not (tmp_path / "k1" / "src" / f"linux-headers-{older.release}").is_symlink()


def test_usage_errors(tmp_path: Path) -> None:
    assert klp_headers(check=False).returncode == 2
    assert klp_headers("--bogus", str(tmp_path), check=False).returncode == 2
    r = klp_headers("--headers", str(tmp_path / "nope"), str(tmp_path / "d"), check=False)
    assert r.returncode == 1 and "klp-headers:" in r.stderr and "nope" in r.stderr
    r = klp_headers("--headers", str(tmp_path), str(tmp_path / "d"), check=False)
    assert r.returncode == 1 and "not a headers package" in r.stderr
    assert not r.stdout


def test_help(tmp_path: Path) -> None:
    """--help is an answer, not a usage error: stdout, exit 0, the known
    kernels and how the default headers are chosen."""
    for opt in ("--help", "-h"):
        r = klp_headers(opt, check=False)
        assert r.returncode == 0 and not r.stderr, r.stderr
        for text in ("--headers DIR", "--no-hook", "6.1 (bookworm)", "6.12 (trixie)",
                     "7.3 (trixie-backports)", "7.2 (sid)", "uname -r",
                     "KLP_HEADERS_SRCDIR", "tail -n1"):
            assert text in r.stdout, (text, r.stdout)
    # help wins over an otherwise incomplete command line; nothing is made
    r = klp_headers("--no-hook", "--help", check=False)
    assert r.returncode == 0 and "usage: klp-headers" in r.stdout
    r = klp_headers("--help", str(tmp_path / "d"), check=False)
    assert r.returncode == 0 and not (tmp_path / "d").exists()
