# SPDX-License-Identifier: GPL-2.0-only
"""A finished module file: compressed or not, signed or not.

modules_install signs a module, then compresses it
(CONFIG_MODULE_COMPRESS_{GZIP,XZ,ZSTD}); the kernel (or kmod) decompresses
it and checks the signature appended to the ELF image:

    <ELF image><signature><struct module_signature><MODULE_SIG_STRING>

struct module_signature (include/linux/module_signature.h) is 12 bytes,
its last field sig_len big-endian; mod_verify_sig() strips it all and
loads the ELF image in front of it.
"""

from __future__ import annotations

import struct
import zlib
from collections import namedtuple

from .errors import InputError
from .inputs import MAX_MODULE_SIZE, SIGNATURE_MARKER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol
else:
    Protocol = object

_MODSIG = struct.Struct(">BBBBB3xI")     # algo hash id_type signer key_id sig_len

XZ_MAGIC = b"\xfd7zXZ\x00"
GZ_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class ZstdUnsupported(InputError):
    """zstd data, and this Python reads no zstd."""


class Module(namedtuple("Module", ["elf", "compression", "signed"])):
    """elf: bytes: the ELF image the kernel loads
    compression: str | None: "xz", "gzip" or "zstd"
    signed: bool: an appended module signature was removed"""

    __slots__ = ()


def unwrap(raw: bytes) -> Module:
    """The ELF image of a module file, decompressed and without its
    signature; InputError if it cannot be read."""
    compression, data = decompress(raw)
    elf, signed = split_signature(data)
    return Module(elf, compression, signed)


def split_signature(data: bytes) -> tuple[bytes, bool]:
    """(ELF image, True) for a signed module, (data, False) otherwise."""
    if not data.endswith(SIGNATURE_MARKER):
        return data, False
    end = len(data) - len(SIGNATURE_MARKER)
    if end < _MODSIG.size:
        raise InputError("damaged module signature: the file ends with "
                         f"{SIGNATURE_MARKER[:-1].decode()!r} but is too "
                         "short for one")
    sig_len = _MODSIG.unpack_from(data, end - _MODSIG.size)[5]
    elf_end = end - _MODSIG.size - sig_len
    if elf_end <= 0:
        raise InputError(f"damaged module signature: its length {sig_len} "
                         "is larger than the file")
    return data[:elf_end], True


def decompress(raw: bytes) -> tuple[str | None, bytes]:
    """(compression, data) of a file as distributions ship modules:
    plain, xz, gzip or zstd (also kallsyms dumps and System.maps for
    --symbols).  InputError for damaged data, ZstdUnsupported if this
    Python cannot read zstd."""
    if raw.startswith(XZ_MAGIC):
        import lzma
        try:
            return "xz", _bounded(lzma.LZMADecompressor(), raw)
        except lzma.LZMAError as exc:
            raise InputError(f"damaged xz data: {exc}") from None
    if raw.startswith(GZ_MAGIC):
        try:
            return "gzip", _bounded(zlib.decompressobj(16 + zlib.MAX_WBITS),
                                    raw)
        except zlib.error as exc:
            raise InputError(f"damaged gzip data: {exc}") from None
    if raw.startswith(ZSTD_MAGIC):
        return "zstd", _zstd(raw)
    return None, raw


class _Decompressor(Protocol):
    def decompress(self, data: bytes, max_length: int = ...) -> bytes: ...


def _bounded(decompressor: _Decompressor, raw: bytes) -> bytes:
    """Decompress at most MAX_MODULE_SIZE + 1 bytes: a module larger than
    the kernel loads is refused without inflating it all."""
    out = decompressor.decompress(raw, MAX_MODULE_SIZE + 1)
    if len(out) > MAX_MODULE_SIZE:
        raise InputError(f"decompresses to more than {MAX_MODULE_SIZE} "
                         "bytes: the kernel loads modules of at most "
                         f"{MAX_MODULE_SIZE} bytes (INT_MAX)")
    if not getattr(decompressor, "eof", True):
        raise InputError("truncated compressed data")
    return out


def _zstd(raw: bytes) -> bytes:
    from importlib import import_module     # neither has type hints here
    try:
        zstd: Any = import_module("compression.zstd")   # Python >= 3.14
        try:
            return _bounded(zstd.ZstdDecompressor(), raw)
        except zstd.ZstdError as exc:
            raise InputError(f"damaged zstd data: {exc}") from None
    except ImportError:
        pass
    try:
        zstandard: Any = import_module("zstandard")  # python3-zstandard
    except ImportError:
        raise ZstdUnsupported(
            "zstd-compressed module: this Python cannot decompress zstd "
            "(it needs Python 3.14's compression.zstd or the zstandard "
            "module); decompress it first with 'zstd -d'") from None
    chunks: list[bytes] = []
    total = 0
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(raw)
        while total <= MAX_MODULE_SIZE:
            chunk = reader.read(1 << 24)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except zstandard.ZstdError as exc:
        raise InputError(f"damaged zstd data: {exc}") from None
    if total > MAX_MODULE_SIZE:
        raise InputError(f"decompresses to more than {MAX_MODULE_SIZE} "
                         "bytes: the kernel loads modules of at most "
                         f"{MAX_MODULE_SIZE} bytes (INT_MAX)")
    return b"".join(chunks)
