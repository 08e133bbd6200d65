# SPDX-License-Identifier: GPL-2.0-only
"""Rules for klp symbols: intermediate ones before the conversion,
livepatch ones in a finished module (--check).  Name syntax and length
are the name parser's (names.py)."""

from __future__ import annotations

from ..elf import (SHN_ABS, SHN_COMMON, SHN_LIVEPATCH, SHN_UNDEF, STB_GLOBAL,
                   STB_WEAK, Sym, bind)
from ..names import (INTERMEDIATE_PREFIX, VMLINUX, KlpName,
                     final_name_problem)
from . import error

# objtool's 'klp diff' output: __klp_relocs.<obj> sections that
# 'objtool klp post-link' turns into .klp.rela sections
# (tools/objtool/include/objtool/klp.h, 6.19+).
OBJTOOL_RELOCS_PREFIX = "__klp_relocs."


def defined_intermediate(name: str, sym: Sym) -> str | None:
    if sym.st_shndx == SHN_UNDEF:
        return None
    return error(f"intermediate symbol '{name}' is defined (section index "
                 f"{sym.st_shndx}): it must only be referenced, through "
                 "KLP_RELOC_SYMBOL()")


def local_intermediate(name: str, sym: Sym) -> str | None:
    if bind(sym.st_info) in (STB_GLOBAL, STB_WEAK):
        return None
    return error(f"intermediate symbol '{name}' is local: declare it extern")


def unresolvable(name: str, sym: Sym, objtool_relocs: bool) -> str | None:
    """An undefined .klp.sym.* symbol that is neither intermediate nor
    livepatch.  In a module with objtool's __klp_relocs.* sections it is
    one of 'objtool klp diff' (weak, see klp-diff.c clone_reloc_klp()),
    which only 'objtool klp post-link' finishes: converting ours around
    it would leave a module that the post-link cannot read right (its
    elf.c keeps one relocation section per section, and a .klp.rela
    section of ours would hide the ordinary one whose relocation it must
    disable), or, if the post-link is forgotten, weak symbols that load
    as address 0."""
    if sym.st_shndx != SHN_UNDEF or name.startswith(INTERMEDIATE_PREFIX):
        return None
    if objtool_relocs:
        return error(
            f"undefined symbol '{name}' is a livepatch symbol of 'objtool "
            "klp diff' that 'objtool klp post-link' has not finished yet "
            "(the module has __klp_relocs.* sections): run 'objtool klp "
            "post-link' on the module first, then klp-convert")
    return error(
        f"undefined symbol '{name}' is not an intermediate klp symbol "
        "(.klp.sym.rela.<lp-obj>.<sym-obj>.<symbol>,<sympos>) and not "
        "a livepatch symbol: nothing would resolve it")


def objects(name: KlpName) -> str | None:
    """lp-obj / sym-obj pairs that the kernel refuses or cannot resolve."""
    if name.module_specific and name.sym_obj == VMLINUX:
        return error(
            f"module-specific relocation (lp-obj '{name.lp_obj}') references "
            "a vmlinux symbol: the kernel refuses it (\"invalid access to "
            "vmlinux symbol\"); use lp-obj vmlinux for vmlinux symbols")
    if not name.module_specific and name.sym_obj != VMLINUX:
        return error(
            f"vmlinux relocation references a symbol of module "
            f"'{name.sym_obj}': it is resolved when the patch loads, and fails "
            f"unless '{name.sym_obj}' is already loaded; use lp-obj "
            f"'{name.sym_obj}'")
    return None


# -- a finished module (--check) -------------------------------------------

_SPECIAL = (SHN_UNDEF, SHN_ABS, SHN_COMMON, SHN_LIVEPATCH)


def invalid_section(name: str, sym: Sym, nsec: int) -> str | None:
    if sym.st_shndx < nsec or sym.st_shndx in _SPECIAL:
        return None
    return error(f"symbol '{name}': section index {sym.st_shndx:#x} is "
                 "invalid for the kernel (\"has an invalid section index\", "
                 "simplify_symbols())")


def common(name: str, sym: Sym, lto: bool) -> str | None:
    """@lto: the name starts with __gnu_lto (simplify_symbols() lets
    those through)."""
    if sym.st_shndx != SHN_COMMON or lto:
        return None
    return error(f"symbol '{name}' is a common symbol: the kernel refuses it "
                 "(\"please compile with -fno-common\", simplify_symbols())")


def misnamed_livepatch(name: str, sym: Sym) -> str | None:
    """SHN_LIVEPATCH on a symbol not named .klp.sym.*."""
    if sym.st_shndx != SHN_LIVEPATCH:
        return None
    return error(f"symbol '{name}' is SHN_LIVEPATCH but not named "
                 ".klp.sym.<object>.<symbol>,<position>")


def finished_klp_symbol(name: str, sym: Sym) -> str | None:
    """A .klp.sym.* symbol of a finished module."""
    if name.startswith(INTERMEDIATE_PREFIX):
        return error(f"symbol '{name}' is an intermediate klp symbol left "
                     "unconverted: run klp-convert on the module before it "
                     "is installed (weak, it would load as address 0)")
    problem = final_name_problem(name) if sym.st_shndx == SHN_LIVEPATCH \
        else None
    if problem:
        return error(problem)
    if sym.st_shndx == SHN_UNDEF:
        return error(f"symbol '{name}' is undefined but not SHN_LIVEPATCH: "
                     "the loader cannot resolve it (\"Unknown symbol\")")
    return None
