# SPDX-License-Identifier: GPL-2.0-only
"""Download Debian packages through a private apt state and unpack them
with dpkg-deb -x (no maintainer scripts run) into a cached directory."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import time
from typing import Dict, List

from . import cache
from .aptstate import AptState
from .progress import human_size, say, tree_size

MANIFEST = "manifest.json"


class UnpackError(Exception):
    """A package could not be unpacked."""


def _extract(deb: str, root: str) -> None:
    r = subprocess.run(["dpkg-deb", "-x", deb, root], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        raise UnpackError(f"dpkg-deb -x {deb} failed:\n{r.stdout.strip()}")


def _key_files(root: str) -> Dict[str, int]:
    """Sizes of the files a build or a boot reads first: the top level of
    every headers tree and of /boot and /usr/lib/modules/<release>."""
    sizes: Dict[str, int] = {}
    for pattern in ("usr/src/*/*", "boot/*", "usr/lib/modules/*/*",
                    "usr/src/*.tar.*"):
        for f in glob.glob(os.path.join(root, pattern)):
            if os.path.isfile(f) and not os.path.islink(f):
                sizes[os.path.relpath(f, root)] = os.path.getsize(f)
    return sizes


def damaged(path: str) -> List[str]:
    """Key files of an unpacked entry that changed since it was made
    (someone built in or edited the cache on the host)."""
    want = manifest(path).get("sizes")
    if not isinstance(want, dict):
        want = {}
    root = os.path.join(path, "root")
    bad = []
    for rel, size in sorted(want.items()):
        f = os.path.join(root, rel)
        if not os.path.isfile(f) or os.path.getsize(f) != size:
            bad.append(rel)
    return bad


def unpacked(apt: AptState, packages: Dict[str, str], path: str,
             info: Dict[str, object]) -> str:
    """@path, holding root/ with @packages (name -> version) unpacked and
    manifest.json with @info; downloaded and unpacked if missing or
    damaged."""
    def valid(entry: str) -> bool:
        if not os.path.isfile(os.path.join(entry, MANIFEST)):
            return False
        bad = damaged(entry)
        if bad:
            say(f"vmtest: {entry} was modified ({', '.join(bad[:3])}"
                f"{' ...' if len(bad) > 3 else ''}): unpacking it again")
        return not bad

    def build(tmp: str) -> None:
        debs = apt.download(packages, os.path.join(tmp, "debs"))
        start = time.monotonic()
        root = os.path.join(tmp, "root")
        for deb in debs:
            _extract(deb, root)
        shutil.rmtree(os.path.join(tmp, "debs"))
        say(f"vmtest: unpacked {len(debs)} packages "
            f"({human_size(tree_size(root))}) in {time.monotonic() - start:.1f} s "
            f"into {path}")
        with open(os.path.join(tmp, MANIFEST), "w") as f:
            json.dump({**info, "packages": packages, "sizes": _key_files(root)},
                      f, indent=1, sort_keys=True)

    return cache.ensure_dir(path, build, valid)


def manifest(path: str) -> Dict[str, object]:
    """The manifest.json of an unpacked entry."""
    with open(os.path.join(path, MANIFEST)) as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise UnpackError(f"{os.path.join(path, MANIFEST)}: not a JSON object")
    return data
