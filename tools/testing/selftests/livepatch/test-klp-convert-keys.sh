#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# klp-convert: a livepatch that uses a non-exported vmlinux static key
# (sched_schedstats) with static_branch_unlikely(), so its __jump_table
# refers to the key through a .klp.rela.vmlinux.__jump_table relocation.
# The branch must follow the key when /proc/sys/kernel/sched_schedstats
# flips it: that only happens if jump_label_add_module() found the key at
# the address the relocation wrote.

. "$(dirname "$0")/functions.sh"

MOD_LIVEPATCH=test_klp_convert_keys
SYSCTL=/proc/sys/kernel/sched_schedstats

setup_config

require_symbol vmlinux sched_schedstats 0
require_symbol vmlinux cmdline_proc_show 0
[ -w $SYSCTL ] || skip "$SYSCTL missing (CONFIG_SCHEDSTATS)"
SAVED_SCHEDSTATS=$(cat $SYSCTL)
restore_schedstats() {
	echo "$SAVED_SCHEDSTATS" > $SYSCTL
	cleanup
}
trap restore_schedstats EXIT INT TERM HUP

# set_schedstats(value) - flip the key; the livepatched /proc/cmdline
#			   reports the branch and the key in the kernel log
set_schedstats() {
	echo "$1" > $SYSCTL || die "failed to write $SYSCTL"
	cat /proc/cmdline > /dev/kmsg
}

start_test "klp-convert: vmlinux static key in __jump_table"

echo 0 > $SYSCTL || die "failed to write $SYSCTL"
load_lp $MOD_LIVEPATCH
check_resolved $MOD_LIVEPATCH
set_schedstats 0
set_schedstats 1
set_schedstats 0
disable_lp $MOD_LIVEPATCH
unload_lp $MOD_LIVEPATCH

check_result "% insmod test_modules/$MOD_LIVEPATCH.ko
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% check_resolved $MOD_LIVEPATCH: 1 addresses match /proc/kallsyms
$MOD_LIVEPATCH: sched_schedstats branch off, key off
$MOD_LIVEPATCH: sched_schedstats branch on, key on
$MOD_LIVEPATCH: sched_schedstats branch off, key off
% echo 0 > $SYSFS_KLP_DIR/$MOD_LIVEPATCH/enabled
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% rmmod $MOD_LIVEPATCH"

exit 0
