# SPDX-License-Identifier: GPL-2.0-only
"""klp-symbols, the host's side: klp-convert's symbol verification
against the /proc/kallsyms of the booted kernel (symdump.py).

- compare(): for every .klp.sym.<obj>.<sym>,<pos> of the booted test
  livepatches, klp-convert's own readers and rule (ksyms_open,
  ksyms.klp_find) over the dump give an address; it must be the one the
  kernel resolved in the same boot.  require_homonyms() demands real
  homonyms of vmlinux and of a module at a position > 1 among them.
- verified_build(): the livepatches relinked and converted with
  make KLP_SYMBOLS=<dump> pass, verified, into the same bytes.
- refused_build(): each build_fail/ case of REFUSED stops the build with
  klp-convert's message and leaves no .ko."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Dict, List, Sequence, Set, Tuple

from .config import SELFTEST_DIR, TOP, VmtestError
from .env import Environment
from .symdump import Resolved

sys.path.insert(0, os.path.join(TOP, "scripts", "livepatch"))

from klp_convert.elf import SHN_LIVEPATCH, ElfFile  # noqa: E402
from klp_convert.ksyms import FOUND, Source, klp_find  # noqa: E402
from klp_convert.ksyms_open import open_source  # noqa: E402
from klp_convert.names import parse_final_name  # noqa: E402

BUILD_FAIL = os.path.join(SELFTEST_DIR, "test_modules", "build_fail")
NOT_VERIFIED = "(symbols not verified)"

# build_fail/ cases that only klp-convert's symbol verification refuses:
# the patterns its messages must match, with KLP_SYMBOLS=<dump>.
ADDR = r"[0-9a-f]{16}"
REFUSED: Dict[str, List[str]] = {
    "symbol_position": [
        r"symbol 'c_start' is ambiguous in vmlinux \(\S+\): \d+ symbols have "
        r"this name and position 0 requires a unique one",
        r"symbol 'c_start' position 9 is past the end: vmlinux \(\S+\) has "
        r"\d+ symbols of this name",
        rf":   position 2: {ADDR} t c_start$",
        r"symbol 'homonym_string' position 3 is past the end: module "
        r"'test_klp_convert_mod' \(\S+\) has 2 symbols of this name",
        rf":   position 2: {ADDR} [dD] homonym_string$",
        r"symbol 'get_homonym_string' is ambiguous in module "
        r"'test_klp_convert_mod'",
        rf":   position 1: {ADDR} t get_homonym_string$",
    ],
    "symbol_missing": [
        r"symbol 'saved_command_lin' not found in vmlinux \(\S+\)",
        r":   close names in vmlinux: (\S+, )*saved_command_line\b",
        r"symbol 'driver_nam' not found in module 'test_klp_convert_mod'",
        r":   close names in module 'test_klp_convert_mod': (\S+, )*"
        r"driver_name\b",
        r"symbol 'get_homonym_string' not found in vmlinux",
        r":   'get_homonym_string' is in module 'test_klp_convert_mod': is "
        r"sym-obj right\?$",
    ],
}


def klp_symbols(ko: str) -> List[Tuple[str, str, int]]:
    """(obj, sym, pos) of every SHN_LIVEPATCH symbol of a module."""
    with open(ko, "rb") as f:
        elf = ElfFile(f.read())
    out = []
    for i, s in enumerate(elf.symbols()):
        if s.st_shndx != SHN_LIVEPATCH:
            continue
        name = elf.symbol_name(s, i)
        final = parse_final_name(name)
        if final is None:
            raise VmtestError(f"{ko}: '{name}' is not a .klp.sym name")
        out.append(final)
    return out


@dataclass
class Checked:
    """A klp symbol that klp-convert resolves where the kernel did."""
    module: str
    obj: str
    sym: str
    pos: int
    addr: int
    count: int                  # occurrences of the name in obj

    def __str__(self) -> str:
        return f"{self.obj} {self.sym},{self.pos} of {self.count}"


def _kernel_addresses(resolved: List[Resolved]
                      ) -> Dict[Tuple[str, str, int], Set[int]]:
    out: Dict[Tuple[str, str, int], Set[int]] = {}
    for r in resolved:
        out.setdefault((r.obj, r.sym, r.pos), set()).add(r.addr)
    return out


def _check_one(module: str, key: Tuple[str, str, int], kernel: Set[int],
               source: Source) -> Tuple[List[Checked], List[str]]:
    obj, sym, pos = key
    what = f"{module}: .klp.sym.{obj}.{sym},{pos}"
    if not kernel:
        return [], [f"{what}: the livepatch does not list it in 'resolved'"]
    if len(kernel) > 1:
        return [], [f"{what}: the kernel resolved it to several addresses "
                    f"{sorted(hex(a) for a in kernel)}"]
    syms = source.get(obj)
    if syms is None:
        return [], [f"{what}: no {obj} symbols in the dump"]
    occs = syms.occurrences(sym)
    look = klp_find(occs, pos)
    want = next(iter(kernel))
    if look.status != FOUND:
        return [], [f"{what}: klp-convert finds it {look.status} ({look.count} "
                    f"of that name), the kernel resolved {want:x}"]
    if look.occurrence.addr != want:
        got = look.occurrence.addr
        return [], [f"{what}: klp-convert resolves {got or 0:x}, the kernel "
                    f"resolved {want:x} ({look.count} of that name)"]
    return [Checked(module, obj, sym, pos, want, look.count)], []


def compare(livepatches: Dict[str, str], resolved: List[Resolved],
            dump: str) -> Tuple[List[Checked], List[str]]:
    """Every klp symbol of @livepatches (name -> booted .ko) resolved by
    klp-convert's rule over @dump against what the kernel resolved;
    returns the symbols that match and the problems."""
    source = open_source(f"kallsyms:{dump}")
    checked: List[Checked] = []
    problems: List[str] = []
    for module, ko in sorted(livepatches.items()):
        mine = [r for r in resolved if r.module == module]
        kernel = _kernel_addresses(mine)
        syms = sorted(set(klp_symbols(ko)))
        if not syms:
            problems.append(f"{module}: no .klp.sym symbols in {ko}")
        for key in syms:
            ok, bad = _check_one(module, key, kernel.get(key, set()), source)
            checked += ok
            problems += bad
        extra = sorted(set(kernel) - set(syms))
        problems += [f"{module}: resolved {o} {s},{p} is no .klp.sym of the "
                     "module" for o, s, p in extra]
    return checked, problems


def require_homonyms(checked: List[Checked]) -> Tuple[List[Checked], List[str]]:
    """The checked symbols that are real homonyms at a position > 1; a
    problem unless vmlinux and a module each have one."""
    homonyms = [c for c in checked if c.pos > 1 and c.count > 1]
    problems = []
    if not any(c.obj == "vmlinux" for c in homonyms):
        problems.append("no vmlinux homonym at a position > 1 was checked")
    if not any(c.obj != "vmlinux" for c in homonyms):
        problems.append("no module homonym at a position > 1 was checked")
    return homonyms, problems


def _make(e: Environment, kdir: str, builddir: str, moddir: str, dump: str,
          log: str) -> Tuple[int, str]:
    cmd = ["make", f"-j{os.cpu_count() or 2}", "-C", kdir, f"M={moddir}",
           f"KLP_SYMBOLS={dump}"]
    r = e.run(cmd, binds=[builddir], cwd=moddir, stdout=subprocess.PIPE,
              stderr=subprocess.STDOUT, text=True)
    with open(log, "w") as f:
        f.write(" ".join(cmd) + "\n" + r.stdout)
    return r.returncode, r.stdout


def verified_build(e: Environment, kdir: str, builddir: str, moddir: str,
                   livepatches: Sequence[str], dump: str) -> List[str]:
    """Relink and convert @livepatches (names of .ko in @moddir) with
    KLP_SYMBOLS=@dump: the build must pass with a verified KLP line for
    each and give the same bytes as without; returns klp-convert's
    warnings."""
    for name in livepatches:
        ko = os.path.join(moddir, f"{name}.ko")
        os.replace(ko, f"{ko}.unverified")
    log = os.path.join(builddir, "build-symbols.log")
    rc, out = _make(e, kdir, builddir, moddir, dump, log)
    if rc:
        tail = "\n".join(out.splitlines()[-25:])
        raise VmtestError(f"klp-symbols: the build with KLP_SYMBOLS failed:"
                          f"\n{tail}")
    for name in livepatches:
        # absolute paths up to 6.12, relative to M= since 7.0
        line_re = re.compile(rf"^\s*KLP \[M\]\s+(\S*/)?{name}\.ko\b")
        lines = [ln for ln in out.splitlines() if line_re.match(ln)]
        if len(lines) != 1 or NOT_VERIFIED in lines[0]:
            raise VmtestError(f"klp-symbols: {name}.ko: expected one verified "
                              f"KLP [M] line, got {lines}; see {log}")
        ko = os.path.join(moddir, f"{name}.ko")
        with open(ko, "rb") as a, open(f"{ko}.unverified", "rb") as b:
            if a.read() != b.read():
                raise VmtestError(f"klp-symbols: {ko} differs from the build "
                                  "without KLP_SYMBOLS")
    return [ln for ln in out.splitlines() if "warning:" in ln]


def refused_build(e: Environment, kdir: str, builddir: str, case: str,
                  dump: str) -> List[str]:
    """Build build_fail/@case with KLP_SYMBOLS=@dump: it must fail with
    klp-convert's messages matching REFUSED[@case] and leave no .ko;
    returns klp-convert's error lines."""
    moddir = os.path.join(builddir, "build_fail", case)
    shutil.rmtree(moddir, ignore_errors=True)
    shutil.copytree(os.path.join(BUILD_FAIL, case), moddir)
    log = os.path.join(builddir, f"build-fail-{case}.log")
    rc, out = _make(e, kdir, builddir, moddir, dump, log)
    if rc == 0:
        raise VmtestError(f"klp-symbols: build_fail/{case} built with "
                          f"KLP_SYMBOLS but must not; see {log}")
    kos = [f for f in os.listdir(moddir) if f.endswith(".ko")]
    if kos:
        raise VmtestError(f"klp-symbols: build_fail/{case} left {kos}")
    missing = [p for p in REFUSED[case] if not re.search(p, out, re.M)]
    if missing:
        raise VmtestError(f"klp-symbols: build_fail/{case}: klp-convert's "
                          f"messages do not match {missing}; see {log}")
    return [ln.replace(f"{moddir}/", "").replace(f"{builddir}/", "")
            for ln in out.splitlines() if ln.startswith("klp-convert:")]
