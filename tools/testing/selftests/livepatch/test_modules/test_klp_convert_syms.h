/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The symbols the klp-convert test livepatches reach without an export,
 * declared once with KLP_RELOC_SYMBOL() and KLP_RELOC_SYMBOL_POS().  The C
 * names (klp_*) differ from the kernel's own declarations; a declaration
 * that a module does not use leaves no trace in it.  Functions take the
 * type of an existing declaration (typeof), so that no prototype names
 * the macro's arguments.
 *
 * vmlinux (relocations applied when the livepatch loads):
 *   - saved_command_line: non-exported data, sympos 0;
 *   - kallsyms_lookup_name(): non-exported function, sympos 0;
 *   - c_start: a static function name that occurs three times in vmlinux
 *     on every supported kernel (6.1, 6.12, 7.2, 7.3), the second one;
 *   - sched_schedstats: a non-exported static key.
 * test_klp_convert_mod (relocations applied when that module loads, before
 * or after the livepatch):
 *   - driver_name: a unique static array, sympos 0;
 *   - homonym_string and get_homonym_string(): static names defined in
 *     both of the module's source files, sympos 1 and 2.
 */
#ifndef _TEST_KLP_CONVERT_SYMS_H
#define _TEST_KLP_CONVERT_SYMS_H

#include <linux/kallsyms.h>
#include <linux/jump_label.h>
#include <linux/klp_reloc.h>
#include "test_klp_convert.h"

/* A function whose address is only compared, never called. */
typedef void klp_convert_address_fn(void);

extern char *klp_saved_command_line
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
extern typeof(kallsyms_lookup_name) klp_kallsyms_lookup_name
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, kallsyms_lookup_name);
extern klp_convert_address_fn klp_c_start_2
	KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 2);
extern struct static_key_false klp_sched_schedstats
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, sched_schedstats);

extern const char klp_driver_name[]
	KLP_RELOC_SYMBOL(test_klp_convert_mod, test_klp_convert_mod, driver_name);
extern char *klp_homonym_string_1
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     homonym_string, 1);
extern char *klp_homonym_string_2
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     homonym_string, 2);
/* get_homonym_string() has the type of test_klp_convert_mod_b_string() */
extern typeof(test_klp_convert_mod_b_string) klp_get_homonym_string_1
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     get_homonym_string, 1);
extern typeof(test_klp_convert_mod_b_string) klp_get_homonym_string_2
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     get_homonym_string, 2);

#endif /* _TEST_KLP_CONVERT_SYMS_H */
