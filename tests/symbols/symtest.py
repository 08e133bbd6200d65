# SPDX-License-Identifier: GPL-2.0-only
"""Helpers of the symbol verification tests: modules assembled at test
time and the converter's main() (conftest.py has the fixtures)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List, Optional

TOP = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(TOP / "scripts" / "livepatch"))
sys.path.insert(0, str(HERE))

from klp_convert.cli import main as klp_main  # noqa: E402

LIVEPATCH_MODINFO = ('.section .modinfo,"a"\n.asciz "livepatch=Y"\n'
                     '.asciz "license=GPL"\n')


def assemble(out: Path, asm: str, modinfo: Optional[str] = None) -> Path:
    """An x86_64 relocatable file (as --64 + ld -r) from @asm, with a
    livepatch .modinfo unless @modinfo says otherwise."""
    src = out.with_suffix(".s")
    src.write_text((LIVEPATCH_MODINFO if modinfo is None else modinfo) + asm)
    obj = out.with_suffix(".tmp.o")
    subprocess.run(["as", "--64", str(src), "-o", str(obj)], check=True)
    subprocess.run(["ld", "-r", str(obj), "-o", str(out)], check=True)
    obj.unlink()
    return out


def lp_object_names(names) -> str:
    """The klp_object names of a patch for these intermediate symbols:
    string literals in .rodata, where klp-convert's lp-obj check looks."""
    objs = sorted({n.split(".")[4] for n in names} - {"vmlinux"})
    body = ['.section .rodata.str1.1,"aMS",@progbits,1']
    return "\n".join(body + [f'.asciz "{o}"' for o in objs] + [""])


def calls(*names: str, data: tuple = ()) -> str:
    """A .text with a call to each intermediate symbol of @names and a
    RIP-relative load from each of @data, and the names of the patched
    objects."""
    body = [".text", ".globl f", "f:"]
    body += [f'\tcall "{n}"' for n in names]
    body += [f'\tmov "{n}"(%rip), %rax' for n in data]
    return "\n".join(body + ["\tret", ""]) + lp_object_names(names + data)


def run(argv: List, capsys):
    """klp-convert's main() in-process: (status, stdout, stderr)."""
    status = klp_main([str(a) for a in argv])
    cap = capsys.readouterr()
    return status, cap.out, cap.err
