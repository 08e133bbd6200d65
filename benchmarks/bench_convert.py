#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Benchmark klp-convert against objcopy on generated livepatch modules.

Generates x86_64 relocatable modules with N klp relocations spread over
1,000 text sections (assembly -> as -> ld -r, with .modinfo livepatch=Y),
then times, in the same run, `objcopy IN OUT` and `klp-convert IN OUT`
(whole processes, Python start-up included), taking the median of several
repetitions.  "marginal" is the extra time per extra relocation between
one size and the previous one: roughly constant when the cost grows
linearly (the fixed cost is Python start-up and the 1,000 sections).

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


# klp-convert runs with its bytecode cached, as after the first build in a
# tree (the untimed warm-up run writes __pycache__): an environment that
# forbids writing bytecode would time the compiler instead.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time(cmd: List[str], reps: int) -> List[float]:
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=ENV)
        times.append(time.perf_counter() - t0)
    return times


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"python: {args.python}; {args.reps} repetitions, median (min) wall "
          "time of whole processes")
    print(f"{'relocs':>8} {'size':>9} {'objcopy':>16} {'klp-convert':>18} "
          f"{'ratio':>6} {'us/reloc':>9} {'marginal':>9}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            mod = os.path.join(tmp, f"m{n}.o")
            build_module(mod, n)
            # one untimed run of each: page cache, and the output must exist
            subprocess.run([args.python, KLP_CONVERT, mod, mod + ".klp"],
                           check=True, env=ENV)
            t_obj = _time(["objcopy", mod, mod + ".objcopy"], args.reps)
            t_klp = _time([args.python, KLP_CONVERT, mod, mod + ".klp"],
                          args.reps)
            o, k = statistics.median(t_obj), statistics.median(t_klp)
            size = os.path.getsize(mod)
            marginal = ""
            if rows:
                pn, pk = rows[-1]
                marginal = f"{(k - pk) / (n - pn) * 1e6:>9.2f}"
            rows.append((n, k))
            print(f"{n:>8} {size:>9} {o * 1000:>7.1f} ({min(t_obj) * 1000:>5.1f})ms "
                  f"{k * 1000:>9.1f} ({min(t_klp) * 1000:>5.1f})ms {k / o:>6.1f} "
                  f"{k / n * 1e6:>9.2f} {marginal:>9}", flush=True)
    if len(rows) >= 3:
        # least-squares fit t = a + b*n: linear growth leaves small residuals
        xs, ys = [r[0] for r in rows], [r[1] for r in rows]
        mx, my = statistics.mean(xs), statistics.mean(ys)
        b = sum((x - mx) * (y - my) for x, y in rows) / \
            sum((x - mx) ** 2 for x in xs)
        a = my - b * mx
        dev = max(abs(y - (a + b * x)) / y for x, y in rows)
        print(f"fit: {a * 1000:.1f} ms fixed + {b * 1e6:.2f} us per relocation; "
              f"largest deviation {dev * 100:.1f}%: "
              f"{'linear' if dev < 0.15 else 'NOT linear'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
