#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark symbol verification: what --symbols adds to a conversion.

Generates a /proc/kallsyms-shaped dump (default 200,000 lines: vmlinux,
then 50 modules, names built from kernel-like words, 3% of them
homonyms) and an x86_64 livepatch module (assembly -> as -> ld -r) whose
intermediate symbols name vmlinux and module symbols, homonyms with their
right positions among them.  Then times, in the same run, whole
processes (Python start-up included), median of --reps:

  plain       klp-convert IN OUT
  verified    klp-convert --symbols DUMP IN OUT
  refused     klp-convert --symbols DUMP BAD OUT, where BAD has one
              misspelled name: the not-found error with close names

in wall time and in CPU time (user + system of the child, which other
load on the machine disturbs less).  "added" is the difference to plain;
the issue's budget is 0.3 s.  --kallsyms
FILE times a real dump instead (its names are then taken from the file).

    python3 benchmarks/bench_symbols.py [--lines 200000] [--symbols 50]
        [--reps 7] [--python /usr/bin/python3] [--kallsyms FILE] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Tuple

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KLP_CONVERT = os.path.join(TOP, "scripts", "livepatch", "klp-convert")

WORDS = ("alloc free init exit read write open close lock unlock get put "
         "start stop show store probe remove create destroy update check "
         "dev device driver queue work timer irq page inode file dentry "
         "sock skb net buf cache pool list hash node map ctx state ops "
         "event trace perf sched task cpu mem dma pci usb blk bio req "
         "scsi ext4 xfs nfs vfs proc sys kobj attr").split()


