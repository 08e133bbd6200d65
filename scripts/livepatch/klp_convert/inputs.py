# SPDX-License-Identifier: GPL-2.0-only
"""Reading input files and checking output paths, before any ELF parsing.

A path can name a device, a pipe or a file larger than memory: it is
checked with stat() before it is opened, opened without blocking, checked
again on the open descriptor (the path may have changed in between) and
read up to the size the kernel would load (a module), or up to a
generous limit of its own (the symbol sources of --symbols and
--symvers).
"""

from __future__ import annotations

import os
import stat
from collections import namedtuple

from .errors import InputError


class Limit(namedtuple("Limit", ["what", "size"])):
    """The largest file of one kind that klp-convert reads: what (str),
    size (int, bytes).  (collections, not typing: importing typing costs
    a conversion 2 ms of start-up.)"""

    __slots__ = ()


# finit_module() reads a module with kernel_read_file(..., INT_MAX, ...)
# (kernel/module/main.c, 6.1 to 7.x): nothing larger can be a module.
MAX_MODULE_SIZE = (1 << 31) - 1
MODULE = Limit("module", MAX_MODULE_SIZE)
# The symbol sources of --symbols and --symvers, far above real ones: a
# 7.x /proc/kallsyms dump is about 10 MB (a System.map less), a
# Module.symvers 1-2 MB, a modules.dep under 1 MB.  A vmlinux is read
# with seeks (headers, .symtab and its strings only); with debug
# information it is several hundred MB.
SYMBOL_TEXT = Limit("kallsyms dump or System.map", 256 << 20)
SYMVERS = Limit("Module.symvers", 256 << 20)
MODULES_DEP = Limit("modules.dep", 256 << 20)
VMLINUX = Limit("vmlinux", 16 << 30)

# What a signed module ends with (MODULE_SIG_STRING, see modfile.py): a
# constant of its own here, so that refusing a signed module does not
# import the decompressors.
SIGNATURE_MARKER = b"~Module signature appended~\n"

_CHUNK = 1 << 24
_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC

_KINDS = ((stat.S_ISDIR, "directory"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISFIFO, "FIFO"),
          (stat.S_ISSOCK, "socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "special file")


def _too_big(size: str, limit: Limit) -> InputError:
    if limit is MODULE:
        return InputError(f"{size} bytes: the kernel loads modules of at "
                          f"most {MAX_MODULE_SIZE} bytes (INT_MAX)")
    return InputError(f"{size} bytes: klp-convert reads a {limit.what} of "
                      f"at most {limit.size} bytes")


def _check_regular(st: os.stat_result, limit: Limit | None) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"not a regular file ({_kind(st.st_mode)})")
    if limit is not None and st.st_size > limit.size:
        raise _too_big(str(st.st_size), limit)


def open_regular(path: str, limit: Limit | None) -> int:
    """A descriptor of @path, a regular file of at most @limit bytes (None:
    of any size, the caller checks it once it knows what the file is):
    checked with stat() before it is opened (a FIFO would block open(), a
    device never ends), opened without blocking and checked again on the
    descriptor (the path may have changed in between).  InputError for
    anything else, OSError from the system."""
    _check_regular(os.stat(path), limit)
    fd = os.open(path, _FLAGS)
    try:
        _check_regular(os.fstat(fd), limit)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_fd(fd: int, limit: Limit) -> bytes:
    """The rest of the regular file open on @fd, at most @limit bytes
    (it may grow while being read)."""
    _check_regular(os.fstat(fd), limit)
    chunks = []
    total = 0
    while True:
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > limit.size:
            raise _too_big(f"more than {limit.size}", limit)
        chunks.append(chunk)
    return b"".join(chunks)


def read_file(path: str, limit: Limit) -> bytes:
    """The contents of the regular file @path, at most @limit bytes."""
    fd = open_regular(path, limit)
    try:
        return read_fd(fd, limit)
    finally:
        os.close(fd)


def read_input(path: str) -> bytes:
    """The module @path: at most MAX_MODULE_SIZE bytes."""
    return read_file(path, MODULE)


def check_output(path: str) -> None:
    """@path will be replaced by rename(): refuse to replace anything but
    a regular file or a symbolic link (the link itself is replaced)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        raise InputError(f"not a regular file ({_kind(st.st_mode)})")
