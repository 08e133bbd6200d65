# SPDX-License-Identifier: GPL-2.0-only
"""Which kernel a tree is, and what the series looks like on it.

The version comes from the tree's Makefile (VERSION, PATCHLEVEL,
SUBLEVEL, EXTRAVERSION); what the tree already has decides the layout:

  klp-build            scripts/livepatch/klp-build (6.19+): scripts/livepatch/
                       and its MAINTAINERS line exist already
  objtool klp          tools/objtool/klp-post-link.c: "objtool klp post-link"
  livepatch_external   include/linux/livepatch_external.h: KLP_SYM_PREFIX;
                       then KLP_RELOC_SYMBOL*() goes into <linux/livepatch.h>
  test_modules         tools/testing/selftests/livepatch/test_modules/ (6.10+):
                       the selftests join mainline's livepatch suite
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Tuple

from .proc import SeriesError

Version = Tuple[int, int, int]


@dataclass(frozen=True)
class Generation:
    """A Kbuild generation: the kernels one hook patch is written for."""

    name: str
    first: Tuple[int, int]          # first VERSION.PATCHLEVEL it covers
    hooks: Tuple[str, ...]          # project patch files, the first found wins


# The Kbuild hook per generation (scripts/kbuild-hook/, as install-hook
# uses them), newest last.  A generation covers the kernels from its first
# version up to the next generation's; the patch must apply without fuzz.
GENERATIONS = (
    Generation("6.1", (6, 1), ("scripts/kbuild-hook/kbuild-6.1.patch",)),
    Generation("6.12", (6, 12), ("scripts/kbuild-hook/kbuild-6.12.patch",)),
    Generation("7", (7, 0), ("scripts/kbuild-hook/kbuild-7.patch",)),
)

# The hook variants and their installer are for users of a kernel tree or
# headers package; the series applies one variant and copies none of them.
HOOK_FILES = re.compile(r"^scripts/kbuild-hook/")

FEATURES: Dict[str, str] = {
    "klp_build": "scripts/livepatch/klp-build",
    "objtool_klp": "tools/objtool/klp-post-link.c",
    "livepatch_external": "include/linux/livepatch_external.h",
    "test_modules": "tools/testing/selftests/livepatch/test_modules",
}

_VAR = re.compile(r"^(VERSION|PATCHLEVEL|SUBLEVEL|EXTRAVERSION)\s*=[ \t]*(.*?)\s*$",
                  re.MULTILINE)


@dataclass(frozen=True)
class Base:
    """A kernel tree: its version, generation and the features it has."""

    version: Version
    extraversion: str
    generation: Generation
    features: Tuple[str, ...]       # keys of FEATURES the tree has

    @property
    def release(self) -> str:
        return ".".join(str(v) for v in self.version) + self.extraversion

    def has(self, feature: str) -> bool:
        if feature not in FEATURES:
            raise KeyError(feature)
        return feature in self.features


@dataclass(frozen=True)
class Layout:
    """Where the series puts things on a base."""

    # KLP_RELOC_SYMBOL*() in <linux/livepatch.h> (with KLP_SYM_PREFIX)
    # rather than in scripts/livepatch/include/linux/klp_reloc.h
    macros_in_livepatch_h: bool
    # the selftests join tools/testing/selftests/livepatch/ (mainline's
    # functions.sh and test_modules/) rather than a suite of their own
    selftests_in_place: bool
    # MAINTAINERS' LIVE PATCHING entry lists scripts/livepatch/ already
    listed_in_maintainers: bool = False


def read_version(makefile: Path) -> Tuple[Version, str]:
    """VERSION.PATCHLEVEL.SUBLEVEL and EXTRAVERSION of a kernel Makefile."""
    try:
        head = makefile.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError as exc:
        raise SeriesError(f"{makefile}: {exc.strerror}") from exc
    found = dict(_VAR.findall(head))
    try:
        version = (int(found["VERSION"]), int(found["PATCHLEVEL"]),
                   int(found.get("SUBLEVEL") or 0))
    except (KeyError, ValueError) as exc:
        raise SeriesError(f"{makefile}: no numeric VERSION and PATCHLEVEL: "
                          "not a kernel Makefile") from exc
    return version, found.get("EXTRAVERSION", "")


def generation_for(version: Version) -> Generation:
    gens = [g for g in GENERATIONS if g.first <= version[:2]]
    if not gens:
        oldest = ".".join(map(str, GENERATIONS[0].first))
        raise SeriesError(f"Linux {'.'.join(map(str, version))} is older than "
                          f"{oldest}, the oldest kernel the hook supports")
    return gens[-1]


def detect(root: Path) -> Base:
    """The base of the kernel tree at @root."""
    version, extra = read_version(root / "Makefile")
    features = tuple(k for k, rel in FEATURES.items() if (root / rel).exists())
    return Base(version, extra, generation_for(version), features)


def layout(base: Base) -> Layout:
    return Layout(macros_in_livepatch_h=base.has("livepatch_external"),
                  selftests_in_place=base.has("test_modules"),
                  listed_in_maintainers=base.has("klp_build"))
