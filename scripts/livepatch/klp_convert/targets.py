# SPDX-License-Identifier: GPL-2.0-only
"""What the module loader does with each section, as a target of
livepatch relocations.

Checked against kernel/module/main.c (rewrite_section_headers(),
layout_and_allocate(), find_module_sections(), load_module(),
post_relocation(), do_init_module()), kernel/livepatch/core.c,
lib/bug.c, kernel/cfi.c and the module_finalize() of
arch/{x86,powerpc,s390,arm64}/kernel/module*.c in Linux 6.1, 6.12 and 7.3.

vmlinux klp relocations are applied with the patch module's ordinary
relocations (apply_relocations(), inside load_module()); module-specific
ones only when the target module loads (klp_module_coming()), which can be
much later: by then the patch module's load-time processing is over.
"""

from __future__ import annotations

# The loader takes SHF_ALLOC away from these before apply_relocations():
# a vmlinux relocation is skipped, and a late module one would be written
# through sh_addr into the load image, freed when load_module() returns.
NOT_LOADED = frozenset({".modinfo", "__versions",
                        "__version_ext_crcs", "__version_ext_names"})  # 7.x
PERCPU = ".data..percpu"
# Read-only after the patch module's init (STRICT_MODULE_RWX).
RO_AFTER_INIT = ".data..ro_after_init"

# Read when the patch module loads, after its vmlinux relocations but
# before any module-specific one: what reads each.
LOAD_TIME = {
    "__param": "parse_args() parses the module parameters",
    "__ksymtab": "the module's exports",
    "__ksymtab_gpl": "the module's exports",
    "__kcrctab": "the module's export CRCs",
    "__kcrctab_gpl": "the module's export CRCs",
    "__kflagstab": "the module's export flags (7.x)",
    ".gnu.linkonce.this_module": "struct module: init and exit functions",
    ".ctors": "do_mod_ctors() runs the constructors",
    "__jump_table": "jump_label_add_module()",
    ".static_call_sites": "static_call_add_module()",
    "__ex_table": "sort_extable() in post_relocation()",
    "__bug_table": "module_bug_finalize()",
    "__mcount_loc": "ftrace_module_init()",
    "__patchable_function_entries": "ftrace_module_init()",
    "__tracepoints_ptrs": "tracepoint_module_coming()",
    "___srcu_struct_ptrs": "srcu_module_coming()",
    "__bpf_raw_tp_map": "bpf_event_notify()",
    "_ftrace_events": "trace_module_add_events()",
    "_ftrace_eval_map": "trace_module_add_evals()",
    "__trace_printk_fmt": "hold_module_trace_bprintk_format()",
    "_error_injection_whitelist": "populate_error_injection_list()",
    "_kprobe_blacklist": "kprobes_module_callback()",
    ".printk_index": "the printk index",
    ".kunit_test_suites": "kunit_module_init()",
    ".kunit_init_test_suites": "kunit_module_init()",
    "__dyndbg": "dynamic debug (ddebug_add_module())",
    "__dyndbg_classes": "dynamic debug (ddebug_add_module())",
    ".BTF": "btf_module_notify()",
    ".BTF.base": "btf_module_notify()",
    "__kcfi_traps": "module_cfi_finalize()",
    # arch module_finalize()
    ".altinstructions": "apply_alternatives()",
    ".altinstr_replacement": "apply_alternatives() copies it",
    ".parainstructions": "apply_paravirt() (x86, 6.1)",
    ".smp_locks": "alternatives_smp_module_add() (x86, 6.1, 6.12)",
    ".retpoline_sites": "apply_retpolines() (x86)",
    ".return_sites": "apply_returns() (x86)",
    ".call_sites": "callthunks_patch_module_calls() (x86, 6.12)",
    ".cfi_sites": "apply_fineibt() (x86, 6.12)",
    ".ibt_endbr_seal": "apply_ibt_endbr() or apply_seal_endbr() (x86)",
    "__ftr_fixup": "do_feature_fixups() (ppc64)",
    "__mmu_ftr_fixup": "do_feature_fixups() (ppc64)",
    "__fw_ftr_fixup": "do_feature_fixups() (ppc64)",
    "__lwsync_fixup": "do_lwsync_fixups() (ppc64)",
    "__spec_barrier_fixup": "do_barrier_nospec_fixups() (ppc64)",
    ".opd": "the ppc64 ELFv1 function descriptors",
    ".stubs": "the ppc64 loader fills it with call stubs",
    ".mygot": "the ppc64 loader fills it",
    ".plt": "the arm64 loader fills it with PLT entries",
    ".text.ftrace_trampoline": "the arm64 loader fills it",
}
LOAD_TIME_PREFIXES = (
    (".orc_", "unwind_module_init() (x86)"),
    (".s390_indirect", "nospec_revert() (s390x)"),
    (".s390_return", "nospec_revert() (s390x)"),
    ("__stack_protector_loc", "stack_protector_apply() (s390x, 7.x)"),
    (".note", "init_build_id() and the module's notes in sysfs"),
)


def load_time_use(name: str) -> str | None:
    """What reads section @name when the patch module loads, or None."""
    use = LOAD_TIME.get(name)
    if use is not None:
        return use
    return next((what for prefix, what in LOAD_TIME_PREFIXES
                 if name.startswith(prefix)), None)


def is_init(name: str) -> bool:
    """module_init_section() (the generic one; ppc64 keeps .init)."""
    return name.startswith(".init")
