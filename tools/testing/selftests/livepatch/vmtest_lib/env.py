# SPDX-License-Identifier: GPL-2.0-only
"""The kernel environments: a Debian suite's current kernel, its headers,
and where its modules are built.

Python API (put tools/testing/selftests/livepatch on sys.path):

    from vmtest_lib import env
    e = env.environment("trixie")       # fetches what is missing; cached
    e.release, e.version, e.series      # 6.12.117+deb13-amd64, 6.12.117-1, 6.12
    e.vmlinuz                           # the kernel image to boot
    e.headers                           # linux-headers-<release> (host path:
                                        # klp-headers --headers reads it)
    e.build_headers                     # the same as seen by run(): use it
                                        # for "make -C" of the pristine tree
    e.config, e.system_map, e.modules   # the kernel's .config, System.map,
                                        # /lib/modules/<release> tree
    e.compiler                          # gcc-14: what the kernel was built with
    e.chroot                            # the build chroot's root, None: host
    e.build_suite                       # its suite (trixie for trixie-backports)
    e.run(["make", "-C", kdir, f"M={d}"], binds=[kdir, d], cwd=d,
          stdout=subprocess.PIPE, text=True)   # subprocess.CompletedProcess
    e.command(cmd, binds, env, cwd)     # the same as a host argv list
    e.source_tarball()                  # linux-source-<series>.tar.xz
    e.as_dict()                         # what --print-env prints

    env.environment(suite, cache_dir=None, install=True)
    env.source_tarball(suite), env.config(suite)
    env.source_tree(suite)              # that tarball extracted, as a git
                                        # repository (one commit), cached:
                                        # read only, clone it to change it

Suites: bookworm (6.1; on a bookworm host: the host's apt and gcc-12, as
plain vmtest), trixie (6.12, gcc-14 in a trixie chroot), trixie-backports
(7.3, the trixie chroot), sid (7.2, gcc-16 in a sid chroot).  Kernel
packages of the other suites come from a private apt state with the
host's mirror and are unpacked with dpkg-deb -x under the cache
(<cache>/kernels/<release>_<version>/root, manifest.json beside it).

Inside a chroot, run() makes visible: the @binds (host paths, same
absolute path), the unpacked kernel tree read-only at its host path, and
its headers and kbuild directories also at their Debian paths
(/usr/src/linux-headers-*, /usr/lib/linux-kbuild-*), so that the flavour
Makefile's absolute include of the common headers resolves and
"make -C <e.build_headers> M=<dir>" works there.  On the host suite run() is a
plain subprocess run; binds are ignored.

Shell: "vmtest --suite SUITE --print-env" prints as_dict() as JSON; its
"run" member is a command prefix: "<run...> CMD..." runs CMD where the
kernel's compiler is, in the current directory, which is visible there
with the directories listed in $KLP_BIND (colon-separated), e.g.
  KLP_BIND=$kdir:$mods "${run[@]}" make -C "$kdir" M="$mods"
(on the command line: vmtest --suite SUITE --bind DIR... --run CMD...).

Cache: --cache-dir, else $KLP_CACHE_DIR, else /var/cache/klp-convert."""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from . import aptsources, cache, chroot, fetch, kernelpkgs, suites, unpack
from .aptstate import AptError, AptState
from .chroot import Bind, ChrootError
from .config import VmtestError
from .progress import say

VMTEST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "vmtest")

BindLike = Union[str, Bind]


class EnvError(Exception):
    """The environment of a suite cannot be set up."""


# Everything environment() may raise for a broken setup (not a bug).
ERRORS = (EnvError, AptError, ChrootError, VmtestError, aptsources.NoMirror,
          cache.CacheError, kernelpkgs.ResolveError, suites.UnknownSuite,
          unpack.UnpackError)


