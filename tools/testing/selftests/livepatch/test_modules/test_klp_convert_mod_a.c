// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_klp_convert_mod - target module for the klp-convert selftests
 *
 * Built from two files, this one (_a) and its sibling (_b), that both
 * define a static variable "homonym_string" and a static function
 * "get_homonym_string": the livepatches tell them apart with a symbol
 * position (sympos 1 and 2, in /proc/kallsyms order, which follows the link
 * order a.o, b.o).  Nothing here is exported: every symbol the livepatches
 * use is reached through a klp-convert relocation.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/jump_label.h>
#include "test_klp_convert.h"

/* A unique name: the livepatches reach it with sympos 0. */
static const char driver_name[] __used = KBUILD_MODNAME;

/*
 * A module static key: a livepatch must not use it through a klp-convert
 * relocation (see build_fail/module_static_key).
 */
static DEFINE_STATIC_KEY_FALSE(test_klp_convert_mod_key);

/* Homonyms: test_klp_convert_mod_b.c defines the same two names. */
static char *homonym_string __used = "homonym string A";

static noinline __used const char *get_homonym_string(void)
{
	return homonym_string;
}

/*
 * The function the livepatches replace.  Its replacement prints what the
 * livepatch resolved in this module, so a relocation is only ever followed
 * while this module is loaded and patched.
 */
noinline void test_klp_convert_mod_run(void)
{
	if (static_branch_unlikely(&test_klp_convert_mod_key))
		pr_info("%s: key on\n", __func__);
	pr_info("%s: %s, %s\n", __func__, get_homonym_string(),
		test_klp_convert_mod_b_string());
}

/* Writing anything to /sys/module/test_klp_convert_mod/parameters/run runs it. */
static int run_set(const char *val, const struct kernel_param *kp)
{
	test_klp_convert_mod_run();
	return 0;
}

static const struct kernel_param_ops run_ops = {
	.set = run_set,
};
module_param_cb(run, &run_ops, NULL, 0200);
MODULE_PARM_DESC(run, "Write anything to call test_klp_convert_mod_run()");

static int test_klp_convert_mod_init(void)
{
	pr_info("%s\n", driver_name);
	return 0;
}

static void test_klp_convert_mod_exit(void)
{
}

module_init(test_klp_convert_mod_init);
module_exit(test_klp_convert_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch test: target module for klp-convert");
