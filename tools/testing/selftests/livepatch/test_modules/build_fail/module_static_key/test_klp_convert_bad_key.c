// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_klp_convert_bad_key - MUST NOT BUILD.
 *
 * test_klp_convert_mod_key is a static key of the module
 * test_klp_convert_mod.  static_branch_unlikely() records it in this
 * module's __jump_table, so the relocation would land in
 * .klp.rela.test_klp_convert_mod.__jump_table: module-specific relocations
 * are applied when the target module loads, long after jump_label_add_module()
 * read this module's __jump_table.  klp-convert must stop the build.
 */

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/jump_label.h>
#include <linux/klp_reloc.h>

extern struct static_key_false klp_test_klp_convert_mod_key
	KLP_RELOC_SYMBOL(test_klp_convert_mod, test_klp_convert_mod,
			 test_klp_convert_mod_key);

static void livepatch_test_klp_convert_mod_run(void)
{
	if (static_branch_unlikely(&klp_test_klp_convert_mod_key))
		pr_info("test_klp_convert_mod_key is on\n");
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

static int test_klp_convert_bad_key_init(void)
{
	return klp_enable_patch(&patch);
}

static void test_klp_convert_bad_key_exit(void)
{
}

module_init(test_klp_convert_bad_key_init);
module_exit(test_klp_convert_bad_key_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
