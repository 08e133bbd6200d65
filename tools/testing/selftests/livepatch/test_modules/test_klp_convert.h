/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared declarations of the klp-convert selftest modules. */
#ifndef _TEST_KLP_CONVERT_H
#define _TEST_KLP_CONVERT_H

#include <linux/kernel.h>

/* test_klp_convert_mod: not exported, only shared between its two files. */
const char *test_klp_convert_mod_b_string(void);
void test_klp_convert_mod_run(void);

/*
 * The livepatches list what they resolved in their read-only "resolved"
 * module parameter, one symbol a line:
 *	<object> <symbol> <sympos> <address> [<where>]
 * The selftest compares <address> with /proc/kallsyms (check_resolved in
 * functions.sh): the <sympos>-th symbol of that name in <object>, or the only
 * one when <sympos> is 0.
 */
#define KLP_CONVERT_SHOW(buf, len, obj, sym, pos, addr, where)		\
	((len) += scnprintf((buf) + (len), PAGE_SIZE - (len),		\
			    "%s %s %d %lx %s\n", obj, sym, pos,		\
			    (unsigned long)(addr), where))

#endif /* _TEST_KLP_CONVERT_H */
