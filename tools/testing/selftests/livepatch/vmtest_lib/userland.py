# SPDX-License-Identifier: GPL-2.0-only
"""Host programs for the initramfs, with the shared libraries they load.

busybox provides /init's shell and most tools.  What the selftests need
beyond it comes from the host, copied to /bin of the initramfs together
with every library ldd lists for it (at the same path, so the dynamic
loader finds them):

  POSIX     this project's scripts: kmod's insmod, rmmod and modinfo (the
            expected logs quote kmod's message for a refused module, and
            busybox insmod retries a refused module, so the kernel would
            refuse it twice), and dash to run them: busybox-static's sh
            runs its own insmod and modinfo even when $PATH has others
  KSELFTEST the kernel's own functions.sh: kmod, bash, GNU date
            (--rfc-3339), procps sysctl (--values), diff (-upr), stat
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Dict, List, Mapping, Sequence

from .config import VmtestError

# program -> the names it is installed under in /bin
KMOD: Dict[str, List[str]] = {
    "kmod": ["kmod", "insmod", "rmmod", "modinfo", "lsmod", "modprobe"],
}
POSIX: Dict[str, List[str]] = {**KMOD, "dash": ["dash"]}
KSELFTEST: Dict[str, List[str]] = {
    **KMOD,
    "bash": ["bash"],
    "date": ["date"],
    "stat": ["stat"],
    "sysctl": ["sysctl"],
    "diff": ["diff"],
}
# the Debian packages these come from (fetch.TOOLS installs them)
PACKAGES = ["kmod", "dash", "bash", "coreutils", "procps", "diffutils"]

SEARCH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin",
          "/sbin", "/bin")
_LIB = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


def find(program: str) -> str:
    """The host's @program (also in sbin directories, which root's PATH
    may lack)."""
    path = shutil.which(program, path=":".join(SEARCH))
    if not path:
        raise VmtestError(f"{program} not found on the host (apt install "
                          f"{' '.join(PACKAGES)})")
    return os.path.realpath(path)


def libraries(binary: str) -> List[str]:
    """The shared libraries @binary loads, the dynamic loader included."""
    r = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if r.returncode and "not a dynamic executable" not in r.stdout + r.stderr:
        raise VmtestError(f"ldd {binary} failed: {r.stderr.strip()}")
    if "not found" in r.stdout:
        raise VmtestError(f"ldd {binary}: a library is missing:\n{r.stdout}")
    return [m.group(1) for m in map(_LIB.search, r.stdout.splitlines()) if m]


def _copy(src: str, root: str, dest: str) -> None:
    target = os.path.join(root, dest.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if os.path.lexists(target):
        os.unlink(target)
    shutil.copy2(os.path.realpath(src), target)


def install(root: str, programs: Mapping[str, Sequence[str]]) -> List[str]:
    """Copy @programs into the initramfs at @root, replacing busybox's
    applets of the same names; the host paths copied."""
    copied: List[str] = []
    for program, names in programs.items():
        binary = find(program)
        _copy(binary, root, f"/bin/{names[0]}")
        for alias in names[1:]:
            link = os.path.join(root, "bin", alias)
            if os.path.lexists(link):
                os.unlink(link)
            os.symlink(names[0], link)
        copied.append(binary)
        for lib in libraries(binary):
            if not os.path.exists(os.path.join(root, lib.lstrip("/"))):
                _copy(lib, root, lib)
                copied.append(lib)
    return copied
