// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_klp_convert1 - a livepatch with klp-convert relocations for two
 * lp-objects, vmlinux and test_klp_convert_mod, to symbols declared in
 * test_klp_convert_syms.h.
 *
 * vmlinux (relocations applied when this module loads): saved_command_line
 * (data), kallsyms_lookup_name() (called), the 2nd c_start (its address);
 * test_klp_convert_mod (relocations applied when that module is loaded,
 * before or after this patch, and again when it is loaded again):
 * driver_name, homonym_string and get_homonym_string() (sympos 1 and 2).
 *
 * It replaces cmdline_proc_show() (reads saved_command_line) and
 * test_klp_convert_mod_run() (reads and calls the module's symbols).
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>
#include "test_klp_convert_syms.h"

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
#define MOD "test_klp_convert_mod"

static int resolved_get(char *buf, const struct kernel_param *kp)
{
	int len = 0;

	len = klp_convert_show(buf, len, "vmlinux", "saved_command_line", 0,
			       (unsigned long)&klp_saved_command_line, "text");
	len = klp_convert_show(buf, len, "vmlinux", "kallsyms_lookup_name", 0,
			       (unsigned long)klp_kallsyms_lookup_name, "text");
	len = klp_convert_show(buf, len, "vmlinux", "c_start", 2,
			       (unsigned long)klp_c_start_2, "text");
	len = klp_convert_show(buf, len, MOD, "driver_name", 0,
			       (unsigned long)klp_driver_name, "text");
	len = klp_convert_show(buf, len, MOD, "homonym_string", 1,
			       (unsigned long)&klp_homonym_string_1, "text");
	len = klp_convert_show(buf, len, MOD, "homonym_string", 2,
			       (unsigned long)&klp_homonym_string_2, "text");
	len = klp_convert_show(buf, len, MOD, "get_homonym_string", 1,
			       (unsigned long)klp_get_homonym_string_1, "text");
	len = klp_convert_show(buf, len, MOD, "get_homonym_string", 2,
			       (unsigned long)klp_get_homonym_string_2, "text");
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
