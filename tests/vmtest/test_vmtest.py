# SPDX-License-Identifier: GPL-2.0-only
"""vmtest: golden console logs, the QEMU watcher, exit codes, and the real
runs: the selftests in QEMU on the host's kernel (plain vmtest) and on every
supported kernel (vmtest --all), and the environments' command line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
SELFTESTS = TOP / "tools" / "testing" / "selftests" / "livepatch"
LOGS = Path(__file__).resolve().parent / "logs"
sys.path.insert(0, str(SELFTESTS))

from vmtest_lib import config, initramfs, qemu, tap, userland  # noqa: E402
from vmtest_lib.cli import main  # noqa: E402


def test_golden_pass():
    r = tap.parse((LOGS / "pass.log").read_text())
    assert r.plan == 3 and (r.passed, r.failed, r.skipped) == (3, 0, 0)
    assert [x.name for x in r.results] == [
        f"selftests: livepatch: {t}" for t in config.test_progs()]
    assert r.crash is None


def test_golden_fail_and_skip():
    r = tap.parse((LOGS / "fail.log").read_text())
    assert (r.passed, r.failed, r.skipped) == (1, 1, 1)
    assert r.results[0].directive == "exit=1" and not r.results[0].ok
    assert r.results[2].directive == "SKIP" and r.results[2].ok
    assert r.crash is None


def test_golden_panic():
    r = tap.parse((LOGS / "panic.log").read_text())
    assert r.crash and "BUG: kernel NULL pointer dereference" in r.crash
    assert r.failed == 3          # planned, never reported


def test_golden_hang():
    r = tap.parse((LOGS / "hang.log").read_text())
    assert r.plan == 3 and not r.results and r.failed == 3 and r.crash is None


def test_test_progs_and_timeout():
    assert config.test_progs()[0] == "test-klp-convert.sh"
    assert config.test_timeout() > 0


def test_boot_watcher_timeout(tmp_path):
    t0 = time.monotonic()
    run = qemu.boot(["sh", "-c", "echo booting; sleep 60"], str(tmp_path / "c.log"),
                    time.monotonic() + 1.5, initramfs.DONE_MARKER, lambda l: None)
    assert run.timed_out and not run.finished
    assert time.monotonic() - t0 < 10
    assert (tmp_path / "c.log").read_text() == "booting\n"


def test_boot_watcher_done(tmp_path):
    seen = []
    run = qemu.boot(["sh", "-c", f"echo 'ok 1 x'; echo '{initramfs.DONE_MARKER}'"],
                    str(tmp_path / "c.log"), time.monotonic() + 30,
                    initramfs.DONE_MARKER, seen.append)
    assert run.finished and not run.timed_out and run.returncode == 0
    assert seen == ["ok 1 x\n", initramfs.DONE_MARKER + "\n"]


def test_usage_exit_codes(capsys):
    assert main(["--bogus"]) == config.EXIT_USAGE
    assert main(["--tests", "no-such-test.sh"]) == config.EXIT_USAGE
    assert main(["--kernel", "/boot/vmlinuz"]) == config.EXIT_USAGE
    assert main(["--suite", "buster"]) == config.EXIT_USAGE
    assert main(["--suite", "sid", "--all"]) == config.EXIT_USAGE
    assert main(["--all", "--kernel", "/k", "--kdir", "/h"]) == config.EXIT_USAGE
    assert main(["--print-env"]) == config.EXIT_USAGE
    assert main(["--run", "true"]) == config.EXIT_USAGE
    assert main(["--suite", "sid", "--run"]) == config.EXIT_USAGE
    assert main(["--suite", "sid", "--run", "--"]) == config.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--print-env and --run need --suite" in err
    assert "--suite and --all exclude each other" in err


def test_init_script_reports_every_test(tmp_path):
    """The /init runs TEST_PROGS in order and maps exit codes to TAP; this
    project's scripts run with dash (busybox-static's sh would run its own
    insmod), kmod's tools replace busybox's."""
    path = initramfs.pack(str(tmp_path), config.test_progs(), [], 5)
    root = tmp_path / "initramfs"
    init = (root / "init").read_text()
    assert f"1..{len(config.test_progs())}" in init
    assert "4) echo \"ok $n selftests: livepatch: $t # SKIP\"" in init
    assert "timeout -s KILL 5 dash ./$t" in init
    assert os.path.getsize(path) > 100_000      # busybox is in
    for name in ("insmod", "rmmod", "modinfo"):
        assert os.readlink(root / "bin" / name) == "kmod"
    _assert_runs(root, "dash")
    _assert_runs(root, "kmod")
    assert not (root / "bin" / "bash").exists()


def _assert_runs(root, program):
    """@program is in the initramfs with every library it loads."""
    binary = root / "bin" / program
    assert binary.is_file() and not binary.is_symlink(), program
    for lib in userland.libraries(str(binary)):
        assert (root / lib.lstrip("/")).is_file(), (program, lib)


def test_kselftest_initramfs(tmp_path):
    """--selftests-dir: a kernel tree's scripts run as bash scripts with
    the kernel's functions.sh, which needs GNU date, procps sysctl, diff,
    stat and the kernel's build directory; timeout=0 in settings is
    kselftest's "no timeout"."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "Makefile").write_text("TEST_PROGS := \\\n\ttest-a.sh \\\n"
                                   "\ttest-b.sh\n\ninclude ../lib.mk\n")
    for name in ("test-a.sh", "test-b.sh", "functions.sh"):
        (tree / name).write_text("#!/bin/bash\n")
    (tree / "settings").write_text("timeout=0\n")
    assert config.test_progs(str(tree)) == ["test-a.sh", "test-b.sh"]
    assert config.test_timeout(str(tree)) == 300
    initramfs.pack(str(tmp_path), ["test-b.sh"], [], 300,
                   selftest_dir=str(tree), kselftest=True)
    root = tmp_path / "initramfs"
    init = (root / "init").read_text()
    assert "timeout -s KILL 300 ./$t" in init
    assert 'mkdir -p "/lib/modules/$(uname -r)/build"' in init
    assert "ln -s /proc/self/fd /dev/fd" in init
    for program in ("bash", "date", "sysctl", "diff", "stat", "kmod"):
        _assert_runs(root, program)
    assert (root / "selftests/livepatch/test-b.sh").exists()
    assert not (root / "selftests/livepatch/test-a.sh").exists()
    # they load in the initramfs: procps' sysctl (--values), GNU date
    # (--rfc-3339), bash
    for cmd, want in ((["sysctl", "--version"], "procps"),
                      (["date", "--rfc-3339=ns"], "-"),
                      (["bash", "-c", "echo $BASH_VERSION"], ".")):
        r = subprocess.run(["chroot", str(root), f"/bin/{cmd[0]}", *cmd[1:]],
                           capture_output=True, text=True)
        assert r.returncode == 0 and want in r.stdout, (cmd, r.stderr)


