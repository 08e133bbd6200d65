# SPDX-License-Identifier: GPL-2.0-only
"""Reading input files and checking output paths, before any ELF parsing.

A path can name a device, a pipe or a file larger than memory: it is
checked with stat() before it is opened, opened without blocking, checked
again on the open descriptor (the path may have changed in between) and
read up to the size the kernel would load.
"""

from __future__ import annotations

import os
import stat

from .errors import InputError

# finit_module() reads a module with kernel_read_file(..., INT_MAX, ...)
# (kernel/module/main.c, 6.1 to 7.x): nothing larger can be a module.
MAX_MODULE_SIZE = (1 << 31) - 1

# What a signed module ends with (MODULE_SIG_STRING, see modfile.py): a
# constant of its own here, so that refusing a signed module does not
# import the decompressors.
SIGNATURE_MARKER = b"~Module signature appended~\n"

_CHUNK = 1 << 24

_KINDS = ((stat.S_ISDIR, "directory"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISFIFO, "FIFO"),
          (stat.S_ISSOCK, "socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "special file")


def _check_regular(st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"not a regular file ({_kind(st.st_mode)})")
    if st.st_size > MAX_MODULE_SIZE:
        raise InputError(f"{st.st_size} bytes: the kernel loads modules of at "
                         f"most {MAX_MODULE_SIZE} bytes (INT_MAX)")


def read_input(path: str) -> bytes:
    """The contents of the regular file @path, at most MAX_MODULE_SIZE
    bytes; InputError for anything else, OSError from the system."""
    _check_regular(os.stat(path))
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    fd = os.open(path, flags)
    try:
        _check_regular(os.fstat(fd))
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > MAX_MODULE_SIZE:     # grew while being read
                raise InputError(f"more than {MAX_MODULE_SIZE} bytes: the "
                                 "kernel loads modules of at most "
                                 f"{MAX_MODULE_SIZE} bytes (INT_MAX)")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def check_output(path: str) -> None:
    """@path will be replaced by rename(): refuse to replace anything but
    a regular file or a symbolic link (the link itself is replaced)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        raise InputError(f"not a regular file ({_kind(st.st_mode)})")
