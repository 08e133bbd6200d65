/* SPDX-License-Identifier: GPL-2.0-only */
/* The klp symbols of test_klp_convert_bad_pos.c (see there). */
#ifndef _TEST_KLP_CONVERT_BAD_POS_H
#define _TEST_KLP_CONVERT_BAD_POS_H

#include <linux/klp_reloc.h>

/* A function whose address is only printed, never called. */
typedef void klp_bad_fn(void);

extern klp_bad_fn klp_c_start_0 KLP_RELOC_SYMBOL(vmlinux, vmlinux, c_start);
extern klp_bad_fn klp_c_start_9
	KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 9);
extern char *klp_homonym_string_3
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     homonym_string, 3);
extern klp_bad_fn klp_get_homonym_string_0
	KLP_RELOC_SYMBOL(test_klp_convert_mod, test_klp_convert_mod,
			 get_homonym_string);

#endif /* _TEST_KLP_CONVERT_BAD_POS_H */
