#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# klp-convert: non-exported vmlinux symbols, symbol positions, and module
# targets loaded before, after, and again under a livepatch.  What a reload
# of the target under the livepatch must do depends on the running kernel:
# it works since 6.3, 6.1 refuses it.

. "$(dirname "$0")/functions.sh"

MOD_LIVEPATCH=test_klp_convert1
MOD_TARGET=test_klp_convert_mod

setup_config

# test_klp_convert1 resolves these (the 2nd "c_start": three in 6.1, 6.12,
# 7.2 and 7.3).
require_symbol vmlinux saved_command_line 0
require_symbol vmlinux kallsyms_lookup_name 0
require_symbol vmlinux c_start 2
require_symbol vmlinux cmdline_proc_show 0

# the lines of a livepatch that loads and enables itself
enable_log() {
	echo "% insmod $MOD_LIVEPATCH
$MOD_LIVEPATCH: saved_command_line: $CMDLINE
$MOD_LIVEPATCH: kallsyms_lookup_name(\"saved_command_line\"): matches
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete"
}

# the lines of disabling and removing the livepatch
disable_log() {
	echo "% echo 0 > /sys/kernel/livepatch/$MOD_LIVEPATCH/enabled
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% rmmod $MOD_LIVEPATCH"
}

# the lines of the patched test_klp_convert_mod_run()
patched_run_log() {
	echo "% echo 1 > /sys/module/$MOD_TARGET/parameters/run
$MOD_LIVEPATCH: driver_name: $MOD_TARGET
$MOD_LIVEPATCH: homonym_string,1: homonym string A
$MOD_LIVEPATCH: homonym_string,2: homonym string B
$MOD_LIVEPATCH: get_homonym_string,1(): homonym string A
$MOD_LIVEPATCH: get_homonym_string,2(): homonym string B"
}

CHECKED="addresses match /proc/kallsyms"
CMDLINE=$(cat /proc/cmdline)

# - load a livepatch that reads non-exported vmlinux data (saved_command_line)
#   and calls a non-exported vmlinux function (kallsyms_lookup_name), both
#   sympos 0, and takes the address of the 2nd "c_start" of vmlinux;
# - check the addresses against /proc/kallsyms and the patched /proc/cmdline.

start_test "klp-convert: vmlinux data, function and homonym"

load_lp $MOD_LIVEPATCH
check_resolved $MOD_LIVEPATCH vmlinux
[ "$(cat /proc/cmdline)" = "$CMDLINE $MOD_LIVEPATCH" ] ||
	die "/proc/cmdline is not patched: $(cat /proc/cmdline)"
disable_lp $MOD_LIVEPATCH
unload_lp $MOD_LIVEPATCH
[ "$(cat /proc/cmdline)" = "$CMDLINE" ] || die "/proc/cmdline is still patched"

check_result "$(enable_log)
% check_resolved $MOD_LIVEPATCH vmlinux: 3 $CHECKED
$(disable_log)"


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
$(enable_log)
$(patched_run_log)
% check_resolved $MOD_LIVEPATCH: 8 $CHECKED
$(disable_log)
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

check_result "$(enable_log)
% insmod $MOD_TARGET
livepatch: applying patch '$MOD_LIVEPATCH' to loading module '$MOD_TARGET'
$MOD_TARGET: $MOD_TARGET
$(patched_run_log)
% check_resolved $MOD_LIVEPATCH: 8 $CHECKED
% rmmod $MOD_TARGET
livepatch: reverting patch '$MOD_LIVEPATCH' on unloading module '$MOD_TARGET'
$(disable_log)"


# - load the target, then the livepatch (relocations applied), unload the
#   target and load it again while the livepatch stays.
#
# Since 6.3, klp_module_going() clears the target's relocations in the
# livepatch (clear_relocate_add()) and klp_module_coming() applies them
# again for the new copy of the target: it loads, runs patched, and every
# address matches /proc/kallsyms again.
#
# Linux 6.1 has no clear_relocate_add(): the values written by the first
# load stay, and x86's apply_relocate_add() refuses to overwrite a nonzero
# value ("Skipping invalid relocation target", -ENOEXEC), so
# klp_module_coming() fails and the kernel refuses the target while the
# livepatch is loaded.  Once the livepatch is gone, the target loads and
# runs unpatched.

start_test "klp-convert: target module reloaded while the livepatch stays"

load_mod $MOD_TARGET
load_lp $MOD_LIVEPATCH
check_resolved $MOD_LIVEPATCH
unload_mod $MOD_TARGET
if kernel_at_least 6 3; then
	load_mod $MOD_TARGET
	write_param $MOD_TARGET run 1
	check_resolved $MOD_LIVEPATCH
	unload_mod $MOD_TARGET
	disable_lp $MOD_LIVEPATCH
	unload_lp $MOD_LIVEPATCH
	RELOAD_LOG="% insmod $MOD_TARGET
livepatch: applying patch '$MOD_LIVEPATCH' to loading module '$MOD_TARGET'
$MOD_TARGET: $MOD_TARGET
$(patched_run_log)
% check_resolved $MOD_LIVEPATCH: 8 $CHECKED
% rmmod $MOD_TARGET
livepatch: reverting patch '$MOD_LIVEPATCH' on unloading module '$MOD_TARGET'
$(disable_log)"
else
	load_failing_mod $MOD_TARGET
	disable_lp $MOD_LIVEPATCH
	unload_lp $MOD_LIVEPATCH
	load_mod $MOD_TARGET
	write_param $MOD_TARGET run 1
	unload_mod $MOD_TARGET
	SKIPPING="x86/modules: Skipping invalid relocation target, existing value is nonzero"
	REFUSING="refusing to load module '$MOD_TARGET'"
	RELOAD_LOG="% insmod $MOD_TARGET
module: $SKIPPING for type <type>, loc <loc>, val <val>
livepatch: failed to initialize patch '$MOD_LIVEPATCH' for module '$MOD_TARGET' (-8)
livepatch: patch '$MOD_LIVEPATCH' failed for module '$MOD_TARGET', $REFUSING
insmod $MOD_TARGET failed, as expected
$(disable_log)
% insmod $MOD_TARGET
$MOD_TARGET: $MOD_TARGET
% echo 1 > /sys/module/$MOD_TARGET/parameters/run
$MOD_TARGET: test_klp_convert_mod_run: homonym string A, homonym string B
% rmmod $MOD_TARGET"
fi

check_result "% insmod $MOD_TARGET
$MOD_TARGET: $MOD_TARGET
$(enable_log)
% check_resolved $MOD_LIVEPATCH: 8 $CHECKED
% rmmod $MOD_TARGET
livepatch: reverting patch '$MOD_LIVEPATCH' on unloading module '$MOD_TARGET'
$RELOAD_LOG"

exit 0
