# SPDX-License-Identifier: GPL-2.0-only
"""The Debian mirror, read from the host's own apt sources.

No mirror is written down in the project: the host's deb822
/etc/apt/sources.list.d/*.sources or one-line sources.list entries name
it.  The main archive entry is a "deb" entry with the "main" component for
a plain release suite (not -security, -updates, -backports, ...) that is
not the security archive."""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

DEFAULT_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SOURCES_DIR = "/etc/apt/sources.list.d"
SOURCES_LIST = "/etc/apt/sources.list"


class NoMirror(Exception):
    """The host's apt sources have no Debian main archive entry."""


@dataclass(frozen=True)
class Entry:
    types: List[str]
    uris: List[str]
    suites: List[str]
    components: List[str]
    signed_by: Optional[str]
    origin: str             # file:line, for messages


@dataclass(frozen=True)
class Mirror:
    uri: str                # e.g. http://<host>/debian (no trailing /)
    keyring: str            # the keyring file apt and debootstrap verify with
    origin: str


def parse_deb822(text: str, origin: str) -> List[Entry]:
    """Entries of a deb822 .sources file (disabled ones left out)."""
    entries: List[Entry] = []
    for n, stanza in enumerate(re.split(r"\n\s*\n", text), 1):
        fields: Dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += "\n" + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if not fields or fields.get("enabled", "yes").lower() == "no":
            continue
        signed = fields.get("signed-by", "")
        entries.append(Entry(
            types=fields.get("types", "").split(),
            uris=fields.get("uris", "").split(),
            suites=fields.get("suites", "").split(),
            components=fields.get("components", "").split(),
            # an inline key block is not a file: use the default keyring
            signed_by=signed if signed and "\n" not in signed else None,
            origin=f"{origin} stanza {n}"))
    return entries


def parse_one_line(text: str, origin: str) -> List[Entry]:
    """Entries of a one-line-style sources.list."""
    entries: List[Entry] = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if not m:
            continue
        opts = dict(o.split("=", 1) for o in (m.group(2) or "").split() if "=" in o)
        entries.append(Entry([m.group(1)], [m.group(3)], [m.group(4)],
                             m.group(5).split(), opts.get("signed-by"),
                             f"{origin}:{n}"))
    return entries


def is_main_archive(e: Entry) -> bool:
    plain = [s for s in e.suites if "-" not in s and "/" not in s]
    return ("deb" in e.types and "main" in e.components and bool(plain)
            and any(u.startswith(("http://", "https://")) and
                    "security" not in u for u in e.uris))


def host_entries(sources_dir: str = SOURCES_DIR,
                 sources_list: str = SOURCES_LIST) -> List[Entry]:
    entries: List[Entry] = []
    if os.path.isfile(sources_list):
        with open(sources_list) as f:
            entries += parse_one_line(f.read(), sources_list)
    for path in sorted(glob.glob(os.path.join(sources_dir, "*.list"))):
        with open(path) as f:
            entries += parse_one_line(f.read(), path)
    for path in sorted(glob.glob(os.path.join(sources_dir, "*.sources"))):
        with open(path) as f:
            entries += parse_deb822(f.read(), path)
    return entries


def main_mirror(entries: Iterable[Entry],
                default_keyring: str = DEFAULT_KEYRING) -> Mirror:
    """The first Debian main archive entry of @entries."""
    entries = list(entries)
    for e in entries:
        if is_main_archive(e):
            uri = next(u for u in e.uris if u.startswith(("http://", "https://"))
                       and "security" not in u)
            keyring = e.signed_by if e.signed_by and os.path.isfile(e.signed_by) \
                else default_keyring
            return Mirror(uri.rstrip("/"), keyring, e.origin)
    where = ", ".join(sorted({e.origin.split(" ")[0].rsplit(":", 1)[0]
                              for e in entries})) or "no sources found"
    raise NoMirror("the host's apt sources have no Debian main archive entry "
                   f"(deb, component main, a release suite; read: {where})")


def host_mirror() -> Mirror:
    return main_mirror(host_entries())
