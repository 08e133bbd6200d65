# SPDX-License-Identifier: GPL-2.0-only
"""Which packages make up a suite's current kernel, and where their files
land once unpacked.

Resolved from the linux-image-amd64 and linux-headers-amd64 metapackages
of the suite, following their Depends through the kernel's own packages
(linux-image-<rel>, and on 7.x linux-binary-<rel>, linux-modules-<rel>,
linux-base-<rel>; linux-headers-<rel>, -common, linux-kbuild-<abi>).  The
compiler is the gcc-N (or gcc-N-for-host) that linux-headers-<rel>
depends on."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from .aptstate import parse_depends

FLAVOUR = "amd64"
METAPACKAGES = (f"linux-image-{FLAVOUR}", f"linux-headers-{FLAVOUR}")

Show = Callable[[str], Dict[str, str]]


class ResolveError(Exception):
    """The metapackages do not lead to a kernel."""


@dataclass
class Resolved:
    release: str                # uname -r, e.g. 6.12.117+deb13-amd64
    abi: str                    # 6.12.117+deb13
    version: str                # the source upload, e.g. 6.12.117-1
    packages: Dict[str, str] = field(default_factory=dict)  # name -> version
    compiler: Optional[str] = None                         # gcc-14

    @property
    def series(self) -> str:
        """6.12 for 6.12.117-1."""
        return ".".join(re.split(r"[.~+-]", self.version)[:2])


def _image_release(show: Show) -> str:
    deps = parse_depends(show(METAPACKAGES[0]).get("Depends", ""))
    for group in deps:
        m = re.match(rf"^linux-image-(\d\S*-{FLAVOUR})$", group[0])
        if m:
            return m.group(1)
    raise ResolveError(f"{METAPACKAGES[0]} depends on no linux-image-<release>-"
                       f"{FLAVOUR}: {deps}")


def _follow(name: str, abi: str) -> bool:
    """Kernel packages of this ABI and the flavour's metapackages."""
    if not name.startswith("linux-") or name.endswith("-unsigned"):
        return False
    return abi in name or name in METAPACKAGES or \
        re.fullmatch(rf"linux-[a-z]+-{FLAVOUR}", name) is not None


def _compiler(depends: str) -> Optional[str]:
    for group in parse_depends(depends):
        m = re.fullmatch(r"(gcc-\d+)(?:-for-host)?", group[0])
        if m:
            return m.group(1)
    return None


def resolve(show: Show) -> Resolved:
    """The kernel the metapackages of one suite point to, through @show
    (package name -> apt-cache show fields of its candidate)."""
    release = _image_release(show)
    abi = release[: -len(f"-{FLAVOUR}")]
    todo: List[str] = list(METAPACKAGES)
    seen: Dict[str, Dict[str, str]] = {}
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen[name] = fields = show(name)
        for group in parse_depends(fields.get("Depends", "")):
            if _follow(group[0], abi):
                todo.append(group[0])
    packages = {n: f["Version"] for n, f in seen.items() if abi in n}
    image = f"linux-image-{release}"
    headers = f"linux-headers-{release}"
    for need in (image, headers):
        if need not in packages:
            raise ResolveError(f"{need} not reached from {METAPACKAGES}")
    return Resolved(release, abi, packages[image], packages,
                    _compiler(seen[headers].get("Depends", "")))


@dataclass
class Layout:
    """Where the unpacked packages put things, under one root."""
    root: str
    release: str

    def _first(self, candidates: List[str]) -> Optional[str]:
        for c in candidates:
            p = os.path.join(self.root, c.lstrip("/"))
            if os.path.exists(p):
                return p
        return None

    def _mods(self, name: str) -> List[str]:
        return [f"/usr/lib/modules/{self.release}/{name}",
                f"/lib/modules/{self.release}/{name}"]

    def vmlinuz(self) -> Optional[str]:
        return self._first([f"/boot/vmlinuz-{self.release}", *self._mods("vmlinuz")])

    def config(self) -> Optional[str]:
        return self._first([f"/boot/config-{self.release}", *self._mods("config"),
                            f"/usr/src/linux-headers-{self.release}/.config"])

    def system_map(self) -> Optional[str]:
        return self._first([f"/boot/System.map-{self.release}",
                            *self._mods("System.map")])

    def modules(self) -> Optional[str]:
        return self._first([m.rstrip("/") for m in self._mods("")])

    def headers(self) -> Optional[str]:
        return self._first([f"/usr/src/linux-headers-{self.release}"])
