# SPDX-License-Identifier: GPL-2.0-only
"""Build-time checks: what the kernel would refuse, caught at make time.

The rules and where the kernel enforces them are summarised in
Documentation/livepatch/klp-convert.rst.
"""

from __future__ import annotations


from . import targets
from .elf import SHF_ALLOC, SHN_LORESERVE, Section
from .errors import CheckError
from .names import KlpName, VMLINUX

SIGNATURE_MARKER = b"~Module signature appended~\n"

DEBUG_PREFIXES = (".debug", ".zdebug", ".gnu.debuglto_", ".stab")


def is_debug_section(sec: Section) -> bool:
    return not sec.sh_flags & SHF_ALLOC and sec.name.startswith(DEBUG_PREFIXES)


def check_module(raw: bytes, modinfo: list[bytes]) -> None:
    """Whole-module checks, done only when there is something to convert."""
    if raw.endswith(SIGNATURE_MARKER):
        raise CheckError(
            "the module has an appended signature: converting it would "
            "invalidate the signature; run klp-convert before signing")
    if b"livepatch=Y" not in modinfo:
        raise CheckError(
            "'.modinfo' has no livepatch=Y: intermediate klp symbols are only "
            "resolved in livepatch modules (add MODULE_INFO(livepatch, \"Y\"))")


# The kernel reads e_shnum as is: with extended numbering (65,280 sections
# or more: e_shnum 0, e_shstrndx SHN_XINDEX) elf_validity_check() (6.1),
# elf_validity_cache_secstrings() (6.12, 7.3) refuse e_shstrndx >= e_shnum.
MAX_SECTIONS = SHN_LORESERVE - 1


def check_section_count(count: int) -> None:
    if count > MAX_SECTIONS:
        raise CheckError(
            f"the converted module would have {count} sections: the kernel "
            f"loads at most {MAX_SECTIONS} (no extended section numbering: "
            "e_shnum 0 is refused with \"Invalid ELF section name index\", "
            "elf_validity_check())")


def check_objects(name: KlpName) -> None:
    """lp-obj / sym-obj pairs that the kernel refuses or cannot resolve."""
    if name.module_specific and name.sym_obj == VMLINUX:
        raise CheckError(
            f"module-specific relocation (lp-obj '{name.lp_obj}') references "
            "a vmlinux symbol: the kernel refuses it (\"invalid access to "
            "vmlinux symbol\"); use lp-obj vmlinux for vmlinux symbols")
    if not name.module_specific and name.sym_obj != VMLINUX:
        raise CheckError(
            f"vmlinux relocation references a symbol of module "
            f"'{name.sym_obj}': it is resolved when the patch loads, and fails "
            f"unless '{name.sym_obj}' is already loaded; use lp-obj "
            f"'{name.sym_obj}'")


def check_target(target: Section, name: KlpName) -> None:
    """The section that a klp relocation would patch (see targets.py)."""
    if not target.sh_flags & SHF_ALLOC:
        raise CheckError(
            f"target section '{target.name}' is not SHF_ALLOC: the kernel "
            "silently skips relocations for it")
    targets.check_applied(target.name)
    if not name.module_specific:
        return
    use = targets.load_time_use(target.name)
    if use is not None:
        raise CheckError(
            f"special section '{target.name}' is used when the patch module "
            f"loads ({use}), before relocations for module '{name.lp_obj}' "
            "are applied: a module symbol cannot be used here (e.g. a module "
            "static key, parameter or exception table entry)")
    if targets.is_init(target.name):
        raise CheckError(
            f"init section '{target.name}' is freed after the patch module's "
            f"init, before relocations for module '{name.lp_obj}' are applied")
