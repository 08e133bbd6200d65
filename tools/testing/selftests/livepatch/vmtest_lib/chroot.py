# SPDX-License-Identifier: GPL-2.0-only
"""Build chroots (debootstrap --variant=minbase), cached, and running a
command inside one.

A chroot is made once per build suite and package list, under
<cache>/chroots/<suite>-<hash>, built in a temporary directory and renamed
when complete.  debootstrap itself runs in a private mount namespace, so
the /proc and /sys it mounts inside the target vanish with it even when
the run is killed.

run() starts the command in a new mount namespace (unshare --mount) where
the chroot gets /dev, /proc, a fresh tmpfs /tmp and the requested host
directories bind-mounted at the same absolute paths, then chroots: nothing
stays mounted when the command ends, however it ends."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

from . import cache
from .aptsources import Mirror
from .progress import human_size, say, tree_size

# What building modules (and modules_prepare of a source tree) needs; the
# compiler package is added per kernel.
BUILD_PACKAGES = [
    "make", "binutils", "libc6-dev", "libelf-dev", "libssl-dev", "openssl",
    "pahole", "python3", "python3-pyelftools", "patch", "kmod", "bc",
    "bison", "flex", "cpio", "xz-utils", "zstd", "perl", "pkgconf",
    "ca-certificates",
]
DEBOOTSTRAP_SCRIPTS = "/usr/share/debootstrap/scripts"
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ChrootError(Exception):
    """A chroot could not be made or entered."""


@dataclass(frozen=True)
class Bind:
    path: str               # host path, mounted at the same path inside
    readonly: bool = False
    target: Optional[str] = None    # another path inside, if given

    @property
    def inside(self) -> str:
        return self.target or self.path


def packages_for(compiler: str) -> List[str]:
    return sorted(set(BUILD_PACKAGES) | {compiler})


def chroot_path(cache_root: str, suite: str, packages: Sequence[str]) -> str:
    key = hashlib.sha256(" ".join([suite, "minbase", *sorted(packages)])
                         .encode()).hexdigest()[:12]
    return os.path.join(cache_root, "chroots", f"{suite}-{key}")


def _default_compiler(target: str, packages: Sequence[str]) -> None:
    """gcc and cc in /usr/local/bin: the kernel's compiler, so that a
    source tree's default CC=gcc and HOSTCC=gcc build with it."""
    gcc = [p for p in packages if re.fullmatch(r"gcc-\d+", p)]
    if len(gcc) != 1:
        return
    bindir = os.path.join(target, "usr", "local", "bin")
    os.makedirs(bindir, exist_ok=True)
    for name in ("gcc", "cc"):
        os.symlink(f"/usr/bin/{gcc[0]}", os.path.join(bindir, name))


def _debootstrap(suite: str, packages: Sequence[str], mirror: Mirror,
                 target: str) -> None:
    script = suite if os.path.exists(os.path.join(DEBOOTSTRAP_SCRIPTS, suite)) \
        else "sid"
    cmd = ["unshare", "--mount", "--propagation", "private",
           "debootstrap", "--variant=minbase", "--components=main",
           f"--keyring={mirror.keyring}", f"--include={','.join(packages)}",
           suite, target, mirror.uri, os.path.join(DEBOOTSTRAP_SCRIPTS, script)]
    log = os.path.join(target + ".log")
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        last = 0.0
        for line in proc.stdout:
            f.write(line)
            # debootstrap's own progress: one line every few seconds
            if line.startswith("I: ") and time.monotonic() - last > 5:
                last = time.monotonic()
                say(f"vmtest: debootstrap {suite}: {line[3:].strip()}")
        rc = proc.wait()
    if rc:
        with open(log) as f:
            tail = "".join(f.readlines()[-15:])
        raise ChrootError(f"debootstrap {suite} failed (exit {rc}):\n{tail}")
    os.unlink(log)


