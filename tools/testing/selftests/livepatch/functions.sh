#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Shell functions for the klp-convert livepatch selftests.
#
# Up to the "klp-convert helpers" line: the functions of the kernel's
# tools/testing/selftests/livepatch/functions.sh that the tests use, with
# the same names, arguments, kernel log lines and check_result() filter,
# written for a POSIX shell: this project runs the tests in a busybox
# initramfs, also on kernels older than that file's test_modules/ layout
# (6.10).  In a kernel tree the tests use the kernel's own functions.sh.
#
# From that line on: the helpers the klp-convert tests add to the kernel's
# functions.sh, the same text in both; they run under bash and busybox sh.

MAX_RETRIES=600
RETRY_INTERVAL=".1"	# seconds
SYSFS_KERNEL_DIR="/sys/kernel"
SYSFS_KLP_DIR="$SYSFS_KERNEL_DIR/livepatch"
SYSFS_DEBUG_DIR="$SYSFS_KERNEL_DIR/debug"

# Kselftest framework requirement - SKIP code is 4
ksft_skip=4

# log(msg) - write message to kernel log
log() {
	echo "$1" > /dev/kmsg
}

# skip(msg) - testing can't proceed
skip() {
	log "SKIP: $1"
	echo "SKIP: $1" >&2
	exit $ksft_skip
}

is_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "skip all tests: must be run as root" >&2
		exit $ksft_skip
	fi
}

# die(msg) - the test failed
die() {
	log "ERROR: $1"
	echo "ERROR: $1" >&2
	exit 1
}

push_config() {
	DYNAMIC_DEBUG=$(grep '^kernel/livepatch' "$SYSFS_DEBUG_DIR/dynamic_debug/control" |
			awk -F'[: ]' '{print "file " $1 " line " $2 " " $4}')
}

pop_config() {
	if [ -n "$DYNAMIC_DEBUG" ]; then
		echo "$DYNAMIC_DEBUG" > "$SYSFS_DEBUG_DIR/dynamic_debug/control"
	fi
}

set_dynamic_debug() {
	echo "file kernel/livepatch/* +p" > "$SYSFS_DEBUG_DIR/dynamic_debug/control"
	echo "func klp_try_switch_task -p" > "$SYSFS_DEBUG_DIR/dynamic_debug/control"
}

# unload_test_modules - disable and remove the test livepatches, then the
#	other test modules: all scripts run in one VM here, and a script that
#	failed half-way must not make the next one fail
unload_test_modules() {
	local lp m

	for lp in "$SYSFS_KLP_DIR"/test_klp_*; do
		[ -e "$lp" ] || continue
		echo 0 > "$lp/enabled" 2>/dev/null
		loop_until "[ ! -e $lp ]" || echo "cleanup: ${lp##*/} stays" >&2
	done
	for m in /sys/module/test_klp_*; do
		[ -e "$m/initstate" ] || continue
		rmmod "${m##*/}" 2>/dev/null || echo "cleanup: rmmod ${m##*/} failed" >&2
	done
}

cleanup() {
	unload_test_modules
	pop_config
}

# setup_config - check the kernel, save the dynamic debug settings and set
#		 an exit trap that restores them, then turn on the livepatch
#		 core's messages
setup_config() {
	is_root
	[ -d "$SYSFS_KLP_DIR" ] || skip "$SYSFS_KLP_DIR is missing (CONFIG_LIVEPATCH)"
	[ -w "$SYSFS_DEBUG_DIR/dynamic_debug/control" ] ||
		skip "no dynamic debug control file (CONFIG_DYNAMIC_DEBUG, debugfs)"
	push_config
	set_dynamic_debug
	trap cleanup EXIT INT TERM HUP
}

# loop_until(cmd) - loop a command until it is successful or $MAX_RETRIES,
#		    sleep $RETRY_INTERVAL between attempts
loop_until() {
	local cmd="$*"
	local i=0

	while true; do
		eval "$cmd" && return 0
		[ $i -eq $MAX_RETRIES ] && return 1
		i=$((i + 1))
		sleep $RETRY_INTERVAL
	done
}

is_livepatch_mod() {
	local mod="$1"

	if [ ! -f "test_modules/$mod.ko" ]; then
		die "Can't find \"test_modules/$mod.ko\", try \"make\""
	fi
	[ "$(modinfo "test_modules/$mod.ko" | awk '/^livepatch:/{print $NF}')" = Y ]
}

