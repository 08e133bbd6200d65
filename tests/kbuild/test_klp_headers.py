# SPDX-License-Identifier: GPL-2.0-only
"""contrib/klp-headers on every supported kernel's headers package: a
self-contained private copy (hooked or not), the source never modified,
the running kernel's headers chosen by default."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import stat
import subprocess
import time
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
    assert "$(klp-finish)" in (real / "Makefile.modfinal").read_text()
    assert (kd.parent / f"linux-headers-{e.release.rsplit('-', 1)[0]}-common"
            / "include" / "linux" / "klp_reloc.h").is_file()
    # --no-hook over the same DEST: stock Makefiles, no scripts/livepatch
    kd2 = Path(klp_headers("--no-hook", "--headers", e.headers, str(tmp_path / "k"))
               .stdout.strip().splitlines()[-1])
    assert kd2 == kd
    for name in ("Makefile.modpost", "Makefile.modfinal", "Makefile.modinst"):
        assert (real / name).read_bytes() == Path(kbuild, "scripts", name).read_bytes()
    assert not (real / "livepatch").exists()
    assert sorted(os.listdir(tmp_path / "k")) == ["lib", "src"]    # no staging left


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


def unknown_kernel(tmp_path: Path) -> tuple[str, Path]:
    """(trixie's headers, a copy of its three trees laid out as dpkg-deb -x
    does, whose common Makefile claims Linux 7.99: install-hook picks the
    7.x generation, which does not apply to 6.12's Kbuild)."""
    e = environment("trixie")
    headers = Path(e.headers)
    kbuild = Path(os.path.realpath(headers / "scripts")).parent
    common = headers.parent / f"linux-headers-{e.release.rsplit('-', 1)[0]}-common"
    root = tmp_path / "pkg" / "usr"
    for tree, where in ((headers, "src"), (common, "src"), (kbuild, "lib")):
        shutil.copytree(tree, root / where / tree.name, symlinks=True)
    mf = root / "src" / common.name / "Makefile"
    text = mf.read_text()
    assert "\nVERSION = 6\nPATCHLEVEL = 12\n" in text
    mf.write_text(text.replace("\nVERSION = 6\nPATCHLEVEL = 12\n",
                               "\nVERSION = 7\nPATCHLEVEL = 99\n", 1))
    return e.headers, root / "src" / headers.name


def staging_left(dest: Path) -> list[str]:
    return [n for n in os.listdir(dest) if n.startswith(".klp-headers")]


def test_failed_hook_keeps_the_earlier_copy(tmp_path: Path) -> None:
    """The hook cannot be installed (an unknown kernel version): exit 1,
    no partial copy, and an earlier good copy in DEST stays byte for
    byte, mtimes included."""
    good, fake = unknown_kernel(tmp_path)
    dest = tmp_path / "k"
    kd = Path(klp_headers("--headers", good, str(dest)).stdout.strip().splitlines()[-1])
    assert kd.name == fake.name                  # the same three trees in DEST
    before = tree_digest(str(dest))
    makefile = (kd / "Makefile").read_bytes()
    r = klp_headers("--headers", str(fake), str(dest), check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert not r.stdout
    assert tree_digest(str(dest)) == before
    assert (kd / "Makefile").read_bytes() == makefile
    assert "$(klp-finish)" in (kd / "scripts" / "Makefile.modfinal").read_text()
    assert sorted(os.listdir(dest)) == ["lib", "src"]
    assert "cannot install the hook" in r.stderr and "Linux 7.99" in r.stderr, r.stderr
    # install-hook's messages name the copy's final place, not the staging
    assert "unchanged" in r.stderr and ".klp-headers" not in r.stderr, r.stderr


def test_failure_leaves_no_partial_copy(tmp_path: Path) -> None:
    """Without an earlier copy a failure leaves nothing: a DEST that
    klp-headers created is removed again, an existing one stays empty."""
    _, fake = unknown_kernel(tmp_path)
    r = klp_headers("--headers", str(fake), str(tmp_path / "new"), check=False)
    assert r.returncode == 1 and not r.stdout, r.stderr
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    r = klp_headers("--headers", str(fake), str(tmp_path / "old"), check=False)
    assert r.returncode == 1 and not r.stdout, r.stderr
    assert os.listdir(tmp_path / "old") == []
    # the same trees without the hook are a good copy
    kd = klp_headers("--no-hook", "--headers", str(fake), str(tmp_path / "old")).stdout
    assert kd.strip().splitlines()[-1] == str(tmp_path / "old" / "src" / fake.name)


def test_signal_keeps_the_earlier_copy(tmp_path: Path) -> None:
    """Interrupted while copying (SIGTERM to the process group, as a
    terminal's ^C would be): the staging directory goes, an earlier copy
    stays as it was."""
    e = environment("trixie")
    dest = tmp_path / "k"
    klp_headers("--headers", e.headers, str(dest))
    before = tree_digest(str(dest))
    p = subprocess.Popen([str(KLP_HEADERS), "--headers", e.headers, str(dest)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not any((dest / s / "new" / "src").is_dir() for s in staging_left(dest)):
        assert p.poll() is None, "klp-headers finished before it could be interrupted"
        assert time.monotonic() < deadline, "no staging directory in DEST"
        time.sleep(0.005)
    os.killpg(p.pid, signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 143, (p.returncode, out, err)
    assert not out
    assert staging_left(dest) == []
    assert tree_digest(str(dest)) == before


def test_failed_exchange_restores_the_earlier_copy(tmp_path: Path) -> None:
    """The last rename of the exchange fails (an injected failure: an mv
    on PATH that refuses to rename the new kbuild into place, and only
    that): the new trees already renamed go back out, the earlier ones
    come back, nothing is left."""
    e = environment("trixie")
    dest = tmp_path / "k"
    klp_headers("--headers", e.headers, str(dest))
    before = tree_digest(str(dest))
    real = shutil.which("mv")
    fake = tmp_path / "bin"
    fake.mkdir()
    kbuild = Path(os.path.realpath(Path(e.headers) / "scripts")).parent.name
    (fake / "mv").write_text(
        "#!/bin/sh\n"
        'case "$2" in */new/lib/*) ;; *) exec %s "$@" ;; esac\n'
        'if [ "$3" = "%s/lib/%s" ]; then echo "mv: injected failure" >&2; exit 1; fi\n'
        'exec %s "$@"\n' % (real, dest, kbuild, real))
    (fake / "mv").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}
    r = subprocess.run([str(KLP_HEADERS), "--headers", e.headers, str(dest)],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 1 and not r.stdout, r.stderr
    assert "injected failure" in r.stderr and "cannot rename the new copy" in r.stderr, r.stderr
    assert staging_left(dest) == []
    # renamed out and back: the same contents and mtimes (but those of
    # DEST/src and DEST/lib, whose entries were renamed)
    after = tree_digest(str(dest))
    for d in (dest / "src", dest / "lib"):
        del before[str(d)], after[str(d)]
    assert after == before
