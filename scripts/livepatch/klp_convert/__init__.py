# SPDX-License-Identifier: GPL-2.0-only
"""klp-convert: turn intermediate klp symbols of a livepatch module into
SHN_LIVEPATCH symbols and .klp.rela.* livepatch relocation sections.

Modules, one job each:
  errors   the exceptions raised deep down and reported by cli; warning()
  inputs   reading input files safely, checking output paths
  modfile  a finished module: decompression, appended signature
  names    parsing of .klp.sym.* names (syntax and length limits)
  elf      reading an ELF64 relocatable file (tables in bulk with struct),
           named fields for the ELF header, section headers and symbols
  relocs   relocation tables as columns, split in bulk
  writer   laying out and writing an ELF64 relocatable file atomically
  rewrite  an edit of a file: sections and symbols dropped, replaced or
           added, every index renumbered (conversion and strip)
  arch     per-architecture tables and relocation site decoders
  targets  what the module loader does with each section, as a target
  checks/  every rule: module, symbols, relocations, finished (--check),
           kernel (symbol verification); one function per rule
  lpobjs   do the lp-objs name objects the patch declares (warnings)
  plan     the conversion plan: intermediate symbols, what moves where
  convert  the conversion: plan, checks over it, rewrite; --weaken
  verify   --check: a finished module as the kernel will load it
  strip    --strip-debug: strip --strip-debug without damage
  console  what the modes share: messages, exit codes, reading the
           input, writing the output
  finished the command line of --check and --strip-debug
  cli      argument parsing; conversion, --list and --weaken

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
  symcheck     the lookups, applying the rules of checks/kernel
"""

__version__ = "0.1.0"
