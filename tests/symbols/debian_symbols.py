# SPDX-License-Identifier: GPL-2.0-only
"""Real symbol tables of Debian's current kernel, for the tests.

- modules: /lib/modules/<release> of the installed linux-image package;
- /proc/kallsyms: dumped from that kernel booted under QEMU with a busybox
  initramfs (as vmtest does), after loading modules that have real
  homonyms, once with addresses and once with kptr_restrict=2 (all
  zero);
- System.map and vmlinux: from the matching linux-image-<release>-dbg
  package (about 860 MB to download, 8 s here; only System.map and the
  vmlinux symbol table are kept).

Generated, not committed: a dump is only comparable with the modules
and the vmlinux of the very same build, and the kernel that tests/run
installs changes with every Debian security update (its ABI number is
resolved at run time); a committed excerpt would stop matching the
installed modules at the next update, and the whole dump (4 MB, 97,725
lines for 6.1.0-56 with these modules) is too big for a fixture.  So
everything is made for the kernel that is installed and cached under
CACHE, keyed by the release and the vmlinuz's size and time, behind a
lock so that parallel test workers make it once: the first run boots
QEMU (about 20 s) and downloads the -dbg package; later runs read the
cache.  Failures raise RealDataError: the tests that need the data fail
with its reason.
"""

from __future__ import annotations

import base64
import fcntl
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "tools" / "testing" / "selftests" / "livepatch"))

from vmtest_lib import fetch, qemu  # noqa: E402

CACHE = Path(os.environ.get("KLP_SYMBOLS_CACHE",
                            "/var/cache/klp-convert/symbols"))

# Modules loaded before the dump: each has functions or data that share
# a name inside the module (found by scanning Debian 6.1's modules).
# virtio_pci: del_vq, setup_vq (virtio_pci_legacy.c, virtio_pci_modern.c);
# vmw_vsock_vmci_transport: vmci_transport_notify_pkt_*; snd-oxygen:
# hpf_get/hpf_put/hpf_info (a '-' in the file name).
DUMP_MODULES = ("virtio_pci", "vmw_vsock_vmci_transport", "snd_oxygen")

BEGIN, END = "klp-kallsyms: begin", "klp-kallsyms: end"
DONE = "klp-kallsyms: done"

INIT = r"""#!/bin/sh
export PATH=/bin:/sbin
mount -t proc proc /proc
for m in %(modules)s; do
	insmod /modules/$m || echo "klp-kallsyms: insmod $m failed"
done
echo 0 > /proc/sys/kernel/kptr_restrict
echo "%(begin)s real"
gzip -c /proc/kallsyms | base64
echo "%(end)s real"
echo 2 > /proc/sys/kernel/kptr_restrict
echo "%(begin)s hidden"
gzip -c /proc/kallsyms | base64
echo "%(end)s hidden"
echo "%(done)s"
poweroff -f
"""


class RealDataError(Exception):
    """The real data could not be produced (the message says why)."""


def release() -> str:
    try:
        return fetch.debian_kernel()
    except Exception as exc:
        raise RealDataError(f"no Debian kernel: {exc}") from None


def moddir(rel: str) -> Path:
    path = Path("/lib/modules") / rel
    if not (path / "modules.dep").is_file():
        raise RealDataError(f"{path}/modules.dep is missing (install "
                            f"linux-image-{rel})")
    return path


def _key(rel: str) -> Path:
    vmlinuz = Path("/boot") / f"vmlinuz-{rel}"
    try:
        st = vmlinuz.stat()
    except OSError:
        raise RealDataError(f"{vmlinuz} is missing") from None
    return CACHE / f"{rel}-{st.st_size}-{int(st.st_mtime)}"


class _Locked:
    def __init__(self, directory: Path) -> None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self.file = open(directory / ".lock", "w")
        except OSError as exc:
            raise RealDataError(f"cannot use the cache {directory}: {exc} "
                                "(set KLP_SYMBOLS_CACHE)") from None

    def __enter__(self) -> "_Locked":
        fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def module_files(rel: str, names: tuple) -> list:
    """@names and their dependencies, in load order (modules.dep)."""
    deps = {}
    base = moddir(rel)
    for line in (base / "modules.dep").read_text().splitlines():
        mod, _c, rest = line.partition(":")
        deps[Path(mod).name.split(".ko")[0].replace("-", "_")] = \
            (mod, [d for d in rest.split()])
    order: list = []
    for name in names:
        if name not in deps:
            raise RealDataError(f"module {name} is not in {rel}")
        mod, needs = deps[name]
        for path in needs[::-1] + [mod]:
            if path not in order:
                order.append(path)
    return [base / p for p in order]


