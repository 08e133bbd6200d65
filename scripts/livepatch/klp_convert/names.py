# SPDX-License-Identifier: GPL-2.0-only
"""Parsing and validation of klp symbol names.

Intermediate symbol (written by the livepatch source through an asm()
alias, see include/linux/klp_reloc.h):

    .klp.sym.rela.<lp-obj>.<sym-obj>.<sym>,<pos>     (or .<pos>)

Final symbol, parsed by klp_resolve_symbols() in kernel/livepatch/core.c
with ".klp.sym.%55[^.].%511[^,],%lu":

    .klp.sym.<sym-obj>.<sym>,<pos>
"""

from __future__ import annotations

import re
from collections import namedtuple

from .errors import SymbolNameError

KLP_SYM_PREFIX = ".klp.sym."
INTERMEDIATE_PREFIX = ".klp.sym.rela."
KLP_RELA_PREFIX = ".klp.rela."
VMLINUX = "vmlinux"

# MODULE_NAME_LEN - 1 and KSYM_NAME_LEN - 1 (since 6.1) as used by the
# kernel's sscanf() formats.
MAX_OBJNAME = 55
MAX_SYMNAME = 511
ULONG_MAX = (1 << 64) - 1

_OBJ_RE = re.compile(r"[A-Za-z0-9_]+\Z")
_POS_RE = re.compile(r"(.*)[,.]([0-9]+)\Z", re.S)


class KlpName(namedtuple("KlpName", ["lp_obj", "sym_obj", "sym", "pos"])):
    """An intermediate symbol name, taken apart: lp-obj, sym-obj and symbol
    name (str), sympos (int)."""

    __slots__ = ()

    @property
    def final(self) -> str:
        return f"{KLP_SYM_PREFIX}{self.sym_obj}.{self.sym},{self.pos}"

    @property
    def module_specific(self) -> bool:
        return bool(self.lp_obj != VMLINUX)


def byte_length(name: str) -> int:
    """Length of @name in the file, in bytes: the kernel's sscanf() field
    widths count bytes, not characters (names are decoded from the file
    with surrogateescape, so this gives back the original bytes)."""
    if name.isascii():
        return len(name)
    return len(name.encode("utf-8", "surrogateescape"))


def _check_obj(name: str, what: str, full: str) -> None:
    if not name:
        raise SymbolNameError(f"symbol '{full}': empty {what} name")
    size = byte_length(name)
    if size > MAX_OBJNAME:
        raise SymbolNameError(
            f"symbol '{full}': {what} name '{name}' is {size} bytes, the "
            f"kernel allows at most {MAX_OBJNAME}")
    if not _OBJ_RE.match(name):
        hint = ""
        if "-" in name:
            hint = " (module names use '_' where the file name has '-')"
        raise SymbolNameError(
            f"symbol '{full}': {what} name '{name}' is not a valid object "
            f"name{hint}")


def parse_intermediate(full: str) -> KlpName:
    """Split and validate an intermediate symbol name."""
    if not full.startswith(INTERMEDIATE_PREFIX):
        raise SymbolNameError(f"symbol '{full}' is not an intermediate klp symbol")
    rest = full[len(INTERMEDIATE_PREFIX):]
    lp_obj, dot, rest = rest.partition(".")
    if not dot:
        raise SymbolNameError(
            f"symbol '{full}': expected .klp.sym.rela.<lp-obj>.<sym-obj>."
            "<symbol>,<sympos>")
    sym_obj, dot, rest = rest.partition(".")
    if not dot:
        raise SymbolNameError(
            f"symbol '{full}': expected .klp.sym.rela.<lp-obj>.<sym-obj>."
            "<symbol>,<sympos>")
    _check_obj(lp_obj, "lp-obj", full)
    _check_obj(sym_obj, "sym-obj", full)
    m = _POS_RE.match(rest)
    if not m:
        raise SymbolNameError(
            f"symbol '{full}': missing or non-decimal sympos after the "
            "symbol name (expected ',<decimal>')")
    sym, pos_text = m.group(1), m.group(2)
    if not sym:
        raise SymbolNameError(f"symbol '{full}': empty symbol name")
    if "," in sym:
        raise SymbolNameError(
            f"symbol '{full}': symbol name '{sym}' contains ',' or a "
            "non-decimal sympos")
    size = byte_length(sym)
    if size > MAX_SYMNAME:
        raise SymbolNameError(
            f"symbol '{full}': symbol name is {size} bytes, the kernel "
            f"allows at most {MAX_SYMNAME}")
    return KlpName(lp_obj, sym_obj, sym, parse_pos(full, pos_text))


def parse_pos(full: str, text: str) -> int:
    """The sympos @text of the symbol named @full, as the kernel's %lu
    reads it: ASCII digits (str.isdigit() and int() also take superscripts
    and other Unicode digits) up to ULONG_MAX.  The digits are compared
    before they are converted: int() refuses more than 4,300 digits
    (Python >= 3.11) and would be slow on millions of them."""
    if not text.isascii() or not text.isdigit():
        raise SymbolNameError(
            f"symbol '{full}': missing or non-decimal sympos after the "
            "symbol name (expected ',<decimal>')")
    digits = text.lstrip("0")
    if len(digits) > len(str(ULONG_MAX)) or int(digits or "0") > ULONG_MAX:
        shown = text if len(text) <= 40 else \
            f"{text[:20]}...({len(text)} digits)"
        raise SymbolNameError(f"symbol '{full}': sympos {shown} is too large")
    return int(digits or "0")


def parse_final(full: str) -> tuple[str, str, int]:
    """(sym-obj, sym, pos) of the finished symbol name @full, read as
    klp_resolve_symbols() does; SymbolNameError saying what is wrong."""
    obj, dot, rest = full[len(KLP_SYM_PREFIX):].partition(".")
    sym, comma, pos = rest.rpartition(",")
    if not full.startswith(KLP_SYM_PREFIX) or \
            full.startswith(INTERMEDIATE_PREFIX) or \
            not (dot and obj and byte_length(obj) <= MAX_OBJNAME and comma
                 and sym and "," not in sym
                 and byte_length(sym) <= MAX_SYMNAME):
        raise SymbolNameError(
            f"symbol '{full}': the kernel cannot parse the name "
            "(\".klp.sym.%55[^.].%511[^,],%lu\", klp_resolve_symbols())")
    return obj, sym, parse_pos(full, pos)


def final_name_problem(full: str) -> str | None:
    """What is wrong with the finished symbol name @full, or None."""
    try:
        parse_final(full)
    except SymbolNameError as exc:
        return str(exc)
    return None


def parse_final_name(full: str) -> tuple[str, str, int] | None:
    """(sym-obj, sym, pos) of @full if it parses like
    klp_resolve_symbols() expects, else None."""
    try:
        return parse_final(full)
    except SymbolNameError:
        return None


def is_final_name(full: str) -> bool:
    """True if @full parses like klp_resolve_symbols() expects."""
    return parse_final_name(full) is not None


def klp_rela_name(lp_obj: str, target: str) -> str:
    return f"{KLP_RELA_PREFIX}{lp_obj}.{target}"


def klp_rela_lp_obj(section: str) -> str:
    """The lp-obj of a .klp.rela.<lp-obj>.<section> name, as the kernel
    reads it (up to the first dot); "" if @section is not one."""
    if not section.startswith(KLP_RELA_PREFIX):
        return ""
    return section[len(KLP_RELA_PREFIX):].split(".", 1)[0]
