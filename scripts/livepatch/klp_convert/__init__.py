# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert: turn intermediate klp symbols of a livepatch module into
SHN_LIVEPATCH symbols and .klp.rela.* livepatch relocation sections.

Modules, one job each:
  errors   the exceptions raised deep down and reported by cli; warning()
  inputs   reading input files safely, checking output paths
  names    parsing and validation of .klp.sym.* names
  elf      reading an ELF64 relocatable file (tables in bulk with struct)
  arch     per-architecture relocation rules (what apply_relocate_add takes)
  targets  what the module loader does with each section, as a target
  checks   build-time checks that reproduce what the kernel would refuse
  lpobjs   do the lp-objs name objects the patch declares (warnings)
  convert  the conversion plan and its application to the in-memory file
  writer   laying out and writing an ELF64 relocatable file atomically
  modfile  a finished module: decompression, appended signature
  verify   --check: a finished module as the kernel will load it
  strip    --strip-debug: strip --strip-debug without damage
  finished the command line of --check and --strip-debug
  cli      argument parsing, messages and exit codes

Verification against the target kernel (--symbols, --symvers):
  ksyms        the kernel's symbols as klp_find_object_symbol() counts them,
               and its rule (klp_find)
  ksyms_text   reader: /proc/kallsyms dumps and System.map
  ksyms_elf    reader: vmlinux and module files (also compressed)
  ksyms_dir    reader: module directories (/lib/modules/<release>)
  ksyms_open   --symbols arguments: which reader, and all sources together
  suggest      close names among 200,000
  symvers      Module.symvers
  usage        calls and data accesses, per relocation
  symcheck     the checks, errors and warnings
"""

__version__ = "0.1.0"
