# SPDX-License-Identifier: GPL-2.0-only
"""Do the lp-objs name objects that the patch declares?

The kernel applies .klp.rela.<lp-obj>.* sections only for the objects of
the patch (klp_apply_object_relocs(), called for each klp_object by
klp_init_object_loaded(), kernel/livepatch/core.c, 6.1 to 7.3): an lp-obj
with a typo converts cleanly and is never applied.

The objects are the patch's struct klp_object entries, whose .name is a
string literal (NULL for vmlinux).  Finding the entries themselves would
mean knowing struct klp_object's layout for each kernel version and
reading the relocations of the patch's data; instead, a module lp-obj is
looked for as a whole NUL-terminated string in the module's read-only
data (.rodata*), where the compiler puts string literals.  That can only
miss a typo when the mistyped name happens to be another string literal
of the module; it never warns about a correct name.
"""

from __future__ import annotations

import re

from .elf import SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_PROGBITS, ElfFile
from .errors import warning
from .names import VMLINUX

_OBJNAME = re.compile(rb"[A-Za-z0-9_]{1,55}\Z")


def rodata_strings(elf: ElfFile) -> set[bytes]:
    """The NUL-terminated strings of the module's read-only data."""
    strings: set[bytes] = set()
    for sec in elf.sections:
        if (sec.sh_type == SHT_PROGBITS and sec.name.startswith(".rodata")
                and sec.sh_flags & SHF_ALLOC
                and not sec.sh_flags & (SHF_WRITE | SHF_EXECINSTR)):
            strings.update(sec.data.split(b"\0"))
    return strings


def undeclared(elf: ElfFile, lp_objs: dict[str, str]) -> list[str]:
    """Warnings for the module lp-objs of @lp_objs (lp-obj -> a symbol or
    section that uses it) that no string of the module's read-only data
    names."""
    wanted = {lp: sym for lp, sym in lp_objs.items() if lp != VMLINUX}
    if not wanted:
        return []
    strings = rodata_strings(elf)
    warnings = []
    for lp in sorted(wanted):
        if lp.encode() in strings:
            continue
        warnings.append(warning(
            f"lp-obj '{lp}' (used by '{wanted[lp]}') is not the name of an "
            f"object of this patch: no string \"{lp}\" in the module's "
            "read-only data, where the klp_object names are; the kernel "
            f"applies .klp.rela.{lp}.* only when a patched object of that "
            "name loads.  If it is a typo, fix the lp_obj argument of "
            "KLP_RELOC_SYMBOL() to the klp_object's name (module names use "
            f"'_' where the file name has '-'){_suggestion(lp, strings)}"))
    return warnings


def declared(elf: ElfFile, names: set[str]) -> set[str]:
    """The module names of @names that the module's read-only data has
    as a whole string: objects the patch declares (probably: a string
    literal of the same name elsewhere would count too)."""
    if not names:
        return set()
    strings = rodata_strings(elf)
    return {n for n in names if n != VMLINUX and n.encode() in strings}


def _suggestion(lp: str, strings: set[bytes]) -> str:
    import difflib          # only when there is something to warn about
    names = [s.decode() for s in strings if _OBJNAME.match(s)]
    close = difflib.get_close_matches(lp, names, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""
