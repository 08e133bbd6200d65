#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# klp-convert: relocations in several sections of a livepatch module: a
# named text section (.text.*), function and data pointers in .data, and
# the read-only cases .rodata and .data..ro_after_init, for vmlinux symbols
# (applied while the livepatch loads) and for module symbols (applied when
# the target module loads, possibly long after the livepatch's sections were
# made read-only: x86 writes them with text_poke(), and 6.1 accepts them).

. "$(dirname "$0")/functions.sh"

MOD_LIVEPATCH=test_klp_convert_sections
MOD_TARGET=test_klp_convert_mod

setup_config

require_symbol vmlinux saved_command_line 0
require_symbol vmlinux kallsyms_lookup_name 0

SECTIONS=".text.test_klp_convert_sections .data .rodata .data..ro_after_init"
RESOLVED="driver_name $MOD_TARGET, get_homonym_string,2() homonym string B"
SECTIONS_LOG=$(for s in $SECTIONS; do echo "$MOD_LIVEPATCH: $s: $RESOLVED"; done)
VMLINUX_LOG="$MOD_LIVEPATCH: vmlinux symbols:"
for s in $SECTIONS; do
	VMLINUX_LOG="$VMLINUX_LOG $s ok,"
done
VMLINUX_LOG=${VMLINUX_LOG%,}


# - target module first: all relocations are applied while the livepatch
#   loads (module ones by klp_enable_patch(), before the livepatch's init
#   returns);
# - every pointer, in every section, must match /proc/kallsyms.

start_test "klp-convert: relocations in .text.*, .data, .rodata, .data..ro_after_init"

load_mod $MOD_TARGET
load_lp $MOD_LIVEPATCH
write_param $MOD_TARGET run 1
check_resolved $MOD_LIVEPATCH
disable_lp $MOD_LIVEPATCH
unload_lp $MOD_LIVEPATCH
unload_mod $MOD_TARGET

check_result "% insmod $MOD_TARGET
$MOD_TARGET: $MOD_TARGET
% insmod $MOD_LIVEPATCH
$VMLINUX_LOG
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% echo 1 > /sys/module/$MOD_TARGET/parameters/run
$SECTIONS_LOG
% check_resolved $MOD_LIVEPATCH: 16 addresses match /proc/kallsyms
% echo 0 > /sys/kernel/livepatch/$MOD_LIVEPATCH/enabled
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% rmmod $MOD_LIVEPATCH
% rmmod $MOD_TARGET"


# - livepatch first: its .rodata and .data..ro_after_init are read-only
#   when the target module loads and klp_module_coming() writes the module
#   relocations into them.

start_test "klp-convert: late module relocations in read-only sections"

load_lp $MOD_LIVEPATCH
load_mod $MOD_TARGET
write_param $MOD_TARGET run 1
check_resolved $MOD_LIVEPATCH
unload_mod $MOD_TARGET
disable_lp $MOD_LIVEPATCH
unload_lp $MOD_LIVEPATCH

check_result "% insmod $MOD_LIVEPATCH
$VMLINUX_LOG
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% insmod $MOD_TARGET
livepatch: applying patch '$MOD_LIVEPATCH' to loading module '$MOD_TARGET'
$MOD_TARGET: $MOD_TARGET
% echo 1 > /sys/module/$MOD_TARGET/parameters/run
$SECTIONS_LOG
% check_resolved $MOD_LIVEPATCH: 16 addresses match /proc/kallsyms
% rmmod $MOD_TARGET
livepatch: reverting patch '$MOD_LIVEPATCH' on unloading module '$MOD_TARGET'
% echo 0 > /sys/kernel/livepatch/$MOD_LIVEPATCH/enabled
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% rmmod $MOD_LIVEPATCH"

exit 0
