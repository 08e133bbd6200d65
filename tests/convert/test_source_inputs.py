# SPDX-License-Identifier: GPL-2.0-only
"""The files of --symbols and --symvers are read like the module itself
(inputs.py): a device, a FIFO or a directory where a file is expected is
refused before it is opened, a file larger than its kind's limit before a
byte is read.  Each gives one line naming the file and exit status 1,
quickly: the launcher runs with a deadline, so a FIFO that blocks or a
device that never ends fails the test instead of hanging it."""

from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest

from convert_support import LIVEPATCH, assemble

LAUNCHER = LIVEPATCH / "klp-convert"
MODINFO = '.section .modinfo,"a"\n.asciz "livepatch=Y"\n'
R = ".klp.sym.rela."
MIB = 1 << 20


def _launch(args, timeout=20):
    return subprocess.run([sys.executable, str(LAUNCHER), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def mod(tmp_path):
    return assemble(MODINFO + f'.text\ncall "{R}vmlinux.vmlinux.foo,0"\n'
                    f'call "{R}my_mod.my_mod.helper,0"\n'
                    '.section .rodata\n.asciz "my_mod"\n',
                    tmp_path / "lp.ko")


OPTIONS = [["--symvers"], ["--symbols"], ["--symbols", "kallsyms:"],
           ["--symbols", "sysmap:"], ["--symbols", "vmlinux:"],
           ["--symbols", "module:"]]


def _args(option, path):
    """--symvers PATH, --symbols PATH or --symbols KIND:PATH."""
    return [option[0], f"{option[1] if len(option) > 1 else ''}{path}"]


@pytest.mark.parametrize("option", OPTIONS)
def test_character_device(option, mod):
    r = _launch(["--list", *_args(option, "/dev/zero"), mod])
    assert (r.returncode, r.stderr) == (
        1, "klp-convert: /dev/zero: not a regular file (character device)\n")


@pytest.mark.parametrize("option", OPTIONS)
def test_fifo_does_not_block(option, mod, tmp_path):
    fifo = tmp_path / "Module.symvers"
    os.mkfifo(fifo)
    r = _launch(["--list", *_args(option, fifo), mod])
    assert (r.returncode, r.stderr) == (
        1, f"klp-convert: {fifo}: not a regular file (FIFO)\n")


@pytest.mark.parametrize("option", [o for o in OPTIONS if o != ["--symbols"]])
def test_directory_where_a_file_is_expected(option, mod, tmp_path):
    """(--symbols DIR without a kind is a module directory.)"""
    r = _launch(["--list", *_args(option, tmp_path), mod])
    assert (r.returncode, r.stderr) == (
        1, f"klp-convert: {tmp_path}: not a regular file (directory)\n")


@pytest.mark.parametrize("option,name,limit,what", [
    (["--symvers"], "Module.symvers", 256 * MIB, "Module.symvers"),
    (["--symbols"], "kallsyms.txt", 256 * MIB, "kallsyms dump or System.map"),
    (["--symbols", "sysmap:"], "System.map", 256 * MIB,
     "kallsyms dump or System.map"),
    (["--symbols"], "my_mod.ko.xz", (1 << 31) - 1, None),
    (["--symbols", "vmlinux:"], "vmlinux", 16 << 30, "vmlinux"),
])
def test_file_larger_than_its_kind(option, name, limit, what, mod, tmp_path):
    """Sparse files one byte over the limit: refused from their size."""
    big = tmp_path / name
    with open(big, "wb") as f:
        f.write(b"\xfd7zXZ\x00" if name.endswith(".xz") else b"0x1\tx\n")
        f.truncate(limit + 1)
    r = _launch(["--list", *_args(option, big), mod], timeout=10)
    reason = (f"klp-convert reads a {what} of at most {limit} bytes" if what
              else f"the kernel loads modules of at most {limit} bytes "
              "(INT_MAX)")
    assert (r.returncode, r.stderr) == (
        1, f"klp-convert: {big}: {limit + 1} bytes: {reason}\n")


def test_module_tree_with_a_fifo(mod, tmp_path):
    """A FIFO named like a module in a module directory: the module asked
    for is refused naming the FIFO; the "also in" search skips it."""
    tree = tmp_path / "mods"
    tree.mkdir()
    os.mkfifo(tree / "my_mod.ko")
    os.mkfifo(tree / "other.ko")
    r = _launch(["--list", "--symbols", tree, mod])
    assert (r.returncode, r.stderr) == (
        1, f"klp-convert: {tree / 'my_mod.ko'}: not a regular file (FIFO)\n")
    only_vmlinux = assemble(MODINFO + f'.text\ncall "{R}vmlinux.vmlinux.foo,0"'
                            "\n", tmp_path / "lp2.ko")
    kallsyms = tmp_path / "kallsyms.txt"
    kallsyms.write_text("ffffffff81000000 T _text\n")
    r = _launch(["--list", "--symbols", kallsyms, "--symbols", tree,
                 only_vmlinux])
    assert r.returncode == 1
    assert "symbol 'foo' not found in vmlinux" in r.stderr, r.stderr
    assert "FIFO" not in r.stderr and "Traceback" not in r.stderr


def _vmlinux(tmp_path):
    """A small linked x86_64 executable with a .symtab."""
    src = tmp_path / "v.s"
    src.write_text(".text\n.globl _start\n_start: ret\nfoo: ret\n")
    subprocess.run(["as", "--64", str(src), "-o", str(tmp_path / "v.o")],
                   check=True)
    out = tmp_path / "vmlinux"
    subprocess.run(["ld", str(tmp_path / "v.o"), "-o", str(out)], check=True)
    return out


def test_vmlinux_symbol_table_larger_than_read(mod, tmp_path):
    """A .symtab that claims 1 GiB + 1 bytes (in a file that is not that
    long) is refused from its header, not read."""
    vmlinux = _vmlinux(tmp_path)
    data = bytearray(vmlinux.read_bytes())
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shnum, = struct.unpack_from("<H", data, 0x3c)
    for i in range(shnum):
        hdr = shoff + 64 * i
        if struct.unpack_from("<I", data, hdr + 4)[0] == 2:      # SHT_SYMTAB
            struct.pack_into("<Q", data, hdr + 32, (1 << 30) + 1)
    vmlinux.write_bytes(bytes(data))
    r = _launch(["--list", "--symbols", vmlinux, mod])
    assert (r.returncode, r.stderr) == (
        1, f"klp-convert: {vmlinux}: a symbol table section of "
        f"{(1 << 30) + 1} bytes: klp-convert reads at most {1 << 30} bytes "
        "of one\n")