def ensure(cache_root: str, suite: str, packages: Sequence[str],
           mirror: Mirror) -> str:
    """The chroot of @suite with @packages, made if missing."""
    path = chroot_path(cache_root, suite, packages)
    if os.path.isdir(path):
        return path

    def build(tmp: str) -> None:
        say(f"vmtest: creating the {suite} build chroot {path} "
            f"(debootstrap --variant=minbase, {len(packages)} extra packages; "
            f"about a minute and 500 MB)")
        start = time.monotonic()
        target = os.path.join(tmp, "root")
        _debootstrap(suite, packages, mirror, target)
        _default_compiler(target, packages)
        # the package cache is not needed once installed
        archives = os.path.join(target, "var", "cache", "apt", "archives")
        for name in os.listdir(archives) if os.path.isdir(archives) else []:
            if name.endswith(".deb"):
                os.unlink(os.path.join(archives, name))
        with open(os.path.join(tmp, "packages"), "w") as f:
            f.write("\n".join(packages) + "\n")
        say(f"vmtest: {suite} chroot ready: {human_size(tree_size(target))} in "
            f"{time.monotonic() - start:.0f} s")

    cache.ensure_dir(path, build)
    return path


def root_of(chroot_dir: str) -> str:
    return os.path.join(chroot_dir, "root")


def _mount_script(root: str, binds: Sequence[Bind]) -> str:
    q = shlex.quote
    lines = ["set -e",
             f"mount -t tmpfs -o mode=1777 tmpfs {q(root + '/tmp')}",
             f"mount --rbind /dev {q(root + '/dev')}",
             f"mount -t proc proc {q(root + '/proc')}"]
    for b in sorted(binds, key=lambda b: b.inside):
        src, dst = q(b.path), q(root + b.inside)
        if os.path.isdir(b.path):
            lines.append(f"mkdir -p {dst}")
        else:
            lines.append(f"mkdir -p $(dirname {dst}); [ -e {dst} ] || : > {dst}")
        lines.append(f"mount --bind {src} {dst}")
        if b.readonly:
            lines.append(f"mount -o remount,bind,ro {dst}")
    return "\n".join(lines)


def command(root: str, cmd: Sequence[str], binds: Sequence[Bind] = (),
            env: Optional[Dict[str, str]] = None,
            cwd: Optional[str] = None) -> List[str]:
    """The host command line that runs @cmd inside the chroot @root."""
    for b in binds:
        if not os.path.isabs(b.path) or not os.path.exists(b.path):
            raise ChrootError(f"cannot bind {b.path} into the chroot: not an "
                              "existing absolute path")
    environ = {"PATH": PATH, "HOME": "/root", "LC_ALL": "C.UTF-8",
               "TERM": os.environ.get("TERM", "dumb"), **(env or {})}
    inner = ["/usr/bin/env", "-i", *[f"{k}={v}" for k, v in environ.items()],
             "/bin/sh", "-c", 'cd "$1" && shift && exec "$@"', "sh",
             cwd or "/", *cmd]
    script = _mount_script(root, binds) + "\nexec chroot " + shlex.quote(root) + \
        " " + " ".join(shlex.quote(a) for a in inner)
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
            script]


def run(root: str, cmd: Sequence[str], binds: Sequence[Bind] = (),
        env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
        **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """subprocess.run() of @cmd inside the chroot; the command and all it
    started are killed if this is interrupted (timeout, signal)."""
    return run_host(command(root, cmd, binds, env, cwd), **kwargs)


def run_host(cmd: Sequence[str], env: Optional[Dict[str, str]] = None,
             cwd: Optional[str] = None, input: Optional[str] = None,
             **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """subprocess.run() in its own process group, killed as a whole if
    this is interrupted (@kwargs go to subprocess.Popen(): output is
    bytes or text as they say)."""
    full_env = dict(os.environ, **env) if env else None
    proc = subprocess.Popen(cmd, env=full_env, cwd=cwd, start_new_session=True,
                            stdin=subprocess.PIPE if input is not None
                            else kwargs.pop("stdin", None), **kwargs)
    try:
        out, err = proc.communicate(input)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
