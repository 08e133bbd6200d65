# SPDX-License-Identifier: GPL-2.0-only
"""vmtest: golden console logs, the QEMU watcher, exit codes, and one real
run of the selftests in QEMU on Debian's kernel."""

from __future__ import annotations

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

from vmtest_lib import config, initramfs, qemu, tap  # noqa: E402
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


def test_init_script_reports_every_test(tmp_path):
    """The /init runs TEST_PROGS in order and maps exit codes to TAP."""
    path = initramfs.pack(str(tmp_path), config.test_progs(), [], 5)
    init = (tmp_path / "initramfs" / "init").read_text()
    assert f"1..{len(config.test_progs())}" in init
    assert "4) echo \"ok $n selftests: livepatch: $t # SKIP\"" in init
    assert os.path.getsize(path) > 100_000      # busybox is in


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
