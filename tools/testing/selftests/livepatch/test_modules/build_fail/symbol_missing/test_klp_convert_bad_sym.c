// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_klp_convert_bad_sym - MUST NOT BUILD against the target kernel's
 * symbols (make KLP_SYMBOLS=<its /proc/kallsyms>).
 *
 * Symbols the kernel does not have where the livepatch says:
 *   - saved_command_lin: a typo of a vmlinux name,
 *   - driver_nam: a typo of a test_klp_convert_mod name,
 *   - get_homonym_string in vmlinux: the name exists, in another object
 *     (test_klp_convert_mod).
 * Without KLP_SYMBOLS it builds and the kernel would refuse it at load
 * time ("symbol ... not found in symbol table").  With them klp-convert
 * must stop the build, suggest the close names and the object that has
 * the name, and leave no .ko.
 */

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>
#include "test_klp_convert_bad_sym.h"

static int bad_sym_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s %ps\n", klp_saved_command_lin,
		   klp_vmlinux_get_homonym_string);
	return 0;
}

static void livepatch_test_klp_convert_mod_run(void)
{
	pr_info("%s\n", klp_driver_nam);
}

static struct klp_func vmlinux_funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = bad_sym_show,
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

static int test_klp_convert_bad_sym_init(void)
{
	return klp_enable_patch(&patch);
}

static void test_klp_convert_bad_sym_exit(void)
{
}

module_init(test_klp_convert_bad_sym_init);
module_exit(test_klp_convert_bad_sym_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
