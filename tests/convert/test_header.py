# SPDX-License-Identifier: GPL-2.0-only
"""include/linux/klp_reloc.h: the names reach the object file as written.

Under GNU C (-std=gnu11, the kernel's dialect) `linux` and `unix` are
predefined macros (both expand to 1), and `unix` is also the name of a
module (net/unix, unix.ko).  A macro argument that is passed on to another
macro is expanded before the inner macro stringizes it, so the header must
stringize every argument directly.
"""

from __future__ import annotations

import subprocess

import pytest

from convert_support import KERNEL_CFLAGS, LIVEPATCH
from elfcheck import Elf

SOURCE = r"""
#include <linux/klp_reloc.h>
#define FOO_POS 7
extern int a KLP_RELOC_SYMBOL(unix, unix, unix_gc_lock);
extern int b KLP_RELOC_SYMBOL(vmlinux, vmlinux, linux);
extern int c KLP_RELOC_SYMBOL_POS(unix, unix, unix, 2);
extern int d KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, linux_banner, FOO_POS);
int use(void) { return a + b + c + d; }
"""

EXPECTED = {
    ".klp.sym.rela.unix.unix.unix_gc_lock,0",
    ".klp.sym.rela.vmlinux.vmlinux.linux,0",
    ".klp.sym.rela.unix.unix.unix,2",
    ".klp.sym.rela.vmlinux.vmlinux.linux_banner,FOO_POS",
}


@pytest.mark.parametrize("std", ["gnu11", "gnu89", "c11"])
def test_names_are_not_macro_expanded(std, tmp_path):
    src = tmp_path / "names.c"
    src.write_text(SOURCE)
    obj = tmp_path / "names.o"
    subprocess.run(["gcc", f"-std={std}", "-c", *KERNEL_CFLAGS,
                    "-I", str(LIVEPATCH / "include"), str(src), "-o", str(obj)],
                   check=True)
    names = {s.name for s in Elf(obj.read_bytes()).symbols
             if s.name.startswith(".klp.")}
    assert names == EXPECTED
