# SPDX-License-Identifier: GPL-2.0-only
"""ELF64 of both byte orders: objects from Debian's cross compilers."""

from __future__ import annotations

import pytest

from conftest import check_accepted, run
from elfcheck import SHN_LIVEPATCH, Elf, check_structure, reloc_multiset

MACHINES = {"x86_64": 62, "ppc64le": 21, "s390x": 22, "aarch64": 183}


@pytest.mark.parametrize("arch", sorted(MACHINES))
def test_cross_conversion(arch, fixture_obj, tmp_path):
    src = fixture_obj("lp_basic.c", arch)
    out = tmp_path / f"{arch}.ko"
    assert run([src, out]) == (0, "", "")
    before, after = Elf(src.read_bytes()), Elf(out.read_bytes())
    assert after.machine == MACHINES[arch]
    assert after.e == (">" if arch == "s390x" else "<")
    check_structure(after)
    check_accepted(out, arch)
    assert reloc_multiset(after) == reloc_multiset(before)
    assert {s.name for s in after.symbols if s.shndx == SHN_LIVEPATCH} >= {
        ".klp.sym.vmlinux.saved_command_line,0", ".klp.sym.test_mod.mod_func,1"}
    # idempotent on every architecture
    again = tmp_path / f"{arch}-again.ko"
    assert run([out, again]) == (0, "", "")
    assert again.read_bytes() == out.read_bytes()


def test_ppc64_toc_and_dot_toc(fixture_obj, tmp_path):
    """Data is reached through .toc: its relocation moves to
    .klp.rela.<obj>..toc; .TOC. references are never touched."""
    src = fixture_obj("lp_basic.c", "ppc64le")
    out = tmp_path / "ppc.ko"
    assert run([src, out]) == (0, "", "")
    elf = Elf(out.read_bytes())
    names = {s.name for s in elf.sections}
    assert ".klp.rela.vmlinux..toc" in names
    for rs in elf.rel_sections():
        for _o, si, rtype, _a in elf.relas(rs):
            if elf.symbols[si].name == ".TOC.":
                assert not rs.name.startswith(".klp.rela.")
            if rs.name.startswith(".klp.rela."):
                assert rtype not in (0, 47, 48, 49, 50, 63, 64, 51, 109, 118,
                                     249, 250, 251, 252)
