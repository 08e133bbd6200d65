#!/bin/sh
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
trap restore_schedstats EXIT

set_schedstats() {
	log "% echo $1 > $SYSCTL"
	echo "$1" > $SYSCTL || die "failed to write $SYSCTL"
}

start_test "klp-convert: vmlinux static key in __jump_table"

set_schedstats 0
load_lp $MOD_LIVEPATCH
check_resolved $MOD_LIVEPATCH
cat /proc/cmdline > /dev/kmsg
set_schedstats 1
cat /proc/cmdline > /dev/kmsg
set_schedstats 0
cat /proc/cmdline > /dev/kmsg
disable_lp $MOD_LIVEPATCH
unload_lp $MOD_LIVEPATCH

check_result "% echo 0 > $SYSCTL
% insmod $MOD_LIVEPATCH
livepatch: enabling patch '$MOD_LIVEPATCH'
livepatch: '$MOD_LIVEPATCH': initializing patching transition
livepatch: '$MOD_LIVEPATCH': starting patching transition
livepatch: '$MOD_LIVEPATCH': completing patching transition
livepatch: '$MOD_LIVEPATCH': patching complete
% check_resolved $MOD_LIVEPATCH: 1 addresses match /proc/kallsyms
$MOD_LIVEPATCH: sched_schedstats branch off, key off
% echo 1 > $SYSCTL
$MOD_LIVEPATCH: sched_schedstats branch on, key on
% echo 0 > $SYSCTL
$MOD_LIVEPATCH: sched_schedstats branch off, key off
% echo 0 > /sys/kernel/livepatch/$MOD_LIVEPATCH/enabled
livepatch: '$MOD_LIVEPATCH': initializing unpatching transition
livepatch: '$MOD_LIVEPATCH': starting unpatching transition
livepatch: '$MOD_LIVEPATCH': completing unpatching transition
livepatch: '$MOD_LIVEPATCH': unpatching complete
% rmmod $MOD_LIVEPATCH"

exit 0