@dataclass
class Environment:
    suite: str
    series: str
    release: str
    version: str
    vmlinuz: str
    headers: str
    config: Optional[str]
    system_map: Optional[str]
    modules: Optional[str]
    compiler: Optional[str]
    chroot: Optional[str]           # the chroot's root directory; None: host
    build_suite: Optional[str]      # the chroot's suite; None: host
    kernel_root: Optional[str]      # the unpacked packages; None: host
    cache_dir: str
    _apt: Optional[AptState] = field(default=None, repr=False)

    def kernel_binds(self) -> List[Bind]:
        if not self.kernel_root:
            return []
        binds = [Bind(self.kernel_root, readonly=True)]
        for d in sorted(glob.glob(os.path.join(self.kernel_root, "usr/src/*")) +
                        glob.glob(os.path.join(self.kernel_root, "usr/lib/linux-kbuild-*"))):
            binds.append(Bind(d, readonly=True,
                              target="/" + os.path.relpath(d, self.kernel_root)))
        return binds

    def command(self, cmd: Sequence[str], binds: Sequence[BindLike] = (),
                env: Optional[Dict[str, str]] = None,
                cwd: Optional[str] = None) -> List[str]:
        """The host argv that runs @cmd where the kernel's compiler is."""
        if self.chroot is None:
            prefix = ["env", *[f"{k}={v}" for k, v in (env or {}).items()]]
            return [*prefix, *cmd] if env else list(cmd)
        bs = [b if isinstance(b, Bind) else Bind(os.path.abspath(b)) for b in binds]
        return chroot.command(self.chroot, cmd, self.kernel_binds() + bs, env, cwd)

    def run(self, cmd: Sequence[str], binds: Sequence[BindLike] = (),
            env: Optional[Dict[str, str]] = None, cwd: Optional[str] = None,
            **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """subprocess.run() of @cmd where the kernel's compiler is
        (@kwargs go to subprocess.Popen(): output is bytes or text as
        they say)."""
        if self.chroot is None:
            return chroot.run_host(list(cmd), env=env, cwd=cwd, **kwargs)
        return chroot.run_host(self.command(cmd, binds, env, cwd), **kwargs)

    def source_tarball(self, install: bool = True) -> str:
        """linux-source-<series>.tar.xz of this kernel's version."""
        if self._apt is None:
            return _host_source(self.series, install)
        return _fetch_source(self._apt, self.series, self.version, self.cache_dir)

    def as_dict(self) -> Dict[str, object]:
        d = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        d["build_headers"] = self.build_headers
        d["run"] = [sys.executable, VMTEST, "--suite", self.suite,
                    "--cache-dir", self.cache_dir, "--run"]
        return d

    @property
    def build_headers(self) -> str:
        """The headers directory as seen where run() runs: for
        "make -C" of the pristine headers (7.x headers name their own
        /usr/src path in KBUILD_OUTPUT and fail from another path)."""
        if self.chroot is None:
            return self.headers
        return f"/usr/src/linux-headers-{self.release}"


def _fetch_source(apt: AptState, series: str, version: str,
                  cache_root: str) -> str:
    """linux-source-<series> of @version (else the suite's) through @apt,
    unpacked under <cache>/sources: the path of its tarball."""
    name = f"linux-source-{series}"
    try:
        apt.show(f"{name}={version}")
    except AptError:
        wanted, version = version, apt.show(name)["Version"]
        say(f"vmtest: {name} {wanted} is not in {apt.suite}: using {version}")
    path = os.path.join(cache_root, "sources", f"{name}_{version}")
    unpack.unpacked(apt, {name: version}, path, {"suite": apt.suite, "package": name})
    tarballs = glob.glob(os.path.join(path, "root/usr/src/linux-source-*.tar.*"))
    if len(tarballs) != 1:
        raise EnvError(f"{name}: expected one tarball in {path}, found {tarballs}")
    return tarballs[0]


def _host_source(series: str, install: bool) -> str:
    tarball = f"/usr/src/linux-source-{series}.tar.xz"
    if not os.path.exists(tarball) and install:
        fetch.apt_install([f"linux-source-{series}"])
    if not os.path.exists(tarball):
        raise EnvError(f"{tarball} is missing (apt install linux-source-{series})")
    return tarball


def host_environment(suite: suites.Suite, cache_root: str,
                     install: bool) -> Environment:
    """The host's own kernel packages (installed with the host's apt),
    built on the host."""
    if install:
        fetch.apt_install(["linux-image-amd64", "linux-headers-amd64"])
    release = fetch.debian_kernel()
    vmlinuz, headers = fetch.kernel_and_headers(release, install)
    deps = subprocess.run(["dpkg-query", "-W", "-f=${Depends}",
                           f"linux-headers-{release}"],
                          capture_output=True, text=True).stdout
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}",
                              f"linux-image-{release}"],
                             capture_output=True, text=True).stdout.strip()
    m = re.search(r"\b(gcc-\d+)\b", deps)

    def existing(p: str) -> Optional[str]:
        return p if os.path.exists(p) else None

    return Environment(
        suite=suite.name, series=suite.series, release=release, version=version,
        vmlinuz=vmlinuz, headers=headers,
        config=existing(f"/boot/config-{release}"),
        system_map=existing(f"/boot/System.map-{release}"),
        modules=existing(f"/lib/modules/{release}"),
        compiler=m.group(1) if m else suite.compiler,
        chroot=None, build_suite=None, kernel_root=None, cache_dir=cache_root)


def given_kernel(vmlinuz: str, headers: str) -> Environment:
    """A kernel image and headers directory given by hand, built on the
    host (vmtest --kernel --kdir)."""
    release = os.path.basename(os.path.abspath(headers))
    release = release[len("linux-headers-"):] if release.startswith(
        "linux-headers-") else release
    return Environment(
        suite="given", series="", release=release, version="",
        vmlinuz=vmlinuz, headers=headers, config=None, system_map=None,
        modules=None, compiler=None, chroot=None, build_suite=None,
        kernel_root=None, cache_dir="")


