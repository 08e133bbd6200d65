/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * klp_reloc.h - declare symbols that klp-convert turns into livepatch
 *               relocations
 *
 * A livepatch module that needs a symbol which the kernel does not export
 * declares it with one of the macros below, for example:
 *
 *	extern char *saved_command_line
 *		KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
 *
 * The compiler then refers to the intermediate symbol
 * ".klp.sym.rela.<lp_obj>.<sym_obj>.<sym>,<pos>", which klp-convert rewrites
 * after the final link of the module into a SHN_LIVEPATCH symbol
 * ".klp.sym.<sym_obj>.<sym>,<pos>" and moves the relocations against it
 * into ".klp.rela.<lp_obj>.<section>" sections.
 *
 * @lp_obj:  the object whose loading gates the relocation: vmlinux, or the
 *	     name of the patched module (with '-' written as '_').
 * @sym_obj: the object that provides the symbol (vmlinux or a module name).
 * @sym:     the symbol's name as it appears in /proc/kallsyms.
 * @pos:     the symbol's position among the symbols of that name in
 *	     @sym_obj, counted from 1 in /proc/kallsyms order; 0 means the
 *	     name is unique in @sym_obj.
 *
 * See Documentation/livepatch/klp-convert.rst.
 */
#ifndef _LINUX_KLP_RELOC_H
#define _LINUX_KLP_RELOC_H

/*
 * Both macros stringize their arguments directly: an argument passed on
 * to another macro would be macro-expanded first, and under GNU C names
 * such as "linux" and "unix" (also a module name) are predefined macros
 * that would reach the symbol name as "1".  __asm__ works in every C
 * dialect, asm only in the GNU ones.
 */
#define KLP_RELOC_SYMBOL_POS(lp_obj, sym_obj, sym, pos)			\
	__asm__("\".klp.sym.rela." #lp_obj "." #sym_obj "." #sym "," #pos "\"")

#define KLP_RELOC_SYMBOL(lp_obj, sym_obj, sym)				\
	__asm__("\".klp.sym.rela." #lp_obj "." #sym_obj "." #sym ",0\"")

#endif /* _LINUX_KLP_RELOC_H */
