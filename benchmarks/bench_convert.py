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

--baseline REV compares two versions of klp-convert in the same run: the
tree's and the one of git revision REV (its scripts/livepatch, extracted
with git archive), each against objcopy.  The three commands run
interleaved, one repetition of each in turn, so that other load on the
machine hits all three alike; the ratios to objcopy of both versions and
their quotient are printed per size.

    python3 benchmarks/bench_convert.py --python /usr/bin/python3 --reps 7 \
        --sizes 100000 --baseline main
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


def _extract(rev: str, dest: str) -> str:
    """scripts/livepatch of git revision @rev under @dest; the path of its
    klp-convert."""
    archive = subprocess.run(["git", "-C", TOP, "archive", rev,
                              "scripts/livepatch"], check=True,
                             stdout=subprocess.PIPE).stdout
    os.makedirs(dest)
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return os.path.join(dest, "scripts", "livepatch", "klp-convert")


def _interleaved(cmds: List[List[str]], reps: int) -> List[List[float]]:
    """Times of each command, running them in turn @reps times; the order
    of the last two is swapped every other round (ABBA), so that neither
    always runs right after the other."""
    times: List[List[float]] = [[] for _ in cmds]
    for r in range(reps):
        order = list(range(len(cmds)))
        if r % 2:
            order[-2:] = order[:-3:-1]
        for i in order:
            times[i].extend(_time(cmds[i], 1))
    return times


def compare(args: argparse.Namespace, sizes: List[int]) -> int:
    """--baseline: this tree's klp-convert against REV's, interleaved."""
    print(f"python: {args.python}; {args.reps} interleaved repetitions, "
          "median wall time of whole processes; baseline: "
          f"{args.baseline}")
    print(f"{'relocs':>8} {'objcopy':>9} {'baseline':>9} {'tree':>9} "
          f"{'ratio base':>11} {'ratio tree':>11} {'tree/base':>10} "
          f"{'paired':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        old = _extract(args.baseline, os.path.join(tmp, "baseline"))
        for n in sizes:
            mod = os.path.join(tmp, f"m{n}.o")
            build_module(mod, n)
            cmds = [["objcopy", mod, mod + ".objcopy"],
                    [args.python, old, mod, mod + ".old"],
                    [args.python, KLP_CONVERT, mod, mod + ".new"]]
            for cmd in cmds:            # warm-up: page cache, bytecode
                subprocess.run(cmd, check=True, env=ENV)
            same = open(mod + ".old", "rb").read() == \
                open(mod + ".new", "rb").read()
            times = _interleaved(cmds, args.reps)
            o, b, t = (statistics.median(x) for x in times)
            # the quotient of each round's pair, whose load was alike
            q = statistics.median(new / old for old, new in zip(*times[1:]))
            print(f"{n:>8} {o * 1000:>7.1f}ms {b * 1000:>7.1f}ms "
                  f"{t * 1000:>7.1f}ms {b / o:>11.2f} {t / o:>11.2f} "
                  f"{t / b:>10.3f} {q:>9.3f}"
                  f"{'' if same else '  OUTPUTS DIFFER'}", flush=True)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--baseline", metavar="REV",
                    help="also time klp-convert of git revision REV, "
                    "interleaved with this tree's")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.baseline:
        return compare(args, sizes)
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
