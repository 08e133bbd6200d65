# SPDX-License-Identifier: GPL-2.0-only
"""Fixtures for the klp-convert tests: objects compiled from C or assembly
at test time, the converter's main(), and the binutils/elfutils checkers."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest

TOP = Path(__file__).resolve().parents[2]
LIVEPATCH = TOP / "scripts" / "livepatch"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(LIVEPATCH))

from klp_convert.cli import main as klp_main  # noqa: E402

KERNEL_CFLAGS = ["-O2", "-g", "-fno-pic", "-fno-pie", "-ffunction-sections",
                 "-fdata-sections", "-fno-common"]
ARCH_CFLAGS = {
    "x86_64": ["-mcmodel=kernel", "-mno-red-zone"],
    "ppc64le": ["-mcmodel=medium", "-mno-pcrel"],
    "s390x": ["-mbackchain"],
    "aarch64": ["-mcmodel=small"],
}
CROSS = {"x86_64": "", "ppc64le": "powerpc64le-linux-gnu-",
         "s390x": "s390x-linux-gnu-", "aarch64": "aarch64-linux-gnu-"}

# The two diagnostics eu-elflint gives for every livepatch module (kpatch's
# too): it does not know the kernel's SHN_LIVEPATCH symbol index (0xff20,
# in the OS-specific range) nor the SHF_RELA_LIVEPATCH flag (0x00100000).
# Each is accepted only on a livepatch symbol or a .klp.rela section.
ELFLINT_LIVEPATCH = (
    r"section \[\s*\d+\] '\.symtab': symbol \d+ \(\.klp\.sym\.[^)]*\): "
    r"invalid section index",
    r"section \[\s*\d+\] '\.klp\.rela\.[^']*' contains unknown flag\(s\) "
    r"0x100000",
)


def tool(arch: str, name: str) -> str:
    path = shutil.which(CROSS[arch] + name)
    if path is None:
        pytest.fail(f"{CROSS[arch]}{name} is not installed: tests/run installs "
                    "Debian's cross compilers (gcc-powerpc64le-linux-gnu, "
                    "gcc-s390x-linux-gnu, gcc-aarch64-linux-gnu)")
    return path


def compile_c(src: Path, out: Path, arch: str = "x86_64",
              extra: Optional[List[str]] = None) -> Path:
    obj = out.with_suffix(".tmp.o")
    subprocess.run([tool(arch, "gcc"), "-c", *KERNEL_CFLAGS, *ARCH_CFLAGS[arch],
                    *(extra or []), str(src), "-o", str(obj)], check=True)
    subprocess.run([tool(arch, "ld"), "-r", str(obj), "-o", str(out)], check=True)
    obj.unlink()
    return out


def assemble(asm: str, out: Path) -> Path:
    src = out.with_suffix(".s")
    src.write_text(asm)
    obj = out.with_suffix(".tmp.o")
    subprocess.run(["as", "--64", str(src), "-o", str(obj)], check=True)
    subprocess.run(["ld", "-r", str(obj), "-o", str(out)], check=True)
    obj.unlink()
    return out


def run(argv: List[str], capsys=None):
    """klp-convert's main() in-process: (status, stdout, stderr)."""
    status = klp_main([str(a) for a in argv])
    if capsys is None:
        return status, "", ""
    cap = capsys.readouterr()
    return status, cap.out, cap.err


def check_accepted(path: Path, arch: str = "x86_64", ignore=()) -> None:
    """readelf and eu-elflint accept the file (@ignore: more regexes of
    eu-elflint lines to accept)."""
    import re
    r = subprocess.run([tool(arch, "readelf"), "-a", "-W", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr
    r = subprocess.run(["eu-elflint", "--gnu-ld", str(path)],
                       capture_output=True, text=True)
    bad = [line for line in r.stdout.splitlines() + r.stderr.splitlines()
           if line.strip() and "No errors" not in line
           and not any(re.search(p, line) for p in (*ELFLINT_LIVEPATCH, *ignore))]
    assert not bad, "eu-elflint: " + "\n".join(bad)


@pytest.fixture
def fixture_obj(tmp_path):
    def make(name: str, arch: str = "x86_64", extra=None) -> Path:
        return compile_c(FIXTURES / name, tmp_path / f"{Path(name).stem}-{arch}.o",
                         arch, extra)
    return make


def _section_header(raw: bytearray, index: int) -> int:
    return struct.unpack_from("<Q", raw, 0x28)[0] + 64 * index


def rename_symbol(path: Path, old: str, new: str) -> None:
    """Give symbol @old the name @new: a copy of .strtab with @new at its
    end is appended to the file and .strtab points to it (x86_64)."""
    from elfcheck import Elf
    raw = bytearray(path.read_bytes())
    elf = Elf(bytes(raw))
    symtab = elf.by_name(".symtab")
    strtab = elf.sections[symtab.link]
    index = next(s for s in range(len(elf.symbols))
                 if elf.symbols[s].name == old)
    sym_off = struct.unpack_from(
        "<Q", raw, _section_header(raw, symtab.index) + 24)[0]
    struct.pack_into("<I", raw, sym_off + 24 * index, len(strtab.data))
    raw += b"\0" * (-len(raw) % 8)
    data = strtab.data + new.encode() + b"\0"
    struct.pack_into("<QQ", raw, _section_header(raw, strtab.index) + 24,
                     len(raw), len(data))
    raw += data
    path.write_bytes(bytes(raw))
