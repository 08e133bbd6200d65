# SPDX-License-Identifier: GPL-2.0-only
"""klp-symbols: the QEMU proof of klp-convert's symbol verification, in
the boot of the selftests (no extra boot).

1. In the VM, after the selftests (symdump.snippet()): the test modules
   are loaded again, each livepatch lists what the kernel resolved, and
   the whole /proc/kallsyms of that boot goes to the console.
2. On the host: klp-convert's rule over that dump gives, for every klp
   symbol of the booted livepatches, the address the kernel resolved
   (symproof.compare()), with real homonyms of vmlinux and of a module
   at positions > 1 among them; the livepatches built with
   KLP_SYMBOLS=<dump> pass verified, into the same bytes; the
   build_fail/ cases of symproof.REFUSED are refused with klp-convert's
   messages.

Lines go to @emit as TAP comments ("# klp-symbols: ..."); a failure
raises SymbolsFailed."""

from __future__ import annotations

import os
import time
from typing import Callable, List, Tuple

from . import symdump, symproof
from .config import VmtestError
from .env import Environment

PREFIX = "# klp-symbols:"


class SymbolsFailed(VmtestError):
    """klp-convert's symbol verification did not hold in this kernel."""


def split_modules(modules: List[str]) -> Tuple[List[str], List[str]]:
    """(targets, livepatches): module names of @modules (.ko paths), by
    their modinfo."""
    targets: List[str] = []
    livepatches: List[str] = []
    for ko in modules:
        with open(ko, "rb") as f:
            lp = b"livepatch=Y\0" in f.read()
        name = os.path.basename(ko)[:-3]
        (livepatches if lp else targets).append(name)
    return targets, livepatches


def init_lines(modules: List[str]) -> str:
    """What the /init runs after the selftests."""
    return symdump.snippet(*split_modules(modules))


def _compare(modules: List[str], dump: symdump.Dump, path: str,
             emit: Callable[[str], None]) -> None:
    _targets, livepatches = split_modules(modules)
    booted = {os.path.basename(ko)[:-3]: ko for ko in modules
              if os.path.basename(ko)[:-3] in livepatches}
    checked, problems = symproof.compare(booted, dump.resolved, path)
    homonyms, missing = symproof.require_homonyms(checked)
    if problems or missing:
        raise SymbolsFailed("klp-symbols: klp-convert and the kernel "
                            "disagree:\n" + "\n".join(problems + missing))
    emit(f"{PREFIX} {len(checked)} klp symbols of {len(booted)} livepatches: "
         "klp-convert's klp_find() over this boot's /proc/kallsyms gives "
         "the address the kernel resolved")
    emit(f"{PREFIX} homonyms at a position > 1: "
         f"{', '.join(sorted({str(h) for h in homonyms}))}")


def prove(e: Environment, kdir: str, workdir: str, moddir: str,
          modules: List[str], console: str,
          emit: Callable[[str], None]) -> None:
    """The host's part, after the boot whose console is @console;
    @modules are the booted .ko files, built in @moddir against @kdir."""
    start = time.monotonic()
    try:
        dump = symdump.read_console(console)
    except VmtestError as exc:
        raise SymbolsFailed(str(exc)) from None
    path = symdump.keep(dump.kallsyms, workdir, e.cache_dir, e.release)
    lines = dump.kallsyms.count(b"\n")
    kept = symdump.cached(e.cache_dir, e.release) or path
    emit(f"{PREFIX} /proc/kallsyms of this boot: {lines} lines, kept as "
         f"{kept}")
    _compare(modules, dump, path, emit)
    _targets, livepatches = split_modules(modules)
    try:
        warnings = symproof.verified_build(e, kdir, workdir, moddir,
                                           livepatches, path)
        emit(f"{PREFIX} make KLP_SYMBOLS=<dump>: {len(livepatches)} "
             f"livepatches verified, the same bytes, {len(warnings)} "
             "warnings")
        for w in warnings:
            emit(f"{PREFIX}   {w}")
        for case in sorted(symproof.REFUSED):
            errors = symproof.refused_build(e, kdir, workdir, case, path)
            emit(f"{PREFIX} build_fail/{case} refused with KLP_SYMBOLS, "
                 "no .ko:")
            for line in errors:
                emit(f"{PREFIX}   {line}")
        emit(f"{PREFIX} took {dump.seconds:.1f} s in the VM, "
             f"{time.monotonic() - start:.1f} s on the host")
    except SymbolsFailed:
        raise
    except VmtestError as exc:
        raise SymbolsFailed(str(exc)) from None