__load_mod() {
	local mod="$1"; shift
	local msg="% insmod test_modules/$mod.ko $*"
	local ret

	log "${msg%% }"
	ret=$(insmod "test_modules/$mod.ko" "$@" 2>&1)
	if [ -n "$ret" ]; then
		die "$ret"
	fi
	loop_until '[ -e "/sys/module/$mod" ]' ||
		die "failed to load module $mod"
}

# load_mod(modname, params) - load a kernel module
load_mod() {
	local mod="$1"; shift

	is_livepatch_mod "$mod" &&
		die "use load_lp() to load the livepatch module $mod"
	__load_mod "$mod" "$@"
}

# load_lp_nowait(modname, params) - load a livepatch module, do not wait
#				     until the transition finishes
load_lp_nowait() {
	local mod="$1"; shift

	is_livepatch_mod "$mod" ||
		die "module $mod is not a livepatch"
	__load_mod "$mod" "$@"
	loop_until '[ -e "$SYSFS_KLP_DIR/$mod" ]' ||
		die "failed to load module $mod (sysfs)"
}

# load_lp(modname, params) - load a livepatch module and wait until the
#			      transition finishes
load_lp() {
	local mod="$1"; shift

	load_lp_nowait "$mod" "$@"
	loop_until 'grep -q "^0$" "$SYSFS_KLP_DIR/$mod/transition"' ||
		die "failed to complete transition"
}

# load_failing_mod(modname, params) - load a kernel module, expect to fail
load_failing_mod() {
	local mod="$1"; shift
	local msg="% insmod test_modules/$mod.ko $*"
	local ret

	log "${msg%% }"
	ret=$(insmod "test_modules/$mod.ko" "$@" 2>&1)
	if [ -z "$ret" ]; then
		die "$mod unexpectedly loaded"
	fi
	log "$ret"
}

# unload_mod(modname) - unload a kernel module
unload_mod() {
	local mod="$1"
	local ret

	loop_until '[ "$(cat "/sys/module/$mod/refcnt")" = 0 ]' ||
		die "failed to unload module $mod (refcnt)"
	log "% rmmod $mod"
	ret=$(rmmod "$mod" 2>&1)
	if [ -n "$ret" ]; then
		die "$ret"
	fi
	loop_until '[ ! -e "/sys/module/$mod" ]' ||
		die "failed to unload module $mod (/sys/module)"
}

# unload_lp(modname) - unload a kernel module with a livepatch
unload_lp() {
	unload_mod "$1"
}

# disable_lp(modname) - disable a livepatch
disable_lp() {
	local mod="$1"

	log "% echo 0 > $SYSFS_KLP_DIR/$mod/enabled"
	echo 0 > "$SYSFS_KLP_DIR/$mod/enabled"
	loop_until '[ ! -e "$SYSFS_KLP_DIR/$mod" ]' ||
		die "failed to disable livepatch $mod"
}

TEST_COUNT=0

# start_test(name) - mark the kernel log: check_result() compares what
#		     follows the mark
start_test() {
	local test="$1"
	local last_dmesg_msg

	TEST_COUNT=$((TEST_COUNT + 1))
	last_dmesg_msg="livepatch kselftest timestamp: $(date '+%F %T') $$.$TEST_COUNT"
	log "$last_dmesg_msg"
	loop_until 'dmesg | grep -q -F "$last_dmesg_msg"' ||
		die "buffer busy? can't find canary dmesg message: $last_dmesg_msg"
	LAST_DMESG=$(dmesg | grep -F "$last_dmesg_msg")

	printf 'TEST: %s ... ' "$test"
	log "===== TEST: $test ====="
}

# check_result(expected) - compare the kernel log lines of this test that
#			    contain "livepatch:" or "test_klp" with @expected
check_result() {
	local expect="$*"
	local result e r

	result=$(dmesg | awk -v last_dmesg="$LAST_DMESG" 'p; $0 == last_dmesg { p=1 }' |
		 grep -e 'livepatch:' -e 'test_klp' |
		 grep -v -e 'tainting kernel' -e 'taints kernel' |
		 sed 's/^\[[ 0-9.]*\] //' |
		 sed 's/^\[[ ]*[CT][0-9]*\] //')

	if [ "$expect" = "$result" ]; then
		echo "ok"
		return
	fi
	if [ -z "$result" ]; then
		printf 'not ok\n\nbuffer overrun? can'"'"'t find canary dmesg entry: %s\n\n' \
			"$LAST_DMESG"
		die "livepatch kselftest(s) failed"
	fi
	e=$(mktemp)
	r=$(mktemp)
	echo "$expect" > "$e"
	echo "$result" > "$r"
	printf 'not ok\n\n'
	diff -u "$e" "$r" | sed -e '1s/.*/--- expected/' -e '2s/.*/+++ result/'
	echo
	rm -f "$e" "$r"
	die "livepatch kselftest(s) failed"
}

