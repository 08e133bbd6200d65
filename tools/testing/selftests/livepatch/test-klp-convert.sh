#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# klp-convert: non-exported vmlinux symbols, symbol positions, and module
# targets loaded before, after, and again under a livepatch.

. "$(dirname "$0")/functions.sh"

MOD_LIVEPATCH=test_klp_convert1
MOD_TARGET=test_klp_convert_mod

setup_config

# test_klp_convert1 resolves the 2nd "c_start" of vmlinux (three in Debian's
# 6.1): say so clearly if this kernel has fewer.
[ -n "$(kallsyms_addr vmlinux c_start 2)" ] ||
	die "vmlinux has fewer than two 'c_start' symbols: give test_klp_convert1 another vmlinux homonym for this kernel"


# - load a livepatch that reads non-exported vmlinux data (saved_command_line)
#   and calls a non-exported vmlinux function (kallsyms_lookup_name), both
#   sympos 0, and takes the address of the 2nd "c_start" of vmlinux;
# - check the addresses against /proc/kallsyms and the patched /proc/cmdline.

start_test "klp-convert: vmlinux data, function and homonym"

CMDLINE=$(cat /proc/cmdline)
load_lp $MOD_LIVEPATCH
check_resolved $MOD_LIVEPATCH vmlinux
[ "$(cat /proc/cmdline)" = "$CMDLINE $MOD_LIVEPATCH" ] ||
	die "/proc/cmdline is not patched: $(cat /proc/cmdline)"
disable_lp $MOD_LIVEPATCH
unload_lp $MOD_LIVEPATCH
[ "$(cat /proc/cmdline)" = "$CMDLINE" ] || die "/proc/cmdline is still patched"

