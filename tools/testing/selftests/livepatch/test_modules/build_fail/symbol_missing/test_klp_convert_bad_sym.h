/* SPDX-License-Identifier: GPL-2.0-only */
/* The klp symbols of test_klp_convert_bad_sym.c (see there). */
#ifndef _TEST_KLP_CONVERT_BAD_SYM_H
#define _TEST_KLP_CONVERT_BAD_SYM_H

#include <linux/klp_reloc.h>

/* A function whose address is only printed, never called. */
typedef void klp_bad_fn(void);

extern char *klp_saved_command_lin
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_lin);
extern klp_bad_fn klp_vmlinux_get_homonym_string
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, get_homonym_string);
extern const char klp_driver_nam[]
	KLP_RELOC_SYMBOL(test_klp_convert_mod, test_klp_convert_mod,
			 driver_nam);

#endif /* _TEST_KLP_CONVERT_BAD_SYM_H */
