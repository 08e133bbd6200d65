# SPDX-License-Identifier: GPL-2.0-only
"""klp-symbols, the VM's side: after the selftests, the /init loads the
test modules again (targets first, then every livepatch, one transition
at a time), prints what each livepatch resolved (its "resolved" module
parameter) and the whole /proc/kallsyms of that boot (gzip, base64)
between markers on the console.  The host decodes both (read_console())
and keeps the dump per kernel release in the cache (keep())."""

from __future__ import annotations

import base64
import binascii
import gzip
import os
import shutil
import zlib
from dataclasses import dataclass
from typing import Dict, List, NamedTuple

from . import cache
from .config import VmtestError

TAG = "klp-symbols:"
RESOLVED_BEGIN, RESOLVED_END = f"{TAG} resolved begin", f"{TAG} resolved end"
KALLSYMS_BEGIN, KALLSYMS_END = f"{TAG} kallsyms begin", f"{TAG} kallsyms end"
FAILED = f"{TAG} failed:"
UPTIME = f"{TAG} uptime"

# Runs in the /init after the selftests, with dash or busybox sh.  A
# livepatch's insmod returns while its transition may still run, and the
# next klp_enable_patch() would fail with -EBUSY: wait for each one.
SNIPPET = r"""# klp-symbols: the same boot's resolved addresses and /proc/kallsyms
echo "%(uptime)s $(cut -d' ' -f1 /proc/uptime)"
cd /selftests/livepatch/test_modules
for m in %(targets)s; do
	insmod $m.ko || echo "%(failed)s insmod $m"
done
for lp in %(livepatches)s; do
	insmod $lp.ko || echo "%(failed)s insmod $lp"
	i=0
	while [ "$(cat /sys/kernel/livepatch/$lp/transition 2>/dev/null)" != 0 ]; do
		i=$((i + 1))
		[ $i -le 60 ] || { echo "%(failed)s $lp transition"; break; }
		sleep 1
	done
done
echo "%(rbegin)s"
for lp in %(livepatches)s; do
	sed "s/^/$lp /" /sys/module/$lp/parameters/resolved ||
		echo "%(failed)s $lp resolved"
done
echo "%(rend)s"
echo "%(kbegin)s"
gzip -c /proc/kallsyms | base64
echo "%(kend)s"
echo "%(uptime)s $(cut -d' ' -f1 /proc/uptime)"
cd /
"""


def snippet(targets: List[str], livepatches: List[str]) -> str:
    """The /init lines for these module names (without .ko)."""
    return SNIPPET % {"targets": " ".join(targets),
                      "livepatches": " ".join(livepatches),
                      "failed": FAILED, "rbegin": RESOLVED_BEGIN,
                      "rend": RESOLVED_END, "kbegin": KALLSYMS_BEGIN,
                      "kend": KALLSYMS_END, "uptime": UPTIME}


class Resolved(NamedTuple):
    """One line of a livepatch's "resolved" parameter: what the kernel
    resolved for its klp symbol <obj>.<sym>,<pos>."""
    module: str
    obj: str
    sym: str
    pos: int
    addr: int
    where: str


@dataclass
class Dump:
    resolved: List[Resolved]
    kallsyms: bytes             # /proc/kallsyms of the same boot
    seconds: float              # what it took in the VM


def _between(lines: List[str], begin: str, end: str, console: str) -> List[str]:
    try:
        start = lines.index(begin)
        stop = lines.index(end, start)
    except ValueError:
        raise VmtestError(f"klp-symbols: no complete '{begin}' ... '{end}' "
                          f"block on the console; see {console}") from None
    return lines[start + 1:stop]


def _resolved(line: str, console: str) -> Resolved:
    f = line.split()
    try:
        return Resolved(f[0], f[1], f[2], int(f[3]), int(f[4], 16),
                        " ".join(f[5:]))
    except (IndexError, ValueError):
        raise VmtestError(f"klp-symbols: bad resolved line {line!r}; see "
                          f"{console}") from None


def read_console(console: str) -> Dump:
    """The resolved addresses and the kallsyms dump from a console log."""
    with open(console, errors="replace") as f:
        lines = [ln.replace("\r", "").rstrip("\n") for ln in f]
    failed = [ln for ln in lines if ln.startswith(FAILED)]
    if failed:
        raise VmtestError(f"{failed[0]}; see {console}")
    resolved = [_resolved(ln, console) for ln in
                _between(lines, RESOLVED_BEGIN, RESOLVED_END, console)]
    if not resolved:
        raise VmtestError(f"klp-symbols: no livepatch listed what it "
                          f"resolved; see {console}")
    text = "".join(_between(lines, KALLSYMS_BEGIN, KALLSYMS_END, console))
    try:
        data = gzip.decompress(base64.b64decode(text, validate=True))
    except (binascii.Error, OSError, EOFError, zlib.error) as exc:
        raise VmtestError(f"klp-symbols: the /proc/kallsyms dump on the "
                          f"console is damaged ({exc}); see {console}") from None
    return Dump(resolved, data, _seconds(lines))


def _seconds(lines: List[str]) -> float:
    times = []
    for ln in lines:
        if ln.startswith(UPTIME):
            try:
                times.append(float(ln.split()[-1]))
            except ValueError:
                pass
    return times[-1] - times[0] if len(times) == 2 else 0.0


def by_module(resolved: List[Resolved]) -> Dict[str, List[Resolved]]:
    out: Dict[str, List[Resolved]] = {}
    for r in resolved:
        out.setdefault(r.module, []).append(r)
    return out


def cached(cache_root: str, release: str) -> str:
    """Where keep() keeps the last dump of a kernel release ("" when
    there is no cache: vmtest --kernel --kdir)."""
    if not cache_root:
        return ""
    return os.path.join(cache_root, "kallsyms", release, "kallsyms.txt")


def keep(data: bytes, workdir: str, cache_root: str, release: str) -> str:
    """Write the dump to @workdir/kallsyms.txt (what the builds use) and
    to the cache, cached() (the last dump of that kernel, for building
    against it by hand); returns the former."""
    path = os.path.join(workdir, "kallsyms.txt")
    with open(path, "wb") as f:
        f.write(data)
    if not cached(cache_root, release):
        return path
    keep_dir = os.path.dirname(cached(cache_root, release))
    os.makedirs(keep_dir, exist_ok=True)
    with cache.locked(os.path.join(keep_dir, ".lock")):
        tmp = os.path.join(keep_dir, f"{cache.TMP_PREFIX}kallsyms.{os.getpid()}")
        shutil.copy(path, tmp)
        os.replace(tmp, os.path.join(keep_dir, "kallsyms.txt"))
    return path
