# SPDX-License-Identifier: GPL-2.0-only
"""Download Debian packages through a private apt state and unpack them
with dpkg-deb -x (no maintainer scripts run) into a cached directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from typing import Dict

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


def unpacked(apt: AptState, packages: Dict[str, str], path: str,
             info: Dict[str, object]) -> str:
    """@path, holding root/ with @packages (name -> version) unpacked and
    manifest.json with @info; downloaded and unpacked if missing."""
    if os.path.isfile(os.path.join(path, MANIFEST)):
        return path

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
            json.dump({**info, "packages": packages}, f, indent=1, sort_keys=True)

    return cache.ensure_dir(path, build)


def manifest(path: str) -> Dict[str, object]:
    with open(os.path.join(path, MANIFEST)) as f:
        return json.load(f)
