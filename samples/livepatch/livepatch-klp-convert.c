// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * livepatch-klp-convert.c - livepatch sample that uses klp-convert
 *
 * Like livepatch-sample.c, this replaces cmdline_proc_show(), the function
 * behind /proc/cmdline.  The new function prints the kernel command line
 * from saved_command_line, which vmlinux does not export: the module
 * declares it with KLP_RELOC_SYMBOL() and klp-convert, run by Kbuild after
 * the module's final link, turns the reference into a livepatch
 * relocation that the livepatch core resolves when the patch loads.
 *
 * Example:
 *
 * $ cat /proc/cmdline
 * <your cmdline>
 *
 * $ insmod livepatch-klp-convert.ko
 * $ cat /proc/cmdline
 * <your cmdline> klp-convert
 *
 * $ echo 0 > /sys/kernel/livepatch/livepatch_klp_convert/enabled
 * $ cat /proc/cmdline
 * <your cmdline>
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>
#include <linux/klp_reloc.h>

/* Not exported: resolved through a livepatch relocation. */
extern char *saved_command_line
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);

static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s klp-convert\n", saved_command_line);
	return 0;
}

static struct klp_func funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = livepatch_cmdline_proc_show,
	}, { }
};

static struct klp_object objs[] = {
	{
		/* name being NULL means vmlinux */
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int livepatch_init(void)
{
	return klp_enable_patch(&patch);
}

static void livepatch_exit(void)
{
}

module_init(livepatch_init);
module_exit(livepatch_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("Livepatch sample: a non-exported symbol through klp-convert");
