#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark klp-convert against objcopy on generated livepatch modules.

Generates x86_64 relocatable modules with N klp relocations spread over
1,000 text sections (assembly -> as -> ld -r, with .modinfo livepatch=Y),
then times, in the same run, `objcopy IN OUT` and `klp-convert IN OUT`
(whole processes, Python start-up included), taking the median of several
repetitions.

    python3 benchmarks/bench_convert.py [--sizes 1000,10000,100000] [--reps 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KLP_CONVERT = os.path.join(TOP, "scripts", "livepatch", "klp-convert")


def generate_asm(relocs: int, sections: int = 1000, symbols: int = 1000) -> str:
    """Assembly for a module with @relocs klp relocations (calls to
    intermediate symbols) over @sections sections, plus one ordinary
    relocation per section that must stay where it is."""
    out: List[str] = ['.section .modinfo,"a"', '.asciz "livepatch=Y"',
                      '.asciz "license=GPL"']
    per = max(1, relocs // sections)
    left = relocs
    for s in range(sections):
        n = min(per, left) if s < sections - 1 else left
        left -= n
        out.append(f'.section .text.f{s},"ax",@progbits')
        out.append(f".globl f{s}")
        out.append(f"f{s}:")
        out.append("\tcall exported_function")
        for k in range(n):
            sym = (s * per + k) % symbols
            out.append(f'\tcall ".klp.sym.rela.vmlinux.vmlinux.sym{sym},0"')
        out.append("\tret")
    return "\n".join(out) + "\n"


def build_module(path: str, relocs: int, sections: int = 1000) -> None:
    asm = path + ".s"
    with open(asm, "w") as f:
        f.write(generate_asm(relocs, sections))
    subprocess.run(["as", "--64", "-o", path + ".tmp.o", asm], check=True)
    subprocess.run(["ld", "-r", "-o", path, path + ".tmp.o"], check=True)
    os.unlink(path + ".tmp.o")
    os.unlink(asm)


def _time(cmd: List[str], reps: int) -> float:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'relocs':>8} {'size':>9} {'objcopy':>9} {'klp-convert':>12} "
          f"{'ratio':>6} {'us/reloc':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            mod = os.path.join(tmp, f"m{n}.o")
            build_module(mod, n)
            t_obj = _time(["objcopy", mod, mod + ".objcopy"], args.reps)
            t_klp = _time([args.python, KLP_CONVERT, mod, mod + ".klp"],
                          args.reps)
            size = os.path.getsize(mod)
            print(f"{n:>8} {size:>9} {t_obj * 1000:>7.1f}ms "
                  f"{t_klp * 1000:>10.1f}ms {t_klp / t_obj:>6.1f} "
                  f"{t_klp / n * 1e6:>9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
