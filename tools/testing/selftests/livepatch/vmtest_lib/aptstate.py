# SPDX-License-Identifier: GPL-2.0-only
"""A private apt state for one Debian suite.

Its own APT_CONFIG points apt at its own sources.list (the host's mirror,
that one suite, component main), lists, archive cache and an empty dpkg
status, all under <cache>/apt/<suite>: the host's apt configuration and
package database are never touched.  Packages are only downloaded
(apt-get download) and later unpacked with dpkg-deb -x, never installed."""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import Dict, List, Optional

from .aptsources import Mirror
from .progress import human_size, say

# how old the package lists may be before a run refreshes them (an
# update that finds nothing new takes about a second: refresh every run)
LISTS_MAX_AGE = 0.0


class AptError(Exception):
    """An apt command failed."""


def parse_stanza(text: str) -> Dict[str, str]:
    """The first deb822 stanza of @text (apt-cache show output)."""
    fields: Dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        if line[0] in " \t" and key:
            fields[key] += "\n" + line.strip()
            continue
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def parse_depends(value: str) -> List[List[str]]:
    """'a (>= 1) | b, c' -> [['a', 'b'], ['c']] (names only)."""
    groups = []
    for group in value.split(","):
        names = [re.split(r"[\s(:]", alt.strip(), 1)[0]
                 for alt in group.split("|") if alt.strip()]
        if names:
            groups.append(names)
    return groups


class AptState:
    """apt for @suite of @mirror, state under @root."""

    def __init__(self, root: str, suite: str, mirror: Mirror) -> None:
        self.root = root
        self.suite = suite
        self.mirror = mirror
        self.conf = os.path.join(root, "apt.conf")
        self.lists = os.path.join(root, "lists")
        self.archives = os.path.join(root, "archives")
        self._updated = False
        self._write_config()

    def _write_config(self) -> None:
        for d in (self.lists, os.path.join(self.lists, "partial"),
                  os.path.join(self.archives, "partial")):
            os.makedirs(d, exist_ok=True)
        sources = os.path.join(self.root, "sources.list")
        status = os.path.join(self.root, "status")
        with open(sources + ".new", "w") as f:
            f.write(f"deb [signed-by={self.mirror.keyring}] {self.mirror.uri} "
                    f"{self.suite} main\n")
        os.replace(sources + ".new", sources)
        if not os.path.exists(status):
            open(status, "w").close()
        conf = {
            "Dir::Etc::SourceList": sources,
            "Dir::Etc::SourceParts": os.path.join(self.root, "sources.list.d"),
            "Dir::Etc::Preferences": os.path.join(self.root, "preferences"),
            "Dir::Etc::PreferencesParts": os.path.join(self.root, "preferences.d"),
            "Dir::State::Lists": self.lists,
            "Dir::State::status": status,
            "Dir::Cache": self.root,
            "Dir::Cache::archives": self.archives,
            "APT::Architecture": "amd64",
            "APT::Architectures": "amd64",
            "Acquire::Languages": "none",
        }
        with open(self.conf + ".new", "w") as f:
            for k, v in conf.items():
                f.write(f'{k} "{v}";\n')
        os.replace(self.conf + ".new", self.conf)

    def _apt(self, cmd: List[str], cwd: Optional[str] = None) -> str:
        # the package cache file: the host's apt.conf.d may disable it,
        # and rebuilding it on every call is slow
        full = [cmd[0], "-o", f"Dir::Cache::pkgcache={self.root}/pkgcache.bin",
                "-o", "Dir::Cache::srcpkgcache=",
                *cmd[1:]]
        env = dict(os.environ, APT_CONFIG=self.conf, LC_ALL="C.UTF-8",
                   DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(full, cwd=cwd, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if r.returncode:
            tail = "\n".join((r.stderr or r.stdout).strip().splitlines()[-10:])
            raise AptError(f"{' '.join(cmd)} ({self.suite}, {self.mirror.uri}) "
                           f"failed:\n{tail}")
        return r.stdout

    def lists_age(self) -> Optional[float]:
        release = [f for f in os.listdir(self.lists) if f.endswith("Release")]
        if not release:
            return None
        return time.time() - min(os.path.getmtime(os.path.join(self.lists, f))
                                 for f in release)

    def update(self, max_age: float = LISTS_MAX_AGE) -> None:
        """apt-get update, unless the lists are younger than @max_age s."""
        age = self.lists_age()
        if self._updated or (age is not None and age < max_age):
            return
        say(f"vmtest: apt-get update ({self.suite}, {self.mirror.uri})")
        start = time.monotonic()
        self._apt(["apt-get", "-q", "update"])
        # apt keeps the Release file's date: mark the refresh ourselves
        for f in os.listdir(self.lists):
            if f.endswith("Release"):
                os.utime(os.path.join(self.lists, f))
        self._updated = True
        say(f"vmtest: apt-get update ({self.suite}): "
            f"{time.monotonic() - start:.1f} s")

    def show(self, package: str) -> Dict[str, str]:
        """The candidate's fields (apt-cache show)."""
        out = self._apt(["apt-cache", "show", "--no-all-versions", package])
        fields = parse_stanza(out)
        if not fields.get("Package"):
            raise AptError(f"{package}: not in {self.suite}")
        return fields

    def download(self, packages: Dict[str, str], dest: str) -> List[str]:
        """apt-get download name=version into @dest; the .deb paths."""
        total = sum(int(self.show(f"{p}={v}").get("Size", 0))
                    for p, v in packages.items())
        say(f"vmtest: downloading {len(packages)} packages from {self.suite} "
            f"({human_size(total)}): {' '.join(sorted(packages))}")
        start = time.monotonic()
        os.makedirs(dest, exist_ok=True)
        self._apt(["apt-get", "-q", "download",
                   *[f"{p}={v}" for p, v in sorted(packages.items())]], cwd=dest)
        took = time.monotonic() - start
        say(f"vmtest: downloaded {human_size(total)} in {took:.1f} s"
            f"{f' ({human_size(total / took)}/s)' if took > 0.5 else ''}")
        debs = sorted(os.path.join(dest, f) for f in os.listdir(dest)
                      if f.endswith(".deb"))
        if len(debs) != len(packages):
            raise AptError(f"apt-get download left {len(debs)} .deb files in "
                           f"{dest}, expected {len(packages)}")
        return debs
