// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_klp_convert_sections - klp-convert relocations in several sections.
 *
 * The same four symbols (two in vmlinux, two in test_klp_convert_mod) are
 * referenced from:
 *   - .text.test_klp_convert_sections: code in a named text section;
 *   - .data: a structure of data and function pointers;
 *   - .rodata: the same structure, const;
 *   - .data..ro_after_init: the same structure, __ro_after_init.
 * vmlinux relocations are applied while this module loads, before its
 * sections are made read-only.  test_klp_convert_mod relocations are applied
 * later, when this module is already live and .rodata and
 * .data..ro_after_init are read-only: x86 applies them with text_poke(),
 * which writes through a temporary mapping, so they work on 6.1.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/cache.h>
#include "test_klp_convert_syms.h"

struct klp_convert_ptrs {
	char **cmdline;
	unsigned long (*lookup)(const char *name);
	const char *driver_name;
	const char *(*homonym)(void);
};

#define KLP_CONVERT_PTRS {					\
	.cmdline = &klp_saved_command_line,			\
	.lookup = klp_kallsyms_lookup_name,			\
	.driver_name = klp_driver_name,				\
	.homonym = klp_get_homonym_string_2,			\
}

static struct klp_convert_ptrs data_ptrs = KLP_CONVERT_PTRS;
static const struct klp_convert_ptrs rodata_ptrs = KLP_CONVERT_PTRS;
static struct klp_convert_ptrs ro_after_init_ptrs __ro_after_init =
	KLP_CONVERT_PTRS;

#define TEXT_SECTION __section(".text.test_klp_convert_sections")

static noinline TEXT_SECTION void text_ptrs(struct klp_convert_ptrs *p)
{
	p->cmdline = &klp_saved_command_line;
	p->lookup = klp_kallsyms_lookup_name;
	p->driver_name = klp_driver_name;
	p->homonym = klp_get_homonym_string_2;
}

/*
 * The structures are read through an opaque pointer so that the compiler
 * cannot fold the constants of rodata_ptrs into code (which would turn
 * the .rodata relocations into .text ones).
 */
static void show(const char *where, const struct klp_convert_ptrs *p)
{
	OPTIMIZER_HIDE_VAR(p);
	pr_info("%s: driver_name %s, get_homonym_string,2() %s\n",
		where, p->driver_name, p->homonym());
}

static void livepatch_test_klp_convert_mod_run(void)
{
	struct klp_convert_ptrs t;

	text_ptrs(&t);
	show(".text.test_klp_convert_sections", &t);
	show(".data", &data_ptrs);
	show(".rodata", &rodata_ptrs);
	show(".data..ro_after_init", &ro_after_init_ptrs);
}

static int show_resolved(char *buf, int len, const char *where,
			 const struct klp_convert_ptrs *p)
{
	OPTIMIZER_HIDE_VAR(p);
	len = klp_convert_show(buf, len, "vmlinux", "saved_command_line", 0,
			       (unsigned long)p->cmdline, where);
	len = klp_convert_show(buf, len, "vmlinux", "kallsyms_lookup_name", 0,
			       (unsigned long)p->lookup, where);
	len = klp_convert_show(buf, len, "test_klp_convert_mod", "driver_name",
			       0, (unsigned long)p->driver_name, where);
	return klp_convert_show(buf, len, "test_klp_convert_mod",
				"get_homonym_string", 2,
				(unsigned long)p->homonym, where);
}

static int resolved_get(char *buf, const struct kernel_param *kp)
{
	struct klp_convert_ptrs t;
	int len = 0;

	text_ptrs(&t);
	len = show_resolved(buf, len, ".text.test_klp_convert_sections", &t);
	len = show_resolved(buf, len, ".data", &data_ptrs);
	len = show_resolved(buf, len, ".rodata", &rodata_ptrs);
	len = show_resolved(buf, len, ".data..ro_after_init",
			    &ro_after_init_ptrs);
	return len;
}

static const struct kernel_param_ops resolved_ops = {
	.get = resolved_get,
};
module_param_cb(resolved, &resolved_ops, NULL, 0400);
MODULE_PARM_DESC(resolved, "Addresses resolved through klp-convert relocations");

static bool vmlinux_ok(const struct klp_convert_ptrs *p)
{
	OPTIMIZER_HIDE_VAR(p);
	return *p->cmdline == klp_saved_command_line &&
	       p->lookup("saved_command_line") ==
			(unsigned long)&klp_saved_command_line;
}

static struct klp_func mod_funcs[] = {
	{
		.old_name = "test_klp_convert_mod_run",
		.new_func = livepatch_test_klp_convert_mod_run,
	}, { }
};

static struct klp_object objs[] = {
	{
		.name = "test_klp_convert_mod",
		.funcs = mod_funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int test_klp_convert_sections_init(void)
{
	struct klp_convert_ptrs t;

	text_ptrs(&t);
	pr_info("vmlinux symbols: .text.test_klp_convert_sections %s, .data %s, .rodata %s, .data..ro_after_init %s\n",
		vmlinux_ok(&t) ? "ok" : "wrong",
		vmlinux_ok(&data_ptrs) ? "ok" : "wrong",
		vmlinux_ok(&rodata_ptrs) ? "ok" : "wrong",
		vmlinux_ok(&ro_after_init_ptrs) ? "ok" : "wrong");

	return klp_enable_patch(&patch);
}

static void test_klp_convert_sections_exit(void)
{
}

module_init(test_klp_convert_sections_init);
module_exit(test_klp_convert_sections_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("Livepatch test: klp-convert relocations in several sections");
