# SPDX-License-Identifier: GPL-2.0-only
"""Fast unit tests of vmtest's environment layer: the host's apt sources,
apt-cache output, version resolution from canned metapackages, cached
directories, the chroot command line, the suite table, the --all summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict

import pytest

TOP = Path(__file__).resolve().parents[2]
SELFTESTS = TOP / "tools" / "testing" / "selftests" / "livepatch"
sys.path.insert(0, str(SELFTESTS))

from vmtest_lib import (aptsources, aptstate, cache, chroot, kernelpkgs,  # noqa: E402
                        matrix, suites, tap, unpack)
from vmtest_lib import config  # noqa: E402
from vmtest_lib.runner import Outcome, run_kernel  # noqa: E402

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

DEB822 = """\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /nonexistent/keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_deb822_main_archive_entry():
    entries = aptsources.parse_deb822(DEB822, "d.sources")
    assert [e.suites for e in entries] == [["bookworm", "bookworm-updates"],
                                          ["bookworm-security"]]
    m = aptsources.main_mirror(entries, default_keyring=KEYRING)
    assert m.uri == "http://mirror.example/debian"
    # a Signed-By file that does not exist falls back to the default keyring
    assert m.keyring == KEYRING and m.origin == "d.sources stanza 1"


def test_deb822_disabled_and_inline_key():
    text = ("Types: deb\nURIs: http://a.example/debian\nSuites: trixie\n"
            "Components: main\nEnabled: no\n\n"
            "Types: deb\nURIs: https://b.example/debian/\nSuites: trixie\n"
            "Components: main contrib\nSigned-By:\n -----BEGIN PGP PUBLIC KEY "
            "BLOCK-----\n .\n -----END PGP PUBLIC KEY BLOCK-----\n")
    entries = aptsources.parse_deb822(text, "x.sources")
    assert len(entries) == 1 and entries[0].signed_by is None
    assert aptsources.main_mirror(entries, KEYRING).uri == "https://b.example/debian"


def test_one_line_sources():
    text = ("# comment\n"
            "deb-src http://src.example/debian bookworm main\n"
            "deb http://security.example/debian-security bookworm-security main\n"
            f"deb [arch=amd64 signed-by={KEYRING}] http://one.example/debian "
            "bookworm main non-free-firmware # trailing\n")
    entries = aptsources.parse_one_line(text, "sources.list")
    assert [e.types for e in entries] == [["deb-src"], ["deb"], ["deb"]]
    m = aptsources.main_mirror(entries, "/default.gpg")
    assert (m.uri, m.keyring, m.origin) == ("http://one.example/debian", KEYRING,
                                            "sources.list:4")


def test_no_main_archive_is_an_error_naming_the_files():
    entries = aptsources.parse_one_line(
        "deb http://x.example/debian bookworm-backports main\n"
        "deb http://x.example/debian bookworm contrib\n", "/etc/apt/sources.list")
    with pytest.raises(aptsources.NoMirror, match="/etc/apt/sources.list"):
        aptsources.main_mirror(entries)


def test_host_entries_reads_both_formats(tmp_path):
    d = tmp_path / "sources.list.d"
    d.mkdir()
    (d / "debian.sources").write_text(DEB822)
    (d / "other.list").write_text("deb http://other.example/debian sid main\n")
    (d / "ignored.sources.disabled").write_text(DEB822.replace("mirror", "nope"))
    (tmp_path / "sources.list").write_text("")
    entries = aptsources.host_entries(str(d), str(tmp_path / "sources.list"))
    # one-line files first, then deb822: the .list entry wins
    assert aptsources.main_mirror(entries, KEYRING).uri == "http://other.example/debian"
    assert not any("nope" in u for e in entries for u in e.uris)


def test_parse_stanza_and_depends():
    out = ("Package: linux-headers-7.3.4+deb13-amd64\nVersion: 7.3.4-1~bpo13+1\n"
           "Depends: gcc-14-for-host, linux-base (>= 4.12~), a | b (= 1),\n"
           " linux-kbuild-7.3.4+deb13\nDescription: x\n\nPackage: second\n")
    f = aptstate.parse_stanza(out)
    assert f["Package"] == "linux-headers-7.3.4+deb13-amd64"
    assert aptstate.parse_depends(f["Depends"]) == [
        ["gcc-14-for-host"], ["linux-base"], ["a", "b"], ["linux-kbuild-7.3.4+deb13"]]


def _show(packages: Dict[str, Dict[str, str]]):
    def show(name: str) -> Dict[str, str]:
        if name not in packages:
            raise aptstate.AptError(f"{name}: not in the suite")
        return {"Package": name, **packages[name]}
    return show


