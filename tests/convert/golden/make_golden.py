#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Make the golden files of test_golden.py: small livepatch objects
(compiled from tests/convert/fixtures and assembled), a benchmark-sized
module from benchmarks/bench_convert.py's generator, and what klp-convert
makes of each.

    tests/convert/golden/make_golden.py [--converter DIR] [--inputs]

--inputs compiles the inputs again (needs gcc, the cross compilers and
binutils); without it the committed inputs are used.  --converter DIR
runs the klp-convert of another checkout's scripts/livepatch (the outputs
were made by the converter as of main 8ac4df8, before the converter was
reshaped for issue 12: this script must only be rerun to add a case, with
the outputs of the old converter).  The tests never run this: they compare
the committed files, so neither git history nor the compiler's output of
the day matters.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOP = HERE.parents[2]
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(TOP / "benchmarks"))

DEBUG_ASM = """\
.section .modinfo,"a"
.asciz "livepatch=Y"
.section .text,"ax",@progbits
f:
    call ".klp.sym.rela.vmlinux.vmlinux.foo,0"
    ret
.section .debug_info,"",@progbits
    .quad ".klp.sym.rela.vmlinux.vmlinux.foo,0"
    .quad f
"""

# name -> how the input is made
C_INPUTS = {
    "lp_basic-x86_64.o": ("lp_basic.c", "x86_64"),
    "lp_more-x86_64.o": ("lp_more.c", "x86_64"),
    "comdat-x86_64.o": ("comdat.c", "x86_64"),
    "plain-x86_64.o": ("plain.c", "x86_64"),
    "lp_basic-ppc64le.o": ("lp_basic.c", "ppc64le"),
    "lp_basic-s390x.o": ("lp_basic.c", "s390x"),
    "lp_basic-aarch64.o": ("lp_basic.c", "aarch64"),
}
BENCH = "bench-100000.o.xz"

# input -> modes; outputs are <stem>.<mode>[.txt]
CASES = {
    "lp_basic-x86_64.o": ["convert", "list", "weaken", "strip", "check"],
    "lp_more-x86_64.o": ["convert", "list", "strip"],
    "comdat-x86_64.o": ["convert", "strip"],
    "plain-x86_64.o": ["convert", "strip"],
    "lp_basic-ppc64le.o": ["convert", "strip"],
    "lp_basic-s390x.o": ["convert", "strip"],
    "lp_basic-aarch64.o": ["convert", "strip"],
    "debug-x86_64.o": ["convert", "strip"],
    BENCH: ["convert"],
}
# outputs kept only as a SHA-256 (a few MB each)
HASHED = {BENCH}


def make_inputs() -> None:
    import bench_convert
    from convert_support import FIXTURES, assemble, compile_c
    with tempfile.TemporaryDirectory() as tmp:
        for name, (src, arch) in C_INPUTS.items():
            compile_c(FIXTURES / src, HERE / name, arch)
        assemble(DEBUG_ASM, HERE / "debug-x86_64.o")
        (HERE / "debug-x86_64.s").unlink()
        bench = Path(tmp) / "bench.o"
        bench_convert.build_module(str(bench), 100000)
        (HERE / BENCH).write_bytes(lzma.compress(bench.read_bytes(),
                                                 preset=9 | lzma.PRESET_EXTREME))


def input_bytes(name: str) -> bytes:
    raw = (HERE / name).read_bytes()
    return lzma.decompress(raw) if name.endswith(".xz") else raw


def run_mode(converter: Path, mode: str, raw: bytes, tmp: Path) -> bytes:
    """What klp-convert @mode makes of @raw: the output file, or for
    list and check the standard output (file names replaced by IN)."""
    src = tmp / "in.o"
    out = tmp / "out.ko"
    src.write_bytes(raw)
    if out.exists():
        out.unlink()
    cmd = [sys.executable, str(converter)]
    if mode == "convert":
        cmd += [str(src), str(out)]
    elif mode == "strip":
        # strip what the conversion made (or the input, with nothing to convert)
        subprocess.run(cmd + [str(src), str(tmp / "conv.ko")], check=True)
        cmd += ["--strip-debug", str(tmp / "conv.ko"), str(out)]
    elif mode == "weaken":
        cmd += ["--weaken", str(src)]
        out = src
    elif mode == "list":
        cmd += ["--list", str(src)]
    elif mode == "check":
        subprocess.run(cmd + [str(src), str(out)], check=True)
        cmd += ["--check", str(out)]
    proc = subprocess.run(cmd, capture_output=True, check=True)
    if mode in ("list", "check"):
        return proc.stdout.replace(str(src).encode(), b"IN").replace(
            str(out).encode(), b"OUT")
    return out.read_bytes()


def output_name(name: str, mode: str) -> str:
    stem = name[:-len(".xz")] if name.endswith(".xz") else name
    stem = stem[:-len(".o")]
    return f"{stem}.{mode}" + (".txt" if mode in ("list", "check") else "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--converter", type=Path,
                    default=TOP / "scripts" / "livepatch",
                    help="a scripts/livepatch directory")
    ap.add_argument("--inputs", action="store_true",
                    help="compile and assemble the inputs again")
    args = ap.parse_args(argv)
    if args.inputs:
        make_inputs()
    manifest = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, modes in CASES.items():
            raw = input_bytes(name)
            for mode in modes:
                data = run_mode(args.converter / "klp-convert", mode, raw,
                                Path(tmp))
                out = output_name(name, mode)
                if name in HASHED:
                    manifest[out] = {"sha256": hashlib.sha256(data).hexdigest(),
                                     "size": len(data)}
                else:
                    (HERE / out).write_bytes(data)
                    manifest[out] = {"file": out}
                manifest[out].update(input=name, mode=mode)
    (HERE / "MANIFEST.json").write_text(json.dumps(manifest, indent=1,
                                                   sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