def make_names(count: int, rng: random.Random) -> List[str]:
    """@count distinct kernel-like names."""
    seen = set()
    out = []
    while len(out) < count:
        n = "_".join(rng.choice(WORDS) for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.3:
            n += f"_{rng.randint(0, 99)}"
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


def make_dump(path: str, lines: int, rng: random.Random) -> Tuple[
        List[str], List[Tuple[str, int]], List[Tuple[str, str]]]:
    """Write a dump; return unique vmlinux names, vmlinux homonyms
    (name, count) and unique module symbols (module, name)."""
    nmod = 50
    vm_lines = lines * 9 // 10
    names = make_names(vm_lines, rng)
    homonyms = names[: vm_lines * 3 // 100]
    vm = names[: vm_lines - len(homonyms)] + homonyms
    rng.shuffle(vm)
    addr = 0xffffffff81000000
    out = []
    for n in vm:
        addr += rng.randint(16, 256)
        out.append(f"{addr:016x} {rng.choice('tT')} {n}\n")
    mod_syms = []
    per = (lines - vm_lines) // nmod
    mnames = make_names(per, rng)
    for m in range(nmod):
        mod = f"mod_{m}"
        base = 0xffffffffc0000000 + m * 0x100000
        for k, n in enumerate(mnames):
            out.append(f"{base + 16 * k:016x} t {n}\t[{mod}]\n")
        mod_syms.append((mod, mnames[m % len(mnames)]))
    with open(path, "w") as f:
        f.writelines(out)
    uniques = [n for n in names[len(homonyms):vm_lines - len(homonyms)]]
    return uniques, [(h, 2) for h in homonyms], mod_syms


def read_dump(path: str) -> Tuple[List[str], List[Tuple[str, int]],
                                  List[Tuple[str, str]]]:
    """Function names of a real dump (no compiler clones): unique and
    homonym vmlinux names, and one unique symbol per module."""
    vm: dict = {}
    mods: dict = {}
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            if fields[1] not in "tT" or "." in fields[2]:
                continue
            if len(fields) == 3:
                vm[fields[2]] = vm.get(fields[2], 0) + 1
            elif len(fields) == 4:
                mods.setdefault(fields[3][1:-1], {}).setdefault(fields[2], 0)
                mods[fields[3][1:-1]][fields[2]] += 1
    uniques = [n for n, c in vm.items() if c == 1]
    homonyms = [(n, c) for n, c in vm.items() if c > 1]
    mod_syms = [(m, next(n for n, c in s.items() if c == 1))
                for m, s in mods.items() if 1 in s.values()]
    return uniques, homonyms, mod_syms


def build_module(path: str, refs: List[str]) -> None:
    asm = ['.section .modinfo,"a"', '.asciz "livepatch=Y"',
           '.asciz "license=GPL"', ".text", ".globl f", "f:"]
    asm += [f'\tcall "{r}"' for r in refs] + ["\tret"]
    # the klp_object names, where klp-convert's lp-obj check finds them
    asm += ['.section .rodata.str1.1,"aMS",@progbits,1']
    asm += [f'.asciz "{lp}"' for lp in sorted({r.split(".")[4]
                                               for r in refs})]
    with open(path + ".s", "w") as f:
        f.write("\n".join(asm) + "\n")
    subprocess.run(["as", "--64", "-o", path + ".o", path + ".s"], check=True)
    subprocess.run(["ld", "-r", "-o", path, path + ".o"], check=True)


def references(count: int, uniques, homonyms, mod_syms,
               rng: random.Random) -> List[str]:
    refs = []
    for k in range(count):
        kind = k % 4
        if kind == 2 and homonyms:
            name, n = rng.choice(homonyms)
            refs.append(f".klp.sym.rela.vmlinux.vmlinux.{name},"
                        f"{rng.randint(1, n)}")
        elif kind == 3 and mod_syms:
            mod, name = rng.choice(mod_syms)
            refs.append(f".klp.sym.rela.{mod}.{mod}.{name},0")
        else:
            refs.append(f".klp.sym.rela.vmlinux.vmlinux."
                        f"{rng.choice(uniques)},0")
    return refs


def timed(cmd: List[str], reps: int, expect: int) -> Tuple[float, float]:
    """Median wall time and median CPU time (user + system, from the
    child's rusage: steadier on a shared machine) of @reps runs."""
    walls, cpus = [], []
    for _ in range(reps):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime +
                    after.ru_stime - before.ru_stime)
        if r.returncode != expect or (expect == 0 and r.stderr):
            sys.exit(f"bench_symbols: {' '.join(cmd)}: exit {r.returncode}, "
                     f"expected {expect}:\n{r.stderr}")
    return statistics.median(walls), statistics.median(cpus)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lines", type=int, default=200_000)
    p.add_argument("--symbols", type=int, default=50)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--kallsyms", help="a real dump instead of a generated one")
    p.add_argument("--keep", metavar="DIR",
                   help="generate the files in DIR and keep them")
    args = p.parse_args(argv)
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="bench-symbols.") as tmp:
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            tmp = args.keep
        dump = args.kallsyms or os.path.join(tmp, "kallsyms.txt")
        if args.kallsyms:
            uniques, homonyms, mod_syms = read_dump(dump)
        else:
            uniques, homonyms, mod_syms = make_dump(dump, args.lines, rng)
        with open(dump, "rb") as f:
            nlines = f.read().count(b"\n")
        good, bad = os.path.join(tmp, "lp.ko"), os.path.join(tmp, "bad.ko")
        refs = references(args.symbols, uniques, homonyms, mod_syms, rng)
        build_module(good, refs)
        typo = uniques[0][:3] + uniques[0][4:]
        build_module(bad, refs + [f".klp.sym.rela.vmlinux.vmlinux.{typo},0"])
        out = os.path.join(tmp, "out.ko")
        base = [args.python, KLP_CONVERT]
        subprocess.run(base + [good, out], check=True)      # warm the caches
        plain = timed(base + [good, out], args.reps, 0)
        verified = timed(base + ["--symbols", dump, good, out], args.reps, 0)
        refused = timed(base + ["--symbols", dump, bad, out], args.reps, 1)
    print(f"dump: {nlines} lines ({'real' if args.kallsyms else 'generated'})"
          f", {len(refs)} intermediate symbols, {args.python}, median of "
          f"{args.reps}")
    print("            wall ms  added     CPU ms  added")
    for what, (wall, cpu) in (("plain", plain), ("verified", verified),
                              ("refused", refused)):
        print(f"{what:9} {wall * 1000:8.1f} {(wall - plain[0]) * 1000:6.1f}"
              f"   {cpu * 1000:8.1f} {(cpu - plain[1]) * 1000:6.1f}")
    print("(refused: one name not found, with close names)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