TRIXIE = {
    "linux-image-amd64": {"Version": "6.12.117-1",
                          "Depends": "linux-image-6.12.117+deb13-amd64 (= 6.12.117-1)"},
    "linux-headers-amd64": {"Version": "6.12.117-1",
                            "Depends": "linux-headers-6.12.117+deb13-amd64 (= 6.12.117-1)"},
    "linux-image-6.12.117+deb13-amd64": {
        "Version": "6.12.117-1",
        "Depends": "kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool"},
    "linux-headers-6.12.117+deb13-amd64": {
        "Version": "6.12.117-1",
        "Depends": "linux-base (>= 4.12~), linux-headers-6.12.117+deb13-common "
                   "(= 6.12.117-1), linux-image-6.12.117+deb13-amd64 (= 6.12.117-1) | "
                   "linux-image-6.12.117+deb13-amd64-unsigned (= 6.12.117-1), "
                   "linux-kbuild-6.12.117+deb13, gcc-14"},
    "linux-headers-6.12.117+deb13-common": {"Version": "6.12.117-1"},
    "linux-kbuild-6.12.117+deb13": {"Version": "6.12.117-1"},
}

V = "7.3.4-1~bpo13+1"
BACKPORTS = {
    "linux-image-amd64": {"Version": V, "Depends":
                          f"linux-base-amd64 (= {V}), linux-image-7.3.4+deb13-amd64 "
                          f"(= {V}), linux-modules-amd64 (= {V})"},
    "linux-headers-amd64": {"Version": V, "Depends":
                            f"linux-base-amd64 (= {V}), "
                            f"linux-headers-7.3.4+deb13-amd64 (= {V})"},
    "linux-base-amd64": {"Version": V, "Depends": f"linux-base-7.3.4+deb13-amd64 (= {V})"},
    "linux-modules-amd64": {"Version": V, "Depends":
                            f"linux-base-amd64 (= {V}), linux-modules-7.3.4+deb13-amd64"},
    "linux-image-7.3.4+deb13-amd64": {"Version": V, "Depends":
                                      "dracut | initramfs-tools (>= 0.120+deb8u2), "
                                      f"linux-base-7.3.4+deb13-amd64 (= {V}), "
                                      f"linux-binary-7.3.4+deb13-amd64 (= {V}), "
                                      f"linux-modules-7.3.4+deb13-amd64 (= {V})"},
    "linux-headers-7.3.4+deb13-amd64": {"Version": V, "Depends":
                                        "gcc-14-for-host, linux-base (>= 4.12~), "
                                        f"linux-base-7.3.4+deb13-amd64 (= {V}), "
                                        f"linux-headers-7.3.4+deb13-common (= {V}), "
                                        "linux-kbuild-7.3.4+deb13"},
    "linux-base-7.3.4+deb13-amd64": {"Version": V},
    "linux-binary-7.3.4+deb13-amd64": {"Version": V},
    "linux-modules-7.3.4+deb13-amd64": {"Version": V},
    "linux-headers-7.3.4+deb13-common": {"Version": V},
    "linux-kbuild-7.3.4+deb13": {"Version": V},
}


def test_resolve_6_12_from_canned_metapackages():
    r = kernelpkgs.resolve(_show(TRIXIE))
    assert (r.release, r.abi, r.version, r.series, r.compiler) == (
        "6.12.117+deb13-amd64", "6.12.117+deb13", "6.12.117-1", "6.12", "gcc-14")
    # the kernel's own packages, never the generic linux-base, kmod, the
    # -unsigned alternative or the metapackages
    assert sorted(r.packages) == sorted(
        n for n in TRIXIE if "6.12.117+deb13" in n)


def test_resolve_7_x_split_packages():
    r = kernelpkgs.resolve(_show(BACKPORTS))
    assert (r.release, r.series, r.compiler) == ("7.3.4+deb13-amd64", "7.3", "gcc-14")
    assert set(r.packages) == {
        "linux-image-7.3.4+deb13-amd64", "linux-binary-7.3.4+deb13-amd64",
        "linux-modules-7.3.4+deb13-amd64", "linux-base-7.3.4+deb13-amd64",
        "linux-headers-7.3.4+deb13-amd64", "linux-headers-7.3.4+deb13-common",
        "linux-kbuild-7.3.4+deb13"}
    assert set(r.packages.values()) == {V}


def test_resolve_refuses_a_metapackage_without_a_kernel():
    broken = dict(TRIXIE, **{"linux-image-amd64": {"Version": "1", "Depends": "foo"}})
    with pytest.raises(kernelpkgs.ResolveError, match="linux-image-amd64"):
        kernelpkgs.resolve(_show(broken))


