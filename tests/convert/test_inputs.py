# SPDX-License-Identifier: GPL-2.0-only
"""Inputs that are not modules at all: devices, pipes, directories, files
larger than the kernel would load; interrupts; numbers too large for
Python's int conversion.  Each gives one line and the right exit status,
quickly, without reading the input to its end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from convert_support import LIVEPATCH, assemble, run

LAUNCHER = LIVEPATCH / "klp-convert"
MODINFO = '.section .modinfo,"a"\n.asciz "livepatch=Y"\n'
INT_MAX = (1 << 31) - 1


def _launch(args, timeout=20):
    """The launcher in a child process, with a deadline: an input that
    blocks or never ends must not hang the test."""
    return subprocess.run([sys.executable, str(LAUNCHER), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("mode", [[], ["--list"], ["--weaken"]])
def test_character_device(mode):
    r = _launch([*mode, "/dev/zero"])
    assert r.returncode == 1, r.stderr
    assert r.stderr == ("klp-convert: /dev/zero: not a regular file "
                        "(character device)\n")


@pytest.mark.parametrize("mode", [[], ["--list"], ["--weaken"]])
def test_fifo_does_not_block(mode, tmp_path):
    fifo = tmp_path / "pipe.ko"
    os.mkfifo(fifo)
    r = _launch([*mode, fifo])
    assert r.returncode == 1
    assert r.stderr == f"klp-convert: {fifo}: not a regular file (FIFO)\n"


def test_directory(tmp_path, capsys):
    status, _o, err = run([tmp_path], capsys)
    assert status == 1
    assert err == f"klp-convert: {tmp_path}: not a regular file (directory)\n"


def test_file_larger_than_the_kernel_loads(tmp_path):
    """finit_module() reads at most INT_MAX bytes: a larger (sparse) file
    is refused from its size, before a byte is read."""
    big = tmp_path / "big.ko"
    with open(big, "wb") as f:
        f.write(b"\x7fELF")
        f.truncate(INT_MAX + 1)
    r = _launch([big], timeout=10)
    assert r.returncode == 1
    assert r.stderr == (f"klp-convert: {big}: {INT_MAX + 1} bytes: the kernel "
                        f"loads modules of at most {INT_MAX} bytes (INT_MAX)\n")


def test_output_that_is_not_a_regular_file(tmp_path, capsys):
    """OUTPUT is replaced by rename: never rename over a device or a
    pipe (as root, klp-convert in.ko /dev/null would replace /dev/null)."""
    src = assemble(MODINFO + '.text\ncall ".klp.sym.rela.vmlinux.vmlinux.foo,0"\n',
                   tmp_path / "m.o")
    fifo = tmp_path / "out.ko"
    os.mkfifo(fifo)
    status, _o, err = run([src, fifo], capsys)
    assert status == 1
    assert err == f"klp-convert: {fifo}: not a regular file (FIFO)\n"
    assert os.path.exists(fifo) and not os.path.isfile(fifo)


def test_huge_sympos_is_a_name_error(tmp_path, capsys):
    """5,000 digits: beyond Python's int-conversion limit (4,300 digits);
    reported as a too large sympos, not as a malformed ELF file."""
    digits = "9" * 5000
    src = assemble(MODINFO + f'.text\ncall ".klp.sym.rela.vmlinux.vmlinux.foo,{digits}"\n',
                   tmp_path / "m.o")
    status, _o, err = run([src, tmp_path / "o.ko"], capsys)
    assert status == 1
    assert "sympos" in err and "is too large" in err and "malformed" not in err
    assert err.count("\n") == 1


def test_leading_zeros_are_not_too_large(tmp_path, capsys):
    src = assemble(MODINFO + '.text\ncall ".klp.sym.rela.vmlinux.vmlinux.foo,'
                   + "0" * 100 + '2"\n', tmp_path / "m.o")
    status, _o, err = run([src, tmp_path / "o.ko"], capsys)
    assert status == 0, err


@pytest.mark.parametrize("mode,victim", [
    ([], "convert"), (["--list"], "convert"), (["--weaken"], "weaken")])
def test_interrupt(mode, victim, tmp_path, monkeypatch, capsys):
    """Ctrl-C in any mode: one line, status 130, nothing written."""
    from klp_convert import convert as convmod
    src = assemble(MODINFO + '.text\ncall ".klp.sym.rela.vmlinux.vmlinux.foo,0"\n',
                   tmp_path / "m.o")
    before = src.read_bytes()

    def interrupted(*_args, **_kw):
        raise KeyboardInterrupt
    monkeypatch.setattr(convmod, victim, interrupted)
    status, out, err = run([*mode, src], capsys)
    assert (status, out) == (130, "")
    assert err == f"klp-convert: {src}: interrupted\n"
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.o", "m.s"]


def test_interrupt_while_reading(tmp_path, monkeypatch, capsys):
    from klp_convert import cli
    src = assemble(MODINFO + '.text\ncall ".klp.sym.rela.vmlinux.vmlinux.foo,0"\n',
                   tmp_path / "m.o")

    def interrupted(*_args, **_kw):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "read", interrupted)
    status, _o, err = run(["--weaken", src], capsys)
    assert status == 130 and err == f"klp-convert: {src}: interrupted\n"
    assert cli  # the module under test


def test_list_into_a_closed_pipe(tmp_path):
    """klp-convert --list | head -1: no traceback when the reader goes."""
    lines = "\n".join(f'call ".klp.sym.rela.vmlinux.vmlinux.f{i},0"'
                      for i in range(3000))
    src = assemble(MODINFO + ".text\n" + lines + "\n", tmp_path / "m.o")
    r = subprocess.run(f"'{sys.executable}' '{LAUNCHER}' --list '{src}' | head -1",
                       shell=True, capture_output=True, text=True, timeout=60)
    assert r.stdout.startswith("SECTION")
    assert "Traceback" not in r.stderr and "Broken pipe" not in r.stderr, r.stderr
