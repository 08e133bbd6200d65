# SPDX-License-Identifier: GPL-2.0-only
"""The busybox initramfs.  Its /init runs the selftests and prints
kselftest TAP on the console, then powers the VM off.

Two kinds of selftests: this project's (its functions.sh in POSIX sh,
run with dash) and a kernel tree's (the kernel's functions.sh, a bash
script that also needs GNU date, procps sysctl and diff: --selftests-dir).
Both get kmod's insmod, rmmod and modinfo (userland.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import List

from . import userland
from .config import SELFTEST_DIR, VmtestError

DONE_MARKER = "vmtest: all tests done"
START_MARKER = "vmtest: init started"

INIT = r"""#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# vmtest init: run the livepatch selftests, print kselftest TAP, power off.
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
# bash's process substitution
ln -s /proc/self/fd /dev/fd
%(setup)s
echo "%(start)s"
cd /selftests/livepatch
echo "TAP version 13"
echo "1..%(count)d"
n=0
for t in %(tests)s; do
	n=$((n + 1))
	echo "# selftests: livepatch: $t"
	timeout -s KILL %(timeout)d %(shell)s./$t > /tmp/out 2>&1
	rc=$?
	sed 's/^/# /' /tmp/out
	case $rc in
	0) echo "ok $n selftests: livepatch: $t" ;;
	4) echo "ok $n selftests: livepatch: $t # SKIP" ;;
	137) echo "not ok $n selftests: livepatch: $t # TIMEOUT %(timeout)d seconds" ;;
	*) echo "not ok $n selftests: livepatch: $t # exit=$rc" ;;
	esac
done
%(after)s
echo "%(done)s"
poweroff -f
"""


# The kernel's functions.sh checks that the kernel's build directory
# exists (to build the test modules, which are built already here).
KSELFTEST_SETUP = 'mkdir -p "/lib/modules/$(uname -r)/build"'


def pack(workdir: str, tests: List[str], modules: List[str], timeout: int,
         name: str = "initramfs", selftest_dir: str = SELFTEST_DIR,
         kselftest: bool = False, after: str = "") -> str:
    """Pack the initramfs (no tests: a bare boot that only reports in).
    @kselftest: the scripts of @selftest_dir use the kernel's functions.sh
    and run as executables (bash).  @after: /init lines to run after the
    selftests (symdump.snippet())."""
    root = os.path.join(workdir, name)
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "sbin", "proc", "sys", "dev", "tmp", "etc",
              "selftests/livepatch/test_modules"):
        os.makedirs(os.path.join(root, d))
    busybox = shutil.which("busybox") or "/bin/busybox"
    if not os.path.exists(busybox):
        raise VmtestError("busybox not found (apt install busybox-static)")
    shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
    applets = subprocess.run([busybox, "--list"], capture_output=True,
                             text=True).stdout.split()
    for a in applets:
        link = os.path.join(root, "bin", a)
        if not os.path.exists(link):
            os.symlink("busybox", link)
    userland.install(root, userland.KSELFTEST if kselftest else userland.POSIX)
    dst = os.path.join(root, "selftests", "livepatch")
    for item in tests + ["functions.sh", "settings"]:
        src = os.path.join(selftest_dir, item)
        if not os.path.exists(src):
            raise VmtestError(f"{src} is missing")
        shutil.copy(src, dst)
    for m in modules:
        shutil.copy(m, os.path.join(dst, "test_modules"))
    init = os.path.join(root, "init")
    with open(init, "w") as f:
        f.write(INIT % {"start": START_MARKER, "done": DONE_MARKER,
                        "count": len(tests), "tests": " ".join(tests),
                        "timeout": timeout,
                        "setup": KSELFTEST_SETUP if kselftest else "",
                        "shell": "" if kselftest else "dash ",
                        "after": after})
    os.chmod(init, 0o755)
    out = os.path.join(workdir, f"{name}.cpio.gz")
    cmd = f"cd {root} && find . | cpio -o -H newc --quiet | gzip -1 > {out}"
    if subprocess.run(["sh", "-c", cmd]).returncode:
        raise VmtestError("packing the initramfs failed (cpio, gzip)")
    return out
