// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_klp_convert_bad_pos - MUST NOT BUILD against the target kernel's
 * symbols (make KLP_SYMBOLS=<its /proc/kallsyms>).
 *
 * Every position here is wrong for the names the kernel has several times
 * (c_start: three times in vmlinux; homonym_string and get_homonym_string:
 * twice in test_klp_convert_mod):
 *   - position 0 for an ambiguous name ("unresolvable ambiguity" at load
 *     time),
 *   - a position beyond the count ("symbol position ... not found").
 * Without KLP_SYMBOLS it builds (the symbols are not verified) and the
 * kernel would refuse it at load time.  With them klp-convert must stop the
 * build, list every candidate with its position, address and type, and
 * leave no .ko.
 */

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>
#include "test_klp_convert_bad_pos.h"

static int bad_pos_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%ps %ps\n", klp_c_start_0, klp_c_start_9);
	return 0;
}

static void livepatch_test_klp_convert_mod_run(void)
{
	pr_info("%s %ps\n", klp_homonym_string_3, klp_get_homonym_string_0);
}

static struct klp_func vmlinux_funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = bad_pos_show,
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

static int test_klp_convert_bad_pos_init(void)
{
	return klp_enable_patch(&patch);
}

static void test_klp_convert_bad_pos_exit(void)
{
}

module_init(test_klp_convert_bad_pos_init);
module_exit(test_klp_convert_bad_pos_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
