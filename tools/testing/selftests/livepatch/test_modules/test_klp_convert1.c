// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_klp_convert1 - a livepatch with klp-convert relocations for two
 * lp-objects: vmlinux and test_klp_convert_mod.
 *
 * vmlinux (relocations applied when this module loads):
 *   - saved_command_line: non-exported data, sympos 0;
 *   - kallsyms_lookup_name(): non-exported function (called), sympos 0;
 *   - c_start: a static function name that occurs several times in vmlinux,
 *     the second one (sympos 2).
 * test_klp_convert_mod (relocations applied when that module is loaded,
 * before or after this patch):
 *   - driver_name: a unique static array, sympos 0;
 *   - homonym_string and get_homonym_string(): static names defined in both
 *     of the module's source files, sympos 1 and 2.
 *
 * It replaces cmdline_proc_show() (reads saved_command_line) and
 * test_klp_convert_mod_run() (reads and calls the module's symbols).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>
#include <linux/klp_reloc.h>
#include "test_klp_convert.h"

/* vmlinux: the C names differ from the kernel's own declarations. */
extern char *klp_saved_command_line
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
extern unsigned long klp_kallsyms_lookup_name(const char *name)
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, kallsyms_lookup_name);
/* Only its address is used: the selftest compares it with /proc/kallsyms. */
extern void klp_c_start_2(void)
	KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 2);

/* test_klp_convert_mod */
extern const char klp_driver_name[]
	KLP_RELOC_SYMBOL(test_klp_convert_mod, test_klp_convert_mod, driver_name);
extern char *klp_homonym_string_1
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     homonym_string, 1);
extern char *klp_homonym_string_2
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     homonym_string, 2);
extern const char *klp_get_homonym_string_1(void)
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     get_homonym_string, 1);
extern const char *klp_get_homonym_string_2(void)
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     get_homonym_string, 2);

static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s %s\n", klp_saved_command_line, KBUILD_MODNAME);
	return 0;
}

static void livepatch_test_klp_convert_mod_run(void)
{
	pr_info("driver_name: %s\n", klp_driver_name);
	pr_info("homonym_string,1: %s\n", klp_homonym_string_1);
	pr_info("homonym_string,2: %s\n", klp_homonym_string_2);
	pr_info("get_homonym_string,1(): %s\n", klp_get_homonym_string_1());
	pr_info("get_homonym_string,2(): %s\n", klp_get_homonym_string_2());
}

/*
 * /sys/module/test_klp_convert1/parameters/resolved: the addresses this
 * module resolved.  The test_klp_convert_mod ones are only meaningful while
 * that module is loaded.
 */
static int resolved_get(char *buf, const struct kernel_param *kp)
{
	int len = 0;

	KLP_CONVERT_SHOW(buf, len, "vmlinux", "saved_command_line", 0,
			 &klp_saved_command_line, "text");
	KLP_CONVERT_SHOW(buf, len, "vmlinux", "kallsyms_lookup_name", 0,
			 klp_kallsyms_lookup_name, "text");
	KLP_CONVERT_SHOW(buf, len, "vmlinux", "c_start", 2,
			 klp_c_start_2, "text");
	KLP_CONVERT_SHOW(buf, len, "test_klp_convert_mod", "driver_name", 0,
			 klp_driver_name, "text");
	KLP_CONVERT_SHOW(buf, len, "test_klp_convert_mod", "homonym_string", 1,
			 &klp_homonym_string_1, "text");
	KLP_CONVERT_SHOW(buf, len, "test_klp_convert_mod", "homonym_string", 2,
			 &klp_homonym_string_2, "text");
	KLP_CONVERT_SHOW(buf, len, "test_klp_convert_mod", "get_homonym_string",
			 1, klp_get_homonym_string_1, "text");
	KLP_CONVERT_SHOW(buf, len, "test_klp_convert_mod", "get_homonym_string",
			 2, klp_get_homonym_string_2, "text");
	return len;
}

static const struct kernel_param_ops resolved_ops = {
	.get = resolved_get,
};
module_param_cb(resolved, &resolved_ops, NULL, 0400);
MODULE_PARM_DESC(resolved, "Addresses resolved through klp-convert relocations");

static struct klp_func vmlinux_funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = livepatch_cmdline_proc_show,
	}, { }
};

static struct klp_func mod_funcs[] = {
	{
		.old_name = "test_klp_convert_mod_run",
		.new_func = livepatch_test_klp_convert_mod_run,
	}, { }
};

static struct klp_object objs[] = {
	{
		/* name being NULL means vmlinux */
		.funcs = vmlinux_funcs,
	}, {
		.name = "test_klp_convert_mod",
		.funcs = mod_funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int test_klp_convert1_init(void)
{
	unsigned long addr;

	/* vmlinux relocations are applied before this runs. */
	pr_info("saved_command_line: %s\n", klp_saved_command_line);
	addr = klp_kallsyms_lookup_name("saved_command_line");
	pr_info("kallsyms_lookup_name(\"saved_command_line\"): %s\n",
		addr == (unsigned long)&klp_saved_command_line ?
		"matches" : "differs");

	return klp_enable_patch(&patch);
}

static void test_klp_convert1_exit(void)
{
}

module_init(test_klp_convert1_init);
module_exit(test_klp_convert1_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("Livepatch test: klp-convert relocations for vmlinux and a module");