def test_selftests_dir_usage(tmp_path, capsys):
    assert main(["--modules-dir", str(tmp_path)]) == config.EXIT_USAGE
    assert main(["--selftests-dir", str(tmp_path / "none")]) == config.EXIT_USAGE
    assert main(["--all", "--selftests-dir", str(SELFTESTS)]) == config.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--modules-dir needs --selftests-dir" in err
    assert "--selftests-dir and --all exclude each other" in err


# Every klp symbol of the three test livepatches (test_klp_convert1: 8,
# test_klp_convert_sections: 4, test_klp_convert_keys: 1), and the real
# homonyms at a position > 1 among them.
KLP_SYMBOLS_CHECKED = 13
HOMONYMS = ("vmlinux c_start,2 of 3", "test_klp_convert_mod homonym_string,2 of 2",
            "test_klp_convert_mod get_homonym_string,2 of 2")


def _assert_klp_symbols(out: str, prefix: str = "") -> None:
    """vmtest's klp-symbols step (vmtest_lib/symphase.py) held: in the
    boot of the selftests, klp-convert's klp_find() over that boot's
    /proc/kallsyms gave the kernel's address for every klp symbol, with
    real homonyms of vmlinux and of a module; the build with
    KLP_SYMBOLS=<that dump> passed verified; a wrong position and a
    missing symbol were refused at build time."""
    p = re.escape(f"{prefix}# klp-symbols: ")
    lines = re.findall(rf"^{p}(.*)$", out, re.M)
    assert lines and not any("FAILED" in line for line in lines), out
    m = re.search(rf"^{p}(\d+) klp symbols of 3 livepatches: klp-convert's "
                  r"klp_find\(\) over this boot's /proc/kallsyms gives the "
                  r"address the kernel resolved$", out, re.M)
    assert m and int(m.group(1)) == KLP_SYMBOLS_CHECKED, out
    homonyms = re.search(rf"^{p}homonyms at a position > 1: (.*)$", out, re.M)
    assert homonyms, out
    assert set(homonyms.group(1).split(", ")) == set(HOMONYMS), homonyms.group(1)
    assert re.search(rf"^{p}make KLP_SYMBOLS=<dump>: 3 livepatches verified, "
                     r"the same bytes", out, re.M), out
    for case in ("symbol_missing", "symbol_position"):
        assert re.search(rf"^{p}build_fail/{case} refused with KLP_SYMBOLS, "
                         r"no \.ko:$", out, re.M), out
    assert re.search(rf"^{p}  klp-convert: \S+: symbol 'c_start' is ambiguous "
                     r"in vmlinux", out, re.M), out
    assert re.search(rf"^{p}  klp-convert: \S+: symbol 'saved_command_lin' not "
                     r"found in vmlinux", out, re.M), out