# klp-convert helpers

# write_param(modname, param, value) - write a module parameter
write_param() {
	log "% echo $3 > /sys/module/$1/parameters/$2"
	echo "$3" > "/sys/module/$1/parameters/$2" ||
		die "failed to write /sys/module/$1/parameters/$2"
}

# kernel_at_least(major, minor) - the running kernel is major.minor or later
kernel_at_least() {
	local release major minor

	release=$(uname -r)
	major=${release%%.*}
	minor=${release#*.}
	minor=${minor%%[!0-9]*}
	[ "$major" -gt "$1" ] || { [ "$major" -eq "$1" ] && [ "$minor" -ge "$2" ]; }
}

# kallsyms_addr(object, symbol, sympos, [file]) - the address that the
#	livepatch core resolves for .klp.sym.<object>.<symbol>,<sympos>:
#	of the symbols named <symbol> in <object>, in /proc/kallsyms order
#	(the order klp_find_object_symbol() counts in), the <sympos>-th one,
#	or the only one when <sympos> is 0.  Prints nothing when there is no
#	such symbol or when sympos 0 is ambiguous.
kallsyms_addr() {
	awk -v obj="$1" -v sym="$2" -v pos="$3" '
		$3 != sym { next }
		obj == "vmlinux" && NF != 3 { next }
		obj != "vmlinux" && $4 != "[" obj "]" { next }
		{ n++; addr[n] = $1 }
		END {
			if (pos == 0 && n == 1)
				print addr[1]
			else if (pos > 0 && pos <= n)
				print addr[pos]
		}' "${4:-/proc/kallsyms}"
}

# require_symbol(object, symbol, sympos) - the running kernel has the
#	symbol a test module resolves: fail naming the kernel, rather than
#	at insmod
require_symbol() {
	[ -n "$(kallsyms_addr "$1" "$2" "$3")" ] ||
		die "$(uname -r): no $1 symbol $2,$3 in /proc/kallsyms"
}

# same_addr(a, b) - two hex addresses are equal (kallsyms pads to 16 digits)
same_addr() {
	[ "$(echo "$1" | sed 's/^0*//')" = "$(echo "$2" | sed 's/^0*//')" ]
}

# check_resolved(modname, [object]) - compare every address that a test
#	livepatch lists in /sys/module/<modname>/parameters/resolved (lines
#	of "<object> <symbol> <sympos> <address> <where>", only those of
#	<object> when given) with /proc/kallsyms, and log how many matched
check_resolved() {
	local mod="$1" only="$2"
	local file="/sys/module/$mod/parameters/resolved"
	local res syms obj sym pos addr where want err n=0

	[ -r "$file" ] || die "$file is missing"
	res=$(mktemp)
	syms=$(mktemp)
	cat "$file" > "$res" || die "failed to read $file"
	# one pass over /proc/kallsyms: the lines of the names we look for
	awk 'NR == FNR { want[$2] = 1; next } want[$3]' "$res" /proc/kallsyms > "$syms"
	if ! grep -q -v '^0* ' "$syms"; then
		rm -f "$res" "$syms"
		skip "/proc/kallsyms hides addresses (kptr_restrict)"
	fi
	while read -r obj sym pos addr where; do
		[ -n "$obj" ] || continue
		[ -z "$only" ] || [ "$only" = "$obj" ] || continue
		want=$(kallsyms_addr "$obj" "$sym" "$pos" "$syms")
		if [ -z "$want" ]; then
			err="$obj $sym,$pos ($where): not in /proc/kallsyms"
			break
		fi
		if ! same_addr "$want" "$addr"; then
			err="$obj $sym,$pos ($where): $addr, /proc/kallsyms: $want"
			break
		fi
		n=$((n + 1))
	done < "$res"
	rm -f "$res" "$syms"
	[ -z "$err" ] || die "$mod: $err"
	log "% check_resolved $mod${only:+ $only}: $n addresses match /proc/kallsyms"
}
