# SPDX-License-Identifier: GPL-2.0-only
"""Laying out and writing an ELF64 relocatable file.

An ET_REL file has no program headers, so only the section contents and the
section header table need a place: the ELF header, then every section in
index order at its required alignment, then the section header table.
"""

from __future__ import annotations

import os
import struct

from .elf import (EHDR_FMT, EHDR_SIZE, SHDR_FMT, SHDR_SIZE, SHN_LORESERVE,
                  SHN_XINDEX, SHT_NOBITS, Ehdr, Section)
from .errors import CheckError
from .inputs import MAX_MODULE_SIZE, check_output


def _align(value: int, alignment: int) -> int:
    if alignment <= 1:
        return value
    return (value + alignment - 1) // alignment * alignment


def _layout(sections: list[Section]) -> int:
    """Give every section its file offset, aligned like ld does; return
    the offset of the section header table.  Refuses a layout larger than
    any module the kernel loads before a byte of it is allocated."""
    end = EHDR_SIZE
    for sec in sections[1:]:
        start = _align(end, sec.sh_addralign)
        sec.sh_offset = start
        if sec.sh_type == SHT_NOBITS:
            continue
        sec.sh_size = len(sec.data)
        end = start + sec.sh_size
        if end > MAX_MODULE_SIZE:
            raise CheckError(
                f"section '{sec.name}' (alignment {sec.sh_addralign}) would "
                f"end at file offset {end}: a module is at most "
                f"{MAX_MODULE_SIZE} bytes (INT_MAX, what finit_module() reads)")
    shoff = _align(end, 8)
    if shoff + len(sections) * SHDR_SIZE > MAX_MODULE_SIZE:
        raise CheckError(f"the module would be larger than {MAX_MODULE_SIZE} "
                         "bytes (INT_MAX, what finit_module() reads)")
    return shoff


def build(endian: str, ehdr: Ehdr, sections: list[Section],
          shstrndx: int) -> bytes:
    """Serialise @sections (index 0 is the null section) into a file.
    The pieces are joined once: no growing buffer, no copy of it (a
    module's worth of memory less)."""
    shoff = _layout(sections)
    shnum = len(sections)
    null = sections[0]
    null.sh_size = shnum if shnum >= SHN_LORESERVE else 0
    null.sh_link = shstrndx if shstrndx >= SHN_LORESERVE else 0
    ehdr = ehdr._replace(
        e_shoff=shoff, e_shnum=0 if shnum >= SHN_LORESERVE else shnum,
        e_shstrndx=SHN_XINDEX if shstrndx >= SHN_LORESERVE else shstrndx)
    parts = [struct.pack(endian + EHDR_FMT, *ehdr)]
    end = EHDR_SIZE
    for sec in sections[1:]:
        if sec.sh_type == SHT_NOBITS:
            continue
        parts.append(b"\0" * (sec.sh_offset - end))
        parts.append(sec.data)
        end = sec.sh_offset + len(sec.data)
    parts.append(b"\0" * (shoff - end))
    shdr = struct.Struct(endian + SHDR_FMT)
    parts += [shdr.pack(*s.header()) for s in sections]
    assert SHDR_SIZE == shdr.size and EHDR_SIZE == len(parts[0])
    return b"".join(parts)


def _create_temp(path: str) -> tuple[int, str]:
    """Create .<name>.<pid>.<n>.klp.tmp beside @path, exclusively, mode
    0600.  (tempfile.mkstemp would do, but importing tempfile costs 4 ms
    of a run's start-up.)"""
    directory = os.path.dirname(os.path.abspath(path))
    stem = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for n in range(100):
        tmp = f"{stem}.{n}.klp.tmp"
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue        # left over by a killed run with the same pid
    raise FileExistsError(f"cannot create a temporary file {stem}.*.klp.tmp")


def write_atomic(path: str, data: bytes, mode_from: str | None = None) -> None:
    """Replace @path by @data atomically: a temporary file in the same
    directory (named .<name>.*.klp.tmp, which Kbuild's clean removes),
    fsync, rename.  On any failure the temporary file is removed and @path
    is left as it was.  Only a regular file (or a symbolic link, which is
    replaced itself) is ever replaced."""
    check_output(path)
    fd, tmp = _create_temp(path)
    try:
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        src = mode_from if mode_from and os.path.exists(mode_from) else None
        if src is None and os.path.exists(path):
            src = path
        mode = os.stat(src).st_mode & 0o7777 if src else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