def test_layout_finds_vmlinuz_in_either_place(tmp_path):
    rel = "7.3.4+deb13-amd64"
    lay = kernelpkgs.Layout(str(tmp_path), rel)
    assert lay.vmlinuz() is None
    mods = tmp_path / "usr/lib/modules" / rel
    mods.mkdir(parents=True)
    (mods / "vmlinuz").write_bytes(b"x")
    (mods / "config").write_text("CONFIG_LIVEPATCH=y\n")
    assert lay.vmlinuz() == str(mods / "vmlinuz") and lay.modules() == str(mods)
    assert lay.config() == str(mods / "config")
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / f"vmlinuz-{rel}").write_bytes(b"y")
    assert lay.vmlinuz() == str(tmp_path / "boot" / f"vmlinuz-{rel}")


def test_ensure_dir_is_atomic(tmp_path):
    path = str(tmp_path / "entry")

    def failing(tmp: str) -> None:
        Path(tmp, "half").write_text("x")
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError):
        cache.ensure_dir(path, failing)
    assert not os.path.exists(path)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []
    # a temporary left by a killed run is removed by the next build
    stale = tmp_path / f"{cache.TMP_PREFIX}entry.99999"
    stale.mkdir()
    calls = []
    cache.ensure_dir(path, lambda tmp: calls.append(Path(tmp, "f").write_text("ok")))
    cache.ensure_dir(path, lambda tmp: calls.append("again"))
    assert Path(path, "f").read_text() == "ok" and len(calls) == 1
    assert not stale.exists()


def test_cache_dir_override(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "env"))
    assert cache.cache_dir() == str(tmp_path / "env")
    assert cache.cache_dir(str(tmp_path / "opt")) == str(tmp_path / "opt")
    monkeypatch.delenv(cache.CACHE_ENV)
    assert cache.cache_dir.__defaults__ == (None,)
    assert cache.DEFAULT_CACHE_DIR == "/var/cache/klp-convert"


def test_damaged_unpacked_entry(tmp_path):
    root = tmp_path / "root" / "usr/src/linux-headers-x-amd64"
    root.mkdir(parents=True)
    (root / "Makefile").write_text("include /usr/src/linux-headers-x-common/Makefile\n")
    (tmp_path / unpack.MANIFEST).write_text(json.dumps(
        {"sizes": unpack._key_files(str(tmp_path / "root"))}))
    assert unpack.damaged(str(tmp_path)) == []
    (root / "Makefile").write_text("")
    assert unpack.damaged(str(tmp_path)) == ["usr/src/linux-headers-x-amd64/Makefile"]


def test_chroot_key_and_packages():
    a = chroot.chroot_path("/c", "trixie", chroot.packages_for("gcc-14"))
    b = chroot.chroot_path("/c", "trixie", list(reversed(chroot.packages_for("gcc-14"))))
    c = chroot.chroot_path("/c", "trixie", chroot.packages_for("gcc-15"))
    assert a == b != c and a.startswith("/c/chroots/trixie-")
    for need in ("gcc-14", "make", "libelf-dev", "pahole", "python3-pyelftools",
                 "patch", "kmod", "bc", "bison", "flex", "cpio", "xz-utils", "perl"):
        assert need in chroot.packages_for("gcc-14")


def test_chroot_command_mounts_in_a_private_namespace(tmp_path):
    ro = tmp_path / "kernel"
    ro.mkdir()
    cmd = chroot.command("/c/root", ["make", "-C", "/k"],
                         [chroot.Bind(str(tmp_path)),
                          chroot.Bind(str(ro), readonly=True, target="/usr/src/k")],
                         env={"V": "1"}, cwd=str(tmp_path))
    assert cmd[:4] == ["unshare", "--mount", "--propagation", "private"]
    script = cmd[-1]
    assert "mount -t tmpfs -o mode=1777 tmpfs /c/root/tmp" in script
    assert f"mount --bind {tmp_path} /c/root{tmp_path}" in script
    assert "mount --bind %s /c/root/usr/src/k\nmount -o remount,bind,ro /c/root/usr/src/k" \
        % ro in script
    assert script.index("tmpfs") < script.index("mount --bind")
    assert "exec chroot /c/root /usr/bin/env -i" in script and "V=1" in script
    with pytest.raises(chroot.ChrootError, match="not an existing absolute path"):
        chroot.command("/c/root", ["true"], [chroot.Bind("relative/dir")])


def test_run_host_kills_the_process_group_when_interrupted(tmp_path):
    """An exception while waiting (vmtest's timeout alarm) kills the command
    and what it started, not only the direct child."""
    pidfile = tmp_path / "pid"
    real = subprocess.Popen

    class Interrupted(subprocess.Popen):
        def communicate(self, input=None, timeout=None):  # noqa: A002
            deadline = time.monotonic() + 10
            while not pidfile.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            raise KeyboardInterrupt

    subprocess.Popen = Interrupted
    try:
        with pytest.raises(KeyboardInterrupt):
            chroot.run_host(["sh", "-c", f"sleep 60 & echo $! > {pidfile}.tmp; "
                             f"mv {pidfile}.tmp {pidfile}; wait"])
    finally:
        subprocess.Popen = real
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            return
        with open(f"/proc/{grandchild}/stat") as f:
            if f.read().split()[2] == "Z":      # killed, not yet reaped
                return
        time.sleep(0.05)
    pytest.fail(f"the grandchild {grandchild} survived")