check_result "% insmod $MOD_LIVEPATCH
$MOD_LIVEPATCH: saved_command_line: $CMDLINE
$MOD_LIVEPATCH: kallsyms_lookup_name(\"saved_command_line\"): matches
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% check_resolved $MOD_LIVEPATCH vmlinux: 3 addresses match /proc/kallsyms
% echo 0 > /sys/kernel/livepatch/$MOD_LIVEPATCH/enabled
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% rmmod $MOD_LIVEPATCH"


# - load the target module, then the livepatch: its test_klp_convert_mod
#   relocations are applied by klp_enable_patch(); homonym_string and
#   get_homonym_string() are defined in both files of the target and are
#   told apart by sympos 1 and 2;
# - run the patched function, check every address against /proc/kallsyms.

start_test "klp-convert: target module loaded before the livepatch"

load_mod $MOD_TARGET
load_lp $MOD_LIVEPATCH
write_param $MOD_TARGET run 1
check_resolved $MOD_LIVEPATCH
disable_lp $MOD_LIVEPATCH
unload_lp $MOD_LIVEPATCH
write_param $MOD_TARGET run 1
unload_mod $MOD_TARGET

check_result "% insmod $MOD_TARGET
$MOD_TARGET: $MOD_TARGET
% insmod $MOD_LIVEPATCH
$MOD_LIVEPATCH: saved_command_line: $CMDLINE
$MOD_LIVEPATCH: kallsyms_lookup_name(\"saved_command_line\"): matches
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% echo 1 > /sys/module/$MOD_TARGET/parameters/run
$MOD_LIVEPATCH: driver_name: $MOD_TARGET
$MOD_LIVEPATCH: homonym_string,1: homonym string A
$MOD_LIVEPATCH: homonym_string,2: homonym string B
$MOD_LIVEPATCH: get_homonym_string,1(): homonym string A
$MOD_LIVEPATCH: get_homonym_string,2(): homonym string B
% check_resolved $MOD_LIVEPATCH: 8 addresses match /proc/kallsyms
% echo 0 > /sys/kernel/livepatch/$MOD_LIVEPATCH/enabled
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% rmmod $MOD_LIVEPATCH
% echo 1 > /sys/module/$MOD_TARGET/parameters/run
$MOD_TARGET: test_klp_convert_mod_run: homonym string A, homonym string B
% rmmod $MOD_TARGET"


# - load the livepatch first: its test_klp_convert_mod relocations wait;
# - load the target module: klp_module_coming() applies them (late module
#   patching), then run the patched function and check the addresses;
# - unload the target while the livepatch stays, then the livepatch.

start_test "klp-convert: target module loaded after the livepatch"

load_lp $MOD_LIVEPATCH
load_mod $MOD_TARGET
write_param $MOD_TARGET run 1
check_resolved $MOD_LIVEPATCH
unload_mod $MOD_TARGET
disable_lp $MOD_LIVEPATCH
unload_lp $MOD_LIVEPATCH

check_result "% insmod $MOD_LIVEPATCH
$MOD_LIVEPATCH: saved_command_line: $CMDLINE
$MOD_LIVEPATCH: kallsyms_lookup_name(\"saved_command_line\"): matches
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% insmod $MOD_TARGET
livepatch: applying patch '$MOD_LIVEPATCH' to loading module '$MOD_TARGET'
$MOD_TARGET: $MOD_TARGET
% echo 1 > /sys/module/$MOD_TARGET/parameters/run
$MOD_LIVEPATCH: driver_name: $MOD_TARGET
$MOD_LIVEPATCH: homonym_string,1: homonym string A
$MOD_LIVEPATCH: homonym_string,2: homonym string B
$MOD_LIVEPATCH: get_homonym_string,1(): homonym string A
$MOD_LIVEPATCH: get_homonym_string,2(): homonym string B
% check_resolved $MOD_LIVEPATCH: 8 addresses match /proc/kallsyms
% rmmod $MOD_TARGET
livepatch: reverting patch '$MOD_LIVEPATCH' on unloading module '$MOD_TARGET'
% echo 0 > /sys/kernel/livepatch/$MOD_LIVEPATCH/enabled
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% rmmod $MOD_LIVEPATCH"


# - load the target, then the livepatch (relocations applied), unload the
#   target and load it again while the livepatch stays.
#
# Linux 6.1 has no clear_relocate_add() (it came with 6.3): unloading a
# target module leaves the values written by its livepatch relocations in
# the livepatch module's sections (klp_module_going() only unpatches the
# functions).  When the target comes back, klp_module_coming() applies the
# relocations again and x86's apply_relocate_add() refuses to overwrite a
# nonzero value ("x86/modules: Skipping invalid relocation target, existing
# value is nonzero", -ENOEXEC), so klp_module_coming() fails and the kernel
# refuses to load the target while the livepatch is loaded.  Once the
# livepatch is disabled and removed, the target loads and runs unpatched.
# On 6.3 and later the reload succeeds: this test asserts the 6.1
# behaviour, which is what a klp-convert user on 6.1 gets.

start_test "klp-convert: target module reloaded while the livepatch stays"

load_mod $MOD_TARGET
load_lp $MOD_LIVEPATCH
unload_mod $MOD_TARGET
load_failing_mod $MOD_TARGET
disable_lp $MOD_LIVEPATCH
unload_lp $MOD_LIVEPATCH
load_mod $MOD_TARGET
write_param $MOD_TARGET run 1
unload_mod $MOD_TARGET

check_result "% insmod $MOD_TARGET
$MOD_TARGET: $MOD_TARGET
% insmod $MOD_LIVEPATCH
$MOD_LIVEPATCH: saved_command_line: $CMDLINE
$MOD_LIVEPATCH: kallsyms_lookup_name(\"saved_command_line\"): matches
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% rmmod $MOD_TARGET
livepatch: reverting patch '$MOD_LIVEPATCH' on unloading module '$MOD_TARGET'
% insmod $MOD_TARGET
module: x86/modules: Skipping invalid relocation target, existing value is nonzero for type <type>, loc <loc>, val <val>
livepatch: failed to initialize patch '$MOD_LIVEPATCH' for module '$MOD_TARGET' (-8)
livepatch: patch '$MOD_LIVEPATCH' failed for module '$MOD_TARGET', refusing to load module '$MOD_TARGET'
insmod $MOD_TARGET failed, as expected
% echo 0 > /sys/kernel/livepatch/$MOD_LIVEPATCH/enabled
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% rmmod $MOD_LIVEPATCH
% insmod $MOD_TARGET
$MOD_TARGET: $MOD_TARGET
% echo 1 > /sys/module/$MOD_TARGET/parameters/run
$MOD_TARGET: test_klp_convert_mod_run: homonym string A, homonym string B
% rmmod $MOD_TARGET"

exit 0
