# SPDX-License-Identifier: GPL-2.0-only
"""What vmtest needs from Debian, and which kernel it tests.

The kernel is the one Debian's linux-image-amd64 metapackage currently
depends on: its ABI number changes with security updates, so it is read
from the package database, never written down here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import List, Optional, Tuple

from .config import VmtestError

# what the host needs to build for and boot its own kernel (plain vmtest)
TOOLS = ["qemu-system-x86", "busybox-static", "cpio", "kmod", "make", "gcc",
         "patch", "python3-pyelftools", "dash", "bash", "coreutils", "procps",
         "diffutils"]
PACKAGES = TOOLS + ["linux-image-amd64", "linux-headers-amd64"]
# and to fetch other suites' kernels and build chroots (--suite, --all)
FOREIGN = ["debootstrap", "debian-archive-keyring"]


def _run(cmd: List[str], what: str) -> str:
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    if r.returncode:
        tail = "\n".join(r.stdout.splitlines()[-15:])
        raise VmtestError(f"{what} failed ({' '.join(cmd)}):\n{tail}")
    return r.stdout


def install(packages: Optional[List[str]] = None) -> None:
    """apt-get update and install @packages (default: PACKAGES) on the host."""
    packages = packages or PACKAGES
    if os.geteuid() != 0:
        raise VmtestError("installing packages needs root (or use --no-install)")
    debug("vmtest: apt-get install " + " ".join(packages))
    _run(["apt-get", "-o", "DPkg::Lock::Timeout=900", "update", "-q"], "apt-get update")
    _run(["apt-get", "-o", "DPkg::Lock::Timeout=900", "install", "-y", "-q",
          "--no-install-recommends", *packages], "apt-get install")


def install_tools() -> None:
    """What --suite needs on the host for another suite's kernel."""
    install(TOOLS + FOREIGN)


def apt_install(packages: List[str]) -> None:
    """apt-get install on the host, waiting for the dpkg lock."""
    missing = [p for p in packages if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
        text=True).stdout != "install ok installed"]
    if not missing:
        return
    if os.geteuid() != 0:
        raise VmtestError(f"installing {' '.join(missing)} needs root")
    debug("vmtest: apt-get install " + " ".join(missing))
    _run(["apt-get", "-o", "DPkg::Lock::Timeout=900", "install", "-y", "-q",
          "--no-install-recommends", *missing], "apt-get install")


def debian_kernel() -> str:
    """The kernel release that linux-image-amd64 depends on, e.g.
    6.1.0-56-amd64."""
    out = _run(["dpkg-query", "-W", "-f=${Depends}", "linux-image-amd64"],
               "dpkg-query linux-image-amd64")
    m = re.search(r"linux-image-(\S+?-amd64)\b", out)
    if not m:
        raise VmtestError(f"cannot read the kernel version from linux-image-amd64's "
                          f"dependencies: {out!r}")
    return m.group(1)


def kernel_and_headers(release: str, install_headers: bool) -> Tuple[str, str]:
    vmlinuz = f"/boot/vmlinuz-{release}"
    headers = f"/usr/src/linux-headers-{release}"
    if install_headers and not os.path.isdir(headers):
        _run(["apt-get", "-o", "DPkg::Lock::Timeout=900", "install", "-y", "-q", f"linux-headers-{release}"],
             "apt-get install headers")
    for path in (vmlinuz, headers):
        if not os.path.exists(path):
            raise VmtestError(f"{path} is missing (install linux-image-{release} "
                              f"and linux-headers-{release})")
    return vmlinuz, headers


def ensure_pyelftools() -> None:
    """klp-convert runs with the python3 on PATH during the build."""
    probe = ["python3", "-c", "import elftools"]
    if subprocess.run(probe, capture_output=True).returncode == 0:
        return
    debug("vmtest: python3 has no pyelftools: pip install 'pyelftools>=0.29'")
    _run(["python3", "-m", "pip", "install", "-q", "pyelftools>=0.29"], "pip install")
    if subprocess.run(probe, capture_output=True).returncode:
        raise VmtestError("python3 cannot import elftools (pyelftools)")


def debug(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
