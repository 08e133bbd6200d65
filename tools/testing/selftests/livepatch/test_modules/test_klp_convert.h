/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared declarations of the klp-convert selftest modules. */
#ifndef _TEST_KLP_CONVERT_H
#define _TEST_KLP_CONVERT_H

#include <linux/kernel.h>
#include <linux/mm.h>

/* test_klp_convert_mod: not exported, only shared between its two files. */
const char *test_klp_convert_mod_b_string(void);
void test_klp_convert_mod_run(void);

/*
 * klp_convert_show() - append one line to the read-only "resolved" module
 * parameter of a livepatch, which lists what it resolved, one symbol a line:
 *	<object> <symbol> <sympos> <address> [<where>]
 * The selftest compares <address> with /proc/kallsyms (check_resolved in
 * functions.sh): the <sympos>-th symbol of that name in <object>, or the only
 * one when <sympos> is 0.  Returns the new length of @buf (a page).
 */
static inline int klp_convert_show(char *buf, int len, const char *obj,
				   const char *sym, int pos, unsigned long addr,
				   const char *where)
{
	return len + scnprintf(buf + len, PAGE_SIZE - len, "%s %s %d %lx %s\n",
			       obj, sym, pos, addr, where);
}

#endif /* _TEST_KLP_CONVERT_H */
