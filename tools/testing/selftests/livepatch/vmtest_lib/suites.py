# SPDX-License-Identifier: GPL-2.0-only
"""The Debian kernels vmtest knows, by suite.

Versions and ABI numbers are not written here: they are read at run time
from the suite's linux-image-amd64 and linux-headers-amd64 metapackages.
What is fixed is where a kernel is built: a suite's modules are built in a
chroot of its build suite, with the compiler the headers package depends
on (the compiler the kernel was built with), unless the host itself is
that build suite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

OS_RELEASE = "/etc/os-release"


class UnknownSuite(Exception):
    """A suite name that is not in the table."""


@dataclass(frozen=True)
class Suite:
    name: str           # the Debian suite the kernel packages come from
    build_suite: str    # the suite whose userland builds modules for it
    series: str         # the kernel series, for messages ("6.12")
    compiler: str       # the compiler package, if the headers do not name one


SUITES: Dict[str, Suite] = {s.name: s for s in (
    Suite("bookworm", "bookworm", "6.1", "gcc-12"),
    Suite("trixie", "trixie", "6.12", "gcc-14"),
    Suite("trixie-backports", "trixie", "7.3", "gcc-14"),
    Suite("sid", "sid", "7.2", "gcc-16"),
)}

# The matrix of vmtest --all, in this order.
ALL: List[str] = ["bookworm", "trixie", "trixie-backports", "sid"]


def get(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise UnknownSuite(f"unknown suite {name!r}; known: {', '.join(ALL)}") from None


def host_codename(path: str = OS_RELEASE) -> Optional[str]:
    """VERSION_CODENAME of the host (/etc/os-release), or None."""
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                if key == "VERSION_CODENAME":
                    return value.strip('"') or None
    except OSError:
        return None
    return None


def on_host(suite: Suite, codename: Optional[str]) -> bool:
    """True when the host is the suite's own system: its kernel packages
    come from the host's apt and its modules are built on the host."""
    return codename is not None and suite.name == codename