@pytest.mark.slow
def test_selftests_in_qemu():
    """The README's main command: every selftest passes on Debian's kernel."""
    r = subprocess.run([str(SELFTESTS / "vmtest"), "--timeout", "900"],
                       capture_output=True, text=True, timeout=1000)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    oks = re.findall(r"^ok \d+ selftests: livepatch: (\S+)$", out, re.M)
    assert oks == config.test_progs(), out
    assert "not ok" not in out
    assert re.search(r"^# TEST: .* \.\.\. ok$", out, re.M)
    n = len(config.test_progs())
    assert re.search(rf"^vmtest: {n} passed, 0 failed \(", out, re.M), out
    _assert_klp_symbols(out)


def _parse_all(out: str):
    """The closing TAP document of vmtest --all: (suite, ok) per kernel."""
    tail = out[out.rindex("TAP version 13"):].splitlines()
    assert tail[1] == f"1..{len(SUITES)}", out
    return [(m.group(3), m.group(1) is None)
            for m in (re.match(r"^(not )?ok (\d+) (\S+)", line) for line in tail[2:])
            if m]


SUITES = ["bookworm", "trixie", "trixie-backports", "sid"]


@pytest.mark.slow
def test_all_kernels_in_qemu():
    """vmtest --all: the selftests pass on the current kernel of every
    supported suite, each built where its compiler is, and klp-convert's
    symbol verification holds against each booted kernel's /proc/kallsyms;
    the run ends with one TAP line per kernel."""
    t0 = time.monotonic()
    r = subprocess.run([str(SELFTESTS / "vmtest"), "--all", "--timeout", "900"],
                       capture_output=True, text=True, timeout=5400)
    out = r.stdout
    sys.stderr.write(f"vmtest --all: {time.monotonic() - t0:.0f} s\n")
    assert r.returncode == 0, out + r.stderr[-5000:]
    assert _parse_all(out) == [(s, True) for s in SUITES], out
    for suite in SUITES:
        oks = re.findall(rf"^# {suite}: ok \d+ selftests: livepatch: (\S+)$", out, re.M)
        assert oks == config.test_progs(), (suite, out)
        # the reload test took the branch of its kernel
        assert re.search(rf"^# {suite}: # TEST: klp-convert: target module reloaded "
                         r"while the livepatch stays \.\.\. ok$", out, re.M), out
        _assert_klp_symbols(out, f"# {suite}: ")
    assert "not ok" not in out
    assert out.rstrip().splitlines()[-1] == f"kernels: {len(SUITES)} passed, 0 failed"
    # built in the chroots, with the kernels' compilers
    # (trixie-backports' 7.3 was built with trixie's gcc-14)
    for suite, build, gcc in (("trixie", "trixie", "gcc-14"),
                              ("trixie-backports", "trixie", "gcc-14"),
                              ("sid", "sid", "gcc-16")):
        section = r.stderr[r.stderr.index(f"=== {suite} ==="):]
        assert f"(in the {build} chroot, {gcc})" in section.split("===")[2], section


@pytest.mark.slow
@pytest.mark.parametrize("suite", SUITES)
def test_print_env_and_run(suite, tmp_path):
    """--print-env describes a usable environment; its run prefix runs a
    command where the kernel's compiler is, with the headers in place, in
    the current directory, with the $KLP_BIND directories visible."""
    vmtest = str(SELFTESTS / "vmtest")
    r = subprocess.run([vmtest, "--suite", suite, "--print-env"],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr
    e = json.loads(r.stdout)
    assert e["suite"] == suite and e["release"].endswith("-amd64")
    for key in ("vmlinuz", "headers", "config"):
        assert os.path.exists(e[key]), (key, e[key])
    with open(e["config"]) as f:
        assert "CONFIG_LIVEPATCH=y" in f.read()
    assert (e["chroot"] is None) == (suite == "bookworm")
    assert e["build_suite"] == {"bookworm": None, "trixie": "trixie",
                                "trixie-backports": "trixie", "sid": "sid"}[suite]
    cwd, other = tmp_path / "cwd", tmp_path / "other"
    cwd.mkdir()
    other.mkdir()
    (other / "input").write_text("seen\n")
    probe = (f"test -f {e['build_headers']}/Makefile && "
             f"{e['compiler']} --version | head -n1 && cat {other}/input > out && "
             "uname -m")
    r = subprocess.run([*e["run"], "sh", "-c", probe], capture_output=True,
                       text=True, timeout=600, cwd=cwd,
                       env=dict(os.environ, KLP_BIND=str(other)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "x86_64"
    assert (cwd / "out").read_text() == "seen\n"
    if e["chroot"]:
        # the chroot's compiler is the kernel's own (CONFIG_CC_VERSION_TEXT)
        with open(e["config"]) as f:
            cc = re.search(r'^CONFIG_CC_VERSION_TEXT="(.*)"$', f.read(), re.M).group(1)
        assert cc.split()[0].endswith(e["compiler"]), (cc, e["compiler"])
        major = e["compiler"].split("-")[1]
        assert re.search(rf"\) {major}\.\d+\.\d+$", r.stdout.splitlines()[0]), r.stdout
