// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_klp_convert_keys - a livepatch that uses a non-exported vmlinux static
 * key (sched_schedstats) with static_branch_unlikely(): the key is referenced
 * from this module's __jump_table, so klp-convert writes a
 * .klp.rela.vmlinux.__jump_table section.  vmlinux relocations are applied
 * while the module loads, before jump_label_add_module() reads the table
 * (allowed since 5.8).  The replacement cmdline_proc_show() reports the
 * branch and the key's value; the selftest flips the key through
 * /proc/sys/kernel/sched_schedstats and checks that the branch follows.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>
#include <linux/jump_label.h>
#include "test_klp_convert_syms.h"

static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s: sched_schedstats branch %s, key %s\n",
		   KBUILD_MODNAME,
		   static_branch_unlikely(&klp_sched_schedstats) ? "on" : "off",
		   static_key_enabled(&klp_sched_schedstats) ? "on" : "off");
	return 0;
}

static int resolved_get(char *buf, const struct kernel_param *kp)
{
	return klp_convert_show(buf, 0, "vmlinux", "sched_schedstats", 0,
				(unsigned long)&klp_sched_schedstats, "text");
}

static const struct kernel_param_ops resolved_ops = {
	.get = resolved_get,
};
module_param_cb(resolved, &resolved_ops, NULL, 0400);
MODULE_PARM_DESC(resolved, "Addresses resolved through klp-convert relocations");

static struct klp_func funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = livepatch_cmdline_proc_show,
	}, { }
};

static struct klp_object objs[] = {
	{
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int test_klp_convert_keys_init(void)
{
	return klp_enable_patch(&patch);
}

static void test_klp_convert_keys_exit(void)
{
}

module_init(test_klp_convert_keys_init);
module_exit(test_klp_convert_keys_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("Livepatch test: a non-exported vmlinux static key");
