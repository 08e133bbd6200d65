// SPDX-License-Identifier: GPL-2.0-only
/*
 * Second half of test_klp_convert_mod: the same static names as in
 * test_klp_convert_mod_a.c, with other contents.
 */

#include <linux/kernel.h>
#include <linux/compiler.h>
#include "test_klp_convert.h"

static char *homonym_string __used = "homonym string B";

static noinline __used const char *get_homonym_string(void)
{
	return homonym_string;
}

noinline const char *test_klp_convert_mod_b_string(void)
{
	return get_homonym_string();
}
