# SPDX-License-Identifier: GPL-2.0-only
"""Warnings: "klp-convert: <file>: warning: <what>" on stderr, exit status
unchanged; --strict makes them errors (status 1, nothing written).

The first warning: an lp-obj that is not the name of one of the patch's
klp_objects (the kernel would never apply its relocations)."""

from __future__ import annotations

import pytest

from convert_support import assemble, run
from elfcheck import SHN_LIVEPATCH, Elf

HEAD = '.section .modinfo,"a"\n.asciz "livepatch=Y"\n'


def _module(tmp_path, lp_obj: str, names: list[str]):
    """A module with a relocation for @lp_obj and klp_object names
    @names as string literals (.rodata.str1.1, as gcc puts them)."""
    asm = HEAD + (f'.text\ncall ".klp.sym.rela.{lp_obj}.{lp_obj}.nfsd4_foo,0"\n'
                  '.section .rodata.str1.1,"aMS",@progbits,1\n'
                  + "".join(f'.asciz "{n}"\n' for n in names)
                  + '.section .data.objs,"aw"\n'
                  + "".join(".quad .rodata.str1.1\n" for _ in names))
    return assemble(asm, tmp_path / "lp.o")


def test_typo_warns_and_converts(tmp_path, capsys):
    src = _module(tmp_path, "nfds", ["nfsd", "livepatch_nfsd"])
    out = tmp_path / "lp.ko"
    status, stdout, err = run([src, out], capsys)
    assert status == 0 and stdout == ""
    assert err.startswith(f"klp-convert: {src}: warning: lp-obj 'nfds' (used by "
                          "'.klp.sym.rela.nfds.nfds.nfsd4_foo,0') is not the name "
                          "of an object of this patch")
    assert err.endswith("; did you mean 'nfsd'?\n") and err.count("\n") == 1
    assert "fix the lp_obj argument of KLP_RELOC_SYMBOL()" in err
    assert ".klp.rela.nfds..text" in {s.name for s in Elf(out.read_bytes()).sections}


def test_typo_with_strict_writes_nothing(tmp_path, capsys):
    src = _module(tmp_path, "nfds", ["nfsd"])
    before = src.read_bytes()
    out = tmp_path / "lp.ko"
    status, stdout, err = run(["--strict", src, out], capsys)
    assert status == 1 and stdout == ""
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"klp-convert: {src}: warning: ")
    assert lines[1] == f"klp-convert: {src}: 1 warning(s) and --strict: nothing written"
    assert not out.exists()
    assert run(["--strict", src], capsys)[0] == 1 and src.read_bytes() == before
    assert run(["--strict", "--list", src], capsys)[:2] == (1, "")


@pytest.mark.parametrize("lp_obj,names", [("nfsd", ["nfsd"]),
                                          ("vmlinux", []),
                                          ("nfsd", ["x", "nfsd", "y"])])
def test_declared_lp_obj_is_quiet(lp_obj, names, tmp_path, capsys):
    src = _module(tmp_path, lp_obj, names) if lp_obj != "vmlinux" else \
        assemble(HEAD + '.text\ncall ".klp.sym.rela.vmlinux.vmlinux.foo,0"\n',
                 tmp_path / "v.o")
    status, _o, err = run(["--strict", src, tmp_path / "lp.ko"], capsys)
    assert (status, err) == (0, "")


def test_name_inside_a_longer_string_is_not_a_declaration(tmp_path, capsys):
    """"nfsd" only as part of "livepatch_nfsd" or "nfsd4": a whole string
    is a klp_object name, a substring is not."""
    src = _module(tmp_path, "nfsd", ["livepatch_nfsd", "nfsd4"])
    status, _o, err = run([src, tmp_path / "lp.ko"], capsys)
    assert status == 0 and "warning: lp-obj 'nfsd'" in err


def test_no_suggestion_when_nothing_is_close(tmp_path, capsys):
    src = _module(tmp_path, "ext4", ["xfs"])
    status, _o, err = run([src, tmp_path / "lp.ko"], capsys)
    assert status == 0 and "warning: lp-obj 'ext4'" in err
    assert "did you mean" not in err


def test_the_converted_module_keeps_its_symbols(tmp_path, capsys):
    src = _module(tmp_path, "nfds", ["nfsd"])
    out = tmp_path / "lp.ko"
    run([src, out], capsys)
    names = {s.name for s in Elf(out.read_bytes()).symbols if s.shndx == SHN_LIVEPATCH}
    assert names == {".klp.sym.nfds.nfsd4_foo,0"}
