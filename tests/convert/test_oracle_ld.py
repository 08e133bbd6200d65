# SPDX-License-Identifier: GPL-2.0-only
"""The strongest oracle: GNU ld itself.

The same C source is compiled once to assembly.  One copy keeps the
intermediate klp names and goes through klp-convert; in the other copy each
intermediate name is replaced by a plain symbol, which `ld` links for real
(a linker script puts every allocated section at a chosen address, and
--defsym gives every external symbol the address a fake kernel would).  The
kernel model in elfcheck.py (klp_resolve_symbols + x86_64
apply_relocate_add) applied to the converted module at the same section
addresses must give exactly the bytes ld produced, section by section.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Dict

import pytest

from convert_support import ARCH_CFLAGS, FIXTURES, KERNEL_CFLAGS, check_accepted, run
from elfcheck import (INTER_RE, SHF_ALLOC, SHT_REL, SHT_RELA, Elf, apply_module,
                      check_structure, fake_address)

QUOTED = re.compile(r'"(\.klp\.sym\.rela\.[^"\\]*)"')
SHT_NOBITS, SHT_GROUP = 8, 17


def _direct_asm(asm: str):
    """Replace quoted intermediate names by plain symbols, except inside
    string directives (debug strings keep the C-level names)."""
    names: Dict[str, str] = {}

    def sub(m):
        return names.setdefault(m.group(1), f"klp_direct_{len(names)}")
    lines = []
    for line in asm.splitlines():
        if line.lstrip().startswith((".string", ".ascii", ".asciz")):
            lines.append(line)
        else:
            lines.append(QUOTED.sub(sub, line))
    return "\n".join(lines) + "\n", names


def _as_ld_r(asm: str, out: Path) -> Path:
    s = out.with_suffix(".s")
    s.write_text(asm)
    subprocess.run(["as", "--64", str(s), "-o", str(out.with_suffix(".tmp.o"))],
                   check=True)
    subprocess.run(["ld", "-r", str(out.with_suffix(".tmp.o")), "-o", str(out)],
                   check=True)
    return out


def _alloc_sections(elf: Elf):
    return [s for s in elf.sections[1:] if s.flags & SHF_ALLOC
            and s.type not in (SHT_RELA, SHT_REL, SHT_GROUP)]


@pytest.mark.parametrize("fixture", ["lp_basic.c", "lp_more.c", "comdat.c"])
def test_same_bytes_as_ld(fixture, tmp_path):
    asm = tmp_path / "klp.s"
    subprocess.run(["gcc", "-S", *KERNEL_CFLAGS, *ARCH_CFLAGS["x86_64"],
                    "-fno-asynchronous-unwind-tables", "-fno-unwind-tables",
                    str(FIXTURES / fixture), "-o", str(asm)], check=True)
    text = asm.read_text()
    direct_text, names = _direct_asm(text)
    assert names, "fixture without intermediate symbols"
    klp_o = _as_ld_r(text, tmp_path / "klp.o")
    direct_o = _as_ld_r(direct_text, tmp_path / "direct.o")

    ko = tmp_path / "klp.ko"
    assert run([klp_o, ko]) == (0, "", "")
    conv = Elf(ko.read_bytes())
    check_structure(conv)
    check_accepted(ko)

    # load addresses: one 64 KiB slot per allocated section, in file order
    addr = {s.name: 0xFFFFFFFFA0000000 + i * 0x10000
            for i, s in enumerate(_alloc_sections(conv))}
    assert len(addr) == len(_alloc_sections(conv)), "duplicate section names"
    script = ["SECTIONS {"]
    script += [f"  {n} 0x{a:x} : {{ *({n}) }}" for n, a in addr.items()]
    script.append("}")
    (tmp_path / "link.lds").write_text("\n".join(script) + "\n")

    defsyms = []
    for inter, plain in names.items():
        m = INTER_RE.match(inter)
        assert m, inter
        defsyms.append(f"--defsym={plain}=0x{fake_address(m.group(2), m.group(3), int(m.group(4))):x}")
    dobj = Elf(direct_o.read_bytes())
    for s in dobj.symbols:
        if s.shndx == 0 and s.name and not s.name.startswith("klp_direct_"):
            defsyms.append(f"--defsym={s.name}=0x{fake_address('exported', s.name):x}")
    exe = tmp_path / "direct.elf"
    r = subprocess.run(["ld", "-static", "-nostdlib", "-e", "0", "--no-relax",
                        "-z", "noexecstack", "-T", str(tmp_path / "link.lds"),
                        *defsyms, str(direct_o), "-o", str(exe)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    linked = Elf(exe.read_bytes())
    raw = exe.read_bytes()
    shoff = int.from_bytes(raw[0x28:0x30], "little")

    model = apply_module(conv, addr.__getitem__)
    compared = 0
    for s in _alloc_sections(conv):
        if s.type == SHT_NOBITS or not s.data:     # ld drops empty sections
            continue
        t = linked.by_name(s.name)
        sh_addr = int.from_bytes(raw[shoff + 64 * t.index + 16:
                                     shoff + 64 * t.index + 24], "little")
        assert sh_addr == addr[s.name], s.name
        assert model[s.name] == t.data, f"{fixture}: section {s.name} differs"
        compared += 1
    assert compared >= 3