def test_suite_table_and_host(tmp_path):
    assert suites.ALL == ["bookworm", "trixie", "trixie-backports", "sid"]
    assert suites.get("trixie-backports").build_suite == "trixie"
    assert suites.get("sid").compiler == "gcc-16"
    with pytest.raises(suites.UnknownSuite, match="known: bookworm"):
        suites.get("buster")
    osr = tmp_path / "os-release"
    osr.write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n')
    assert suites.host_codename(str(osr)) == "bookworm"
    assert suites.on_host(suites.get("bookworm"), "bookworm")
    assert not suites.on_host(suites.get("trixie-backports"), "trixie")
    assert suites.host_codename(str(tmp_path / "missing")) is None


def _report(passed: int, failed: int) -> tap.Report:
    r = tap.Report(plan=passed + failed)
    r.results = [tap.Result(i + 1, f"t{i}", i < passed) for i in range(passed + failed)]
    return r


def test_all_summary_one_tap_line_per_kernel():
    results = [
        matrix.KernelResult("bookworm", Outcome(0, _report(3, 0), 31.04,
                                                release="6.1.0-56-amd64")),
        matrix.KernelResult("trixie", Outcome(1, _report(2, 1), 40.0, "a selftest failed",
                                              "6.12.117+deb13-amd64")),
        matrix.KernelResult("trixie-backports", Outcome(
            3, None, 2.5, "setting up trixie-backports: apt-get download failed\nmore")),
        matrix.KernelResult("sid", Outcome(6, _report(0, 3), 12.0, "kernel trouble: Oops",
                                           "7.2.13+deb14-amd64")),
    ]
    lines = matrix.summary(results)
    assert lines[:2] == ["TAP version 13", "1..4"]
    assert lines[2] == "ok 1 bookworm 6.1.0-56-amd64 # 3 passed, 0 failed, 31.0 s"
    assert lines[3].startswith("not ok 2 trixie 6.12.117+deb13-amd64 # exit 1 (test failure)")
    assert lines[4] == ("not ok 3 trixie-backports # exit 3 (broken run: infrastructure): "
                        "2.5 s; setting up trixie-backports: apt-get download failed")
    assert lines[5].startswith("not ok 4 sid 7.2.13+deb14-amd64 # exit 6 (broken run: "
                               "kernel trouble): 0 passed, 3 failed")
    assert lines[-1] == "kernels: 1 passed, 3 failed"
    # the worst status wins: a broken run is never reported as a test failure
    assert matrix.exit_code(results) == 6
    assert matrix.exit_code(results[:2]) == 1
    assert matrix.exit_code(results[:1]) == 0
    assert matrix.exit_code(results[:3]) == 3
    assert matrix.exit_code([]) == 3


def test_run_kernel_setup_errors_and_timeouts(tmp_path):
    """Setting up a kernel (fetch, chroot) counts in its time limit; a setup
    error is a broken run of that kernel, a bug is not caught."""
    cfg = config.Config(timeout=1.0)
    lines = []

    def broken():
        raise aptstate.AptError("apt-get download failed")
    out = run_kernel(cfg, broken, [], str(tmp_path), lines.append, (aptstate.AptError,))
    assert (out.code, out.report, out.release) == (3, None, "")
    assert "setting up the kernel: apt-get download failed" in out.reason

    def hangs():
        time.sleep(30)
    t0 = time.monotonic()
    out = run_kernel(cfg, hangs, [], str(tmp_path), lines.append, (aptstate.AptError,))
    assert out.code == config.EXIT_TIMEOUT and time.monotonic() - t0 < 10
    with pytest.raises(ValueError):
        run_kernel(cfg, lambda: int("x"), [], str(tmp_path), lines.append,
                   (aptstate.AptError,))
    assert lines == []


def test_ensure_dir_rebuilds_an_invalid_entry(tmp_path):
    path = str(tmp_path / "entry")
    cache.ensure_dir(path, lambda tmp: Path(tmp, "v").write_text("1"))
    Path(path, "v").write_text("")           # damaged on the host
    valid = lambda p: Path(p, "v").read_text() != ""  # noqa: E731
    cache.ensure_dir(path, lambda tmp: Path(tmp, "v").write_text("2"), valid)
    assert Path(path, "v").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".entry.lock", "entry"]
