# SPDX-License-Identifier: GPL-2.0-only
"""The patches of the series on a base: which project files each one
takes, where they go in the kernel tree, how they are merged into files
the kernel has, and what else each patch edits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Pattern, Sequence, Tuple

from . import edits
from .base import Layout
from .merge import (Merger, append_block, merge_config, merge_lists,
                    merge_makefile, merge_toctree)
from .templates import render, snippet

Edit = Callable[[Path], List[str]]
SELFTESTS = "tools/testing/selftests/livepatch/"
SUITE_DIR = SELFTESTS + "klp-convert/"
# the line of the project's functions.sh from which on its helpers are
# added to mainline's functions.sh
HELPERS_MARKER = "# klp-convert helpers"


@dataclass
class Patch:
    key: str
    subject: str
    body: str
    paths: Tuple[str, ...]          # project paths or prefixes (ending in /)
    hook: Optional[str] = None      # a project .patch file applied -p1 -F0
    edits: Tuple[Edit, ...] = ()
    justifications: Dict[str, str] = field(default_factory=dict)
    # (project prefix, kernel prefix): where the files go in the kernel tree
    relocate: Optional[Tuple[str, str]] = None
    # kernel path -> [(old, new)] text substitutions after relocation
    rewrites: Dict[str, List[Tuple[str, str]]] = field(default_factory=dict)
    # kernel path -> merger, for files the kernel tree already has
    mergers: Dict[str, Merger] = field(default_factory=dict)

    def dest(self, path: str) -> str:
        if self.relocate and path.startswith(self.relocate[0]):
            return self.relocate[1] + path[len(self.relocate[0]):]
        return path

    def merger_for(self, rel: str) -> Optional[Merger]:
        if rel in self.mergers:
            return self.mergers[rel]
        if Path(rel).name in ("Makefile", "Kbuild"):
            return merge_makefile
        return None


@dataclass(frozen=True)
class Sources:
    """How project files change on the way into the tree, for a layout."""

    exclude: Tuple[Pattern[str], ...] = ()
    # lines dropped from C files and makefiles
    drop_lines: Tuple[Pattern[str], ...] = ()
    # (old, new) substitutions in every file
    replace: Tuple[Tuple[str, str], ...] = ()
    # text that must not be left in any file of the series
    forbidden: Tuple[str, ...] = ()
    # drop the marked blocks of .rst files (BLOCK_BEGIN .. BLOCK_END)
    drop_blocks: bool = False


# An .rst block between these comment lines is for kernels whose
# <linux/livepatch.h> lacks KLP_RELOC_SYMBOL() (the project's klp_reloc.h):
# dropped where the macros go into <linux/livepatch.h>, kept otherwise;
# the marker lines themselves never go upstream.
BLOCK_BEGIN = ".. klp_reloc.h begin"
BLOCK_END = ".. klp_reloc.h end"


KLP_DECL_JUSTIFICATIONS = {
    "FUNCTION_ARGUMENTS":
        "false positive: checkpatch reads a declaration such as "
        "'extern void f(void) KLP_RELOC_SYMBOL(vmlinux, vmlinux, f);' as a "
        "function definition with unnamed arguments; the macro's arguments "
        "are object and symbol names.",
    "AVOID_EXTERNS":
        "the extern declarations of non-exported kernel symbols in the .c "
        "files are the point: KLP_RELOC_SYMBOL() annotates them, and no "
        "header declares these symbols.",
}

SELFTEST_JUSTIFICATIONS = dict(
    KLP_DECL_JUSTIFICATIONS,
    LONG_LINE="the long lines are expected kernel log lines that the tests "
    "compare verbatim with dmesg, as in the existing livepatch selftests.",
    MACRO_ARG_REUSE="KLP_CONVERT_SHOW() appends to a buffer with the usual "
    "'len += scnprintf(buf + len, ...)' idiom; its callers pass plain "
    "variables.",
)


def sources(layout: Layout) -> Sources:
    """Per layout: project files left out and text rewritten."""
    if not layout.macros_in_livepatch_h:
        return Sources()
    header = "scripts/livepatch/include/linux/klp_reloc.h"
    return Sources(
        exclude=(re.compile(r"^scripts/livepatch/include/"),
                 re.compile(r"^" + re.escape(SELFTESTS)
                            + r"(README|settings|test_modules/\.gitignore"
                            r"|test_modules/build_fail/)")),
        drop_lines=(re.compile(r"^#include <linux/klp_reloc\.h>$"),
                    re.compile(r"-I\$\(srctree\)/scripts/livepatch/include\s*$")),
        replace=((header, "include/linux/livepatch.h"),
                 ("include/linux/klp_reloc.h", "include/linux/livepatch.h"),
                 ("<linux/klp_reloc.h>", "<linux/livepatch.h>")),
        forbidden=("klp_reloc.h", "scripts/livepatch/include"),
        drop_blocks=True)


LISTED = {
    "FILE_PATH_CHANGES":
        "checkpatch asks whether MAINTAINERS needs updating for the new "
        "files: the LIVE PATCHING entry already lists scripts/livepatch/, "
        "samples/livepatch/, tools/testing/selftests/livepatch/, "
        "Documentation/livepatch/ and include/linux/livepatch*.h.",
}


def _tool(layout: Layout) -> Patch:
    macros = "livepatch_h" if layout.macros_in_livepatch_h else "klp_reloc"
    subject, body = render("tool", {"macros": snippet(f"macros-{macros}")})
    tool_edits: Tuple[Edit, ...] = (edits.maintainers, edits.gitignore)
    if layout.macros_in_livepatch_h:
        tool_edits += (edits.livepatch_h_macros,)
    return Patch("tool", subject, body, ("scripts/livepatch/",),
                 edits=tool_edits)


def _selftests(layout: Layout) -> Patch:
    if not layout.selftests_in_place:
        subject, body = render("selftests-suite", {})
        return Patch("selftests", subject, body, (SELFTESTS,),
                     justifications=dict(SELFTEST_JUSTIFICATIONS),
                     relocate=(SELFTESTS, SUITE_DIR),
                     rewrites={SUITE_DIR + "Makefile":
                               [("../lib.mk", "../../lib.mk")]},
                     edits=(edits.selftest_target,))
    subject, body = render("selftests", {})
    return Patch("selftests", subject, body, (SELFTESTS,),
                 justifications=dict(SELFTEST_JUSTIFICATIONS),
                 mergers={
                     SELFTESTS + "Makefile": merge_lists("TEST_PROGS"),
                     SELFTESTS + "test_modules/Makefile": merge_lists("obj-m"),
                     SELFTESTS + "functions.sh": append_block(HELPERS_MARKER),
                     SELFTESTS + "config": merge_config,
                 })


def series(layout: Layout, hook: Optional[str]) -> List[Patch]:
    """The patches on @layout, in order; @hook is the project's hook
    patch for the base's Kbuild generation."""
    subject, body = render("kbuild", {})
    kbuild = Patch("kbuild", subject, body, ("scripts/livepatch/Makefile.klp",),
                   hook=hook)
    subject, body = render("sample", {})
    sample = Patch("sample", subject, body, ("samples/livepatch/",),
                   justifications=dict(KLP_DECL_JUSTIFICATIONS))
    subject, body = render("docs", {})
    docs = Patch("docs", subject, body, ("Documentation/livepatch/",),
                 mergers={"Documentation/livepatch/index.rst": merge_toctree})
    patches = [_tool(layout), kbuild, sample, _selftests(layout), docs]
    if layout.listed_in_maintainers:
        for patch in patches:
            patch.justifications.update(LISTED)
    return patches


def owner(path: str, patches: Sequence[Patch]) -> Optional[str]:
    """The patch a project file belongs to: the longest matching spec."""
    best, best_len = None, -1
    for patch in patches:
        for spec in patch.paths:
            if path == spec or (spec.endswith("/") and path.startswith(spec)):
                if len(spec) > best_len:
                    best, best_len = patch.key, len(spec)
    return best


def selected(files: Sequence[str], src: Sources) -> List[str]:
    """The project files that go upstream on this layout."""
    return [p for p in files if not any(rx.search(p) for rx in src.exclude)]