def _resolved(suite: suites.Suite, cache_root: str) -> Tuple[AptState,
                                                              kernelpkgs.Resolved]:
    """The suite's apt state, updated, and its current kernel."""
    apt = AptState(os.path.join(cache_root, "apt", suite.name), suite.name,
                   aptsources.host_mirror())
    with cache.locked(os.path.join(apt.root, ".lock")):
        apt.update()
        return apt, kernelpkgs.resolve(apt.show)


def _chroot_environment(suite: suites.Suite, cache_root: str) -> Environment:
    apt, res = _resolved(suite, cache_root)
    compiler = res.compiler or suite.compiler
    with cache.locked(os.path.join(apt.root, ".lock")):
        path = os.path.join(cache_root, "kernels", f"{res.release}_{res.version}")
        unpack.unpacked(apt, res.packages, path,
                        {"suite": suite.name, "release": res.release,
                         "version": res.version, "compiler": compiler})
    croot = chroot.ensure(cache_root, suite.build_suite,
                          chroot.packages_for(compiler), apt.mirror)
    lay = kernelpkgs.Layout(os.path.join(path, "root"), res.release)
    vmlinuz, headers = lay.vmlinuz(), lay.headers()
    if not vmlinuz or not headers:
        raise EnvError(f"{path}: no vmlinuz or headers for {res.release} in "
                       f"{sorted(res.packages)}")
    return Environment(
        suite=suite.name, series=res.series, release=res.release,
        version=res.version, vmlinuz=vmlinuz, headers=headers,
        config=lay.config(), system_map=lay.system_map(), modules=lay.modules(),
        compiler=compiler, chroot=chroot.root_of(croot),
        build_suite=suite.build_suite, kernel_root=lay.root,
        cache_dir=cache_root, _apt=apt)


def environment(name: str, cache_dir: Optional[str] = None,
                install: bool = True) -> Environment:
    """The environment of suite @name, fetching and building what is
    missing.  @install: the host suite may apt-get install its kernel."""
    suite = suites.get(name)
    cache_root = cache.cache_dir(cache_dir)
    if suites.on_host(suite, suites.host_codename()):
        return host_environment(suite, cache_root, install)
    return _chroot_environment(suite, cache_root)


def source_tarball(name: str, cache_dir: Optional[str] = None,
                   install: bool = True) -> str:
    """linux-source-<series>.tar.xz of suite @name's current kernel (no
    chroot needed: nothing is built)."""
    suite = suites.get(name)
    cache_root = cache.cache_dir(cache_dir)
    if suites.on_host(suite, suites.host_codename()):
        return host_environment(suite, cache_root, install).source_tarball(install)
    apt, res = _resolved(suite, cache_root)
    return _fetch_source(apt, res.series, res.version, cache_root)


def _extract_and_commit(tarball: str, tmp: str) -> None:
    say(f"vmtest: extracting {os.path.basename(tarball)} (a git repository "
        "of the pristine tree, about a minute)")
    r = subprocess.run(["tar", "-xf", tarball, "-C", tmp],
                       capture_output=True, text=True)
    tops = os.listdir(tmp)
    if r.returncode or len(tops) != 1:
        raise EnvError(f"tar -xf {tarball} failed: {r.stderr.strip() or tops}")
    top = os.path.join(tmp, tops[0])
    git = ["git", "-c", "user.name=vmtest", "-c", "user.email=vmtest@localhost",
           "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"]
    for cmd in (["init", "-q"], ["add", "-A", "-f", "."],
                ["commit", "-q", "--no-verify", "-m", f"{tops[0]} (pristine)"]):
        r = subprocess.run(git + cmd, cwd=top, capture_output=True, text=True)
        if r.returncode:
            raise EnvError(f"git {cmd[0]} in {top} failed: {r.stderr.strip()}")


def source_tree(name: str, cache_dir: Optional[str] = None,
                install: bool = True) -> str:
    """The top directory of linux-source-<series> of suite @name
    (source_tarball()), extracted once into the cache and committed as a
    git repository of one commit.  Shared and read only: clone it (git
    clone --shared) to change anything."""
    tarball = source_tarball(name, cache_dir, install)
    st = os.stat(tarball)
    base = os.path.basename(tarball).split(".tar")[0]
    path = os.path.join(cache.cache_dir(cache_dir), "trees",
                        f"{base}-{st.st_size}-{int(st.st_mtime)}")

    def valid(entry: str) -> bool:
        return any(os.path.isdir(os.path.join(entry, d, ".git"))
                   for d in os.listdir(entry))

    cache.ensure_dir(path, lambda tmp: _extract_and_commit(tarball, tmp), valid)
    return os.path.join(path, os.listdir(path)[0])


def config(name: str, cache_dir: Optional[str] = None) -> str:
    """The running kernel's own .config of suite @name."""
    e = environment(name, cache_dir)
    if not e.config:
        raise EnvError(f"{name}: no config file for {e.release}")
    return e.config
