// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_klp_convert_bad_vmlinux - MUST NOT BUILD.
 *
 * saved_command_line is a vmlinux symbol, but the relocation is gated by the
 * module test_klp_convert_mod (lp-obj): klp-convert would have to write it
 * into .klp.rela.test_klp_convert_mod.*, which the kernel rejects at load
 * time ("invalid access to vmlinux symbol ... from module-specific livepatch
 * relocation section", since 5.8).  klp-convert must stop the build.
 */

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/klp_reloc.h>

extern char *klp_saved_command_line
	KLP_RELOC_SYMBOL(test_klp_convert_mod, vmlinux, saved_command_line);

static void livepatch_test_klp_convert_mod_run(void)
{
	pr_info("%s\n", klp_saved_command_line);
}

static struct klp_func funcs[] = {
	{
		.old_name = "test_klp_convert_mod_run",
		.new_func = livepatch_test_klp_convert_mod_run,
	}, { }
};

static struct klp_object objs[] = {
	{
		.name = "test_klp_convert_mod",
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int test_klp_convert_bad_vmlinux_init(void)
{
	return klp_enable_patch(&patch);
}

static void test_klp_convert_bad_vmlinux_exit(void)
{
}

module_init(test_klp_convert_bad_vmlinux_init);
module_exit(test_klp_convert_bad_vmlinux_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