def _decode(lines: list, tag: str) -> bytes:
    try:
        start = lines.index(f"{BEGIN} {tag}")
        end = lines.index(f"{END} {tag}")
    except ValueError:
        raise RealDataError(f"the VM printed no complete {tag} dump") from None
    return gzip.decompress(base64.b64decode("".join(lines[start + 1:end])))


def _boot_and_dump(rel: str, work: Path) -> tuple:
    root = work / "root"
    for d in ("bin", "proc", "modules"):
        (root / d).mkdir(parents=True)
    busybox = shutil.which("busybox") or "/bin/busybox"
    shutil.copy(busybox, root / "bin" / "busybox")
    for applet in ("sh", "mount", "insmod", "gzip", "base64", "echo",
                   "poweroff"):
        os.symlink("busybox", root / "bin" / applet)
    files = module_files(rel, DUMP_MODULES)
    for f in files:
        shutil.copy(f, root / "modules" / f.name)
    (root / "init").write_text(INIT % {
        "modules": " ".join(f.name for f in files), "begin": BEGIN,
        "end": END, "done": DONE})
    (root / "init").chmod(0o755)
    initrd = work / "initrd.cpio.gz"
    subprocess.run(f"cd {root} && find . | cpio -o -H newc --quiet | gzip -1 "
                   f"> {initrd}", shell=True, check=True)
    cmd = qemu.command(f"/boot/vmlinuz-{rel}", str(initrd), False, "1G")
    i = cmd.index("-append")
    cmd[i + 1] = cmd[i + 1].replace("loglevel=2", "loglevel=0")
    lines: list = []
    run = qemu.boot(cmd, str(work / "console.log"), time.monotonic() + 600,
                    DONE, lambda line: lines.append(line.strip()))
    if not run.finished:
        raise RealDataError(f"the VM did not finish (QEMU exit "
                            f"{run.returncode}, timed out: {run.timed_out}); "
                            f"see {work / 'console.log'}")
    failed = [ln for ln in lines if "insmod" in ln and "failed" in ln]
    if failed:
        raise RealDataError(f"loading modules failed: {failed}")
    return _decode(lines, "real"), _decode(lines, "hidden")


def kallsyms(rel: str) -> tuple:
    """(dump with addresses, dump with hidden addresses) of @rel's
    /proc/kallsyms with DUMP_MODULES loaded."""
    key = _key(rel)
    real, hidden = key / "kallsyms.txt", key / "kallsyms-hidden.txt"
    with _Locked(CACHE):
        if not real.exists() or not hidden.exists():
            key.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix="klp-kallsyms."))
            try:
                data, zeros = _boot_and_dump(rel, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            hidden.write_bytes(zeros)
            real.write_bytes(data)
    return real, hidden


def _fetch_dbg(rel: str, key: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="klp-dbg.", dir=str(CACHE)))
    try:
        pkg = f"linux-image-{rel}-dbg"
        r = subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=900",
                            "download", pkg], cwd=work, capture_output=True,
                           text=True)
        debs = list(work.glob("*.deb"))
        if r.returncode or not debs:
            raise RealDataError(f"apt-get download {pkg} failed: "
                                f"{r.stderr.strip()[-500:]}")
        members = [f"./usr/lib/debug/boot/System.map-{rel}",
                   f"./usr/lib/debug/boot/vmlinux-{rel}"]
        subprocess.run(f"dpkg-deb --fsys-tarfile {debs[0]} | tar -x -C {work} "
                       + " ".join(members), shell=True, check=True)
        shutil.move(str(work / members[0]), str(key / "System.map"))
        # Only the headers and the symbol table: --extract-symbol drops
        # every section's contents (600 MB of debug information).
        subprocess.run(["objcopy", "--extract-symbol", str(work / members[1]),
                        str(key / "vmlinux")], check=True)
    except subprocess.CalledProcessError as exc:
        raise RealDataError(f"extracting the -dbg package failed: {exc}") \
            from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def dbg(rel: str) -> tuple:
    """(System.map, vmlinux with its symbol table) of @rel."""
    key = _key(rel)
    sysmap, vmlinux = key / "System.map", key / "vmlinux"
    with _Locked(CACHE):
        if not sysmap.exists() or not vmlinux.exists():
            key.mkdir(parents=True, exist_ok=True)
            _fetch_dbg(rel, key)
    return sysmap, vmlinux
