#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Shell helpers for the klp-convert livepatch selftests, in the style of the
# kernel's livepatch selftest helpers.  Plain POSIX sh:
# the tests run in a busybox initramfs (no bash, no kmod database), so
# modules are loaded by path with insmod from $KLP_TEST_MODULES_DIR
# (default: test_modules/ next to the scripts).

MAX_RETRIES=600
RETRY_INTERVAL=0.1	# seconds
KLP_SYSFS_DIR=/sys/kernel/livepatch
KLP_TEST_MODULES_DIR=${KLP_TEST_MODULES_DIR:-$(cd "$(dirname "$0")" && pwd)/test_modules}

# Kselftest framework requirement - SKIP code is 4
ksft_skip=4

# log(msg) - write a message to the kernel log
log() {
	echo "$1" > /dev/kmsg
}

# skip(msg) - the test cannot run here
skip() {
	if [ "$TEST_RUNNING" = 1 ]; then
		TEST_RUNNING=0
		echo "skip"
	fi
	log "SKIP: $1"
	echo "SKIP: $1" >&2
	exit $ksft_skip
}

# die(msg) - the test failed
die() {
	if [ "$TEST_RUNNING" = 1 ]; then
		TEST_RUNNING=0
		echo "not ok"
	fi
	log "ERROR: $1"
	echo "ERROR: $1" >&2
	exit 1
}

is_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "skip all tests: must be run as root" >&2
		exit $ksft_skip
	fi
}

# loop_until(cmd) - retry a shell command until it succeeds or
#		    $MAX_RETRIES attempts were made
loop_until() {
	_i=0
	while ! eval "$*"; do
		_i=$((_i + 1))
		[ $_i -gt $MAX_RETRIES ] && return 1
		sleep $RETRY_INTERVAL
	done
	return 0
}

# dynamic_debug_control - path of the dynamic debug control file, if any
dynamic_debug_control() {
	if [ -w /proc/dynamic_debug/control ]; then
		echo /proc/dynamic_debug/control
		return
	fi
	if [ ! -e /sys/kernel/debug/dynamic_debug ] && [ -d /sys/kernel/debug ]; then
		mount -t debugfs none /sys/kernel/debug 2>/dev/null
	fi
	if [ -w /sys/kernel/debug/dynamic_debug/control ]; then
		echo /sys/kernel/debug/dynamic_debug/control
	fi
}

# kernel_at_least(major, minor) - the running kernel is major.minor or later
kernel_at_least() {
	_rel=$(uname -r)
	_major=${_rel%%.*}
	_minor=${_rel#*.}
	_minor=${_minor%%[!0-9]*}
	[ "$_major" -gt "$1" ] || { [ "$_major" -eq "$1" ] && [ "$_minor" -ge "$2" ]; }
}

# unload_test_modules - disable and remove every test livepatch, then every
#			other test module: a script that failed half-way leaves
#			the kernel as it found it for the next one
unload_test_modules() {
	for _lp in "$KLP_SYSFS_DIR"/test_klp_*; do
		[ -e "$_lp" ] || continue
		echo 0 > "$_lp/enabled" 2>/dev/null
		loop_until "[ ! -e $_lp ]" || echo "cleanup: ${_lp##*/} stays enabled" >&2
	done
	for _m in /sys/module/test_klp_*; do
		[ -e "$_m/initstate" ] || continue
		rmmod "${_m##*/}" 2>/dev/null || echo "cleanup: rmmod ${_m##*/} failed" >&2
	done
}

cleanup() {
	unload_test_modules
	if [ -n "$DYNDBG_CONTROL" ]; then
		echo "file kernel/livepatch/* -p" > "$DYNDBG_CONTROL" 2>/dev/null
	fi
	if [ -n "$SAVED_KPTR_RESTRICT" ]; then
		echo "$SAVED_KPTR_RESTRICT" > /proc/sys/kernel/kptr_restrict 2>/dev/null
	fi
}

# setup_config - check the kernel, turn on the livepatch debug messages the
#		 expected logs contain, let root read /proc/kallsyms addresses,
#		 and restore all that on exit.
setup_config() {
	is_root
	[ -d "$KLP_SYSFS_DIR" ] || skip "kernel without CONFIG_LIVEPATCH ($KLP_SYSFS_DIR missing)"
	[ -d "$KLP_TEST_MODULES_DIR" ] || skip "no test modules in $KLP_TEST_MODULES_DIR"

	DYNDBG_CONTROL=$(dynamic_debug_control)
	[ -n "$DYNDBG_CONTROL" ] || skip "no dynamic debug control file (CONFIG_DYNAMIC_DEBUG)"
	SAVED_KPTR_RESTRICT=$(cat /proc/sys/kernel/kptr_restrict 2>/dev/null)
	trap cleanup EXIT
	trap 'exit 1' INT TERM HUP

	echo 0 > /proc/sys/kernel/kptr_restrict 2>/dev/null
	echo "file kernel/livepatch/* +p" > "$DYNDBG_CONTROL"
	echo "func klp_try_switch_task -p" > "$DYNDBG_CONTROL"
}

# mod_path(modname) - the .ko of a test module
mod_path() {
	echo "$KLP_TEST_MODULES_DIR/$1.ko"
}

assert_mod() {
	[ -f "$(mod_path "$1")" ] ||
		skip "unable to load module $1: $(mod_path "$1") not found (build test_modules)"
}

is_livepatch_mod() {
	# modinfo needs no module database when given a path
	modinfo -F livepatch "$(mod_path "$1")" 2>/dev/null | grep -q '^Y$' && return 0
	grep -q 'livepatch=Y' "$(mod_path "$1")"
}

__load_mod() {
	_mod="$1"; shift
	_msg="% insmod $_mod $*"
	log "${_msg% }"
	_ret=$(insmod "$(mod_path "$_mod")" "$@" 2>&1) || die "insmod $_mod: $_ret"
	loop_until "[ -e /sys/module/$_mod ]" || die "failed to load module $_mod"
}

# load_mod(modname, params) - load a (non-livepatch) test module
load_mod() {
	_mod="$1"
	assert_mod "$_mod"
	is_livepatch_mod "$_mod" && die "use load_lp() to load the livepatch module $_mod"
	__load_mod "$@"
}

# load_lp_nowait(modname, params) - load a livepatch, do not wait for the
#				     transition to finish
load_lp_nowait() {
	_mod="$1"
	assert_mod "$_mod"
	is_livepatch_mod "$_mod" || die "module $_mod is not a livepatch"
	__load_mod "$@"
	loop_until "[ -e $KLP_SYSFS_DIR/$_mod ]" || die "failed to load module $_mod (sysfs)"
}

# load_lp(modname, params) - load a livepatch and wait for its transition
load_lp() {
	load_lp_nowait "$@"
	loop_until "grep -q '^0\$' $KLP_SYSFS_DIR/$1/transition" ||
		die "failed to complete transition"
}

# load_failing_mod(modname, params) - load a module, expect the kernel to
#				       refuse it
load_failing_mod() {
	_mod="$1"; shift
	assert_mod "$_mod"
	_msg="% insmod $_mod $*"
	log "${_msg% }"
	if _ret=$(insmod "$(mod_path "$_mod")" "$@" 2>&1); then
		die "$_mod unexpectedly loaded"
	fi
	log "insmod $_mod failed, as expected"
	[ -e "/sys/module/$_mod" ] && die "$_mod is in /sys/module after a failed load"
	return 0
}

# unload_mod(modname) - unload a module
unload_mod() {
	_mod="$1"
	loop_until "[ \"\$(cat /sys/module/$_mod/refcnt)\" = 0 ]" ||
		die "failed to unload module $_mod (refcnt)"
	log "% rmmod $_mod"
	_ret=$(rmmod "$_mod" 2>&1) || die "rmmod $_mod: $_ret"
	loop_until "[ ! -e /sys/module/$_mod ]" ||
		die "failed to unload module $_mod (/sys/module)"
}

# unload_lp(modname) - unload a (disabled) livepatch module
unload_lp() {
	unload_mod "$1"
}

# disable_lp(modname) - disable a livepatch and wait until it is gone
disable_lp() {
	_mod="$1"
	log "% echo 0 > $KLP_SYSFS_DIR/$_mod/enabled"
	echo 0 > "$KLP_SYSFS_DIR/$_mod/enabled"
	loop_until "[ ! -e $KLP_SYSFS_DIR/$_mod ]" ||
		die "failed to disable livepatch $_mod"
}

# write_param(modname, param, value) - write a module parameter, logged
write_param() {
	log "% echo $3 > /sys/module/$1/parameters/$2"
	echo "$3" > "/sys/module/$1/parameters/$2" ||
		die "failed to write /sys/module/$1/parameters/$2"
}

# kallsyms_addr(object, symbol, sympos, [file]) - the address the kernel's
#	livepatch core resolves for .klp.sym.<object>.<symbol>,<sympos>,
#	computed from /proc/kallsyms (or a filtered copy of it): the symbols
#	named <symbol> in <object>, in /proc/kallsyms order (the order
#	klp_find_object_symbol() counts in), the <sympos>-th one, or the only
#	one when <sympos> is 0.  Prints nothing when there is no such symbol
#	or sympos 0 is ambiguous.
kallsyms_addr() {
	awk -v obj="$1" -v sym="$2" -v pos="$3" '
		$3 != sym { next }
		obj == "vmlinux" && NF != 3 { next }
		obj != "vmlinux" && $4 != "[" obj "]" { next }
		{ n++; addr[n] = $1 }
		END {
			if (pos == 0 && n == 1) print addr[1]
			else if (pos > 0 && pos <= n) print addr[pos]
		}' "${4:-/proc/kallsyms}"
}

# strip leading zeros of a hex number (kallsyms pads to 16 digits)
__hex() {
	echo "$1" | tr 'A-F' 'a-f' | sed 's/^0*//'
}

# check_resolved(modname, [object]) - compare every address a test livepatch
#	lists in /sys/module/<modname>/parameters/resolved (lines of
#	"<object> <symbol> <sympos> <address> <where>") with
#	/proc/kallsyms; only the lines of <object> when given.  Logs one line
#	with the number of addresses checked.
check_resolved() {
	_mod="$1"; _only="$2"
	_file=/sys/module/$_mod/parameters/resolved
	[ -r "$_file" ] || die "$_file missing"
	_res=$(mktemp); _ks=$(mktemp)
	cat "$_file" > "$_res" || die "failed to read $_file"
	# one pass over /proc/kallsyms: keep the names we look for
	awk 'NR == FNR { want[$2] = 1; next } want[$3]' "$_res" /proc/kallsyms > "$_ks"
	if ! grep -q -v '^0* ' "$_ks"; then
		rm -f "$_res" "$_ks"
		skip "/proc/kallsyms hides addresses (kptr_restrict)"
	fi
	_n=0
	_err=
	while read -r _obj _sym _pos _addr _where; do
		[ -n "$_obj" ] || continue
		[ -n "$_only" ] && [ "$_only" != "$_obj" ] && continue
		_want=$(kallsyms_addr "$_obj" "$_sym" "$_pos" "$_ks")
		if [ -z "$_want" ]; then
			_err="$_mod: $_obj $_sym,$_pos ($_where): no such symbol in /proc/kallsyms"
			break
		fi
		if [ "$(__hex "$_want")" != "$(__hex "$_addr")" ]; then
			_err="$_mod: $_obj $_sym,$_pos ($_where): resolved to $_addr,"
			_err="$_err /proc/kallsyms says $_want"
			break
		fi
		_n=$((_n + 1))
	done < "$_res"
	rm -f "$_res" "$_ks"
	[ -z "$_err" ] || die "$_err"
	log "% check_resolved $_mod${_only:+ $_only}: $_n addresses match /proc/kallsyms"
}

# require_symbol(object, symbol, sympos) - the kernel has the symbol a test
#	module resolves (the sympos-th of its name, or the only one): say so
#	clearly, naming the kernel, instead of failing at insmod
require_symbol() {
	[ -n "$(kallsyms_addr "$1" "$2" "$3")" ] ||
		die "$(uname -r): no $1 symbol '$2' at position $3 in /proc/kallsyms"
}

TEST_NUMBER=0

# start_test(name) - print the test name and mark the kernel log
start_test() {
	TEST_NUMBER=$((TEST_NUMBER + 1))
	TEST_MARKER="===== TEST $$.$TEST_NUMBER: $1 ====="
	printf 'TEST: %s ... ' "$1"
	TEST_RUNNING=1
	log "$TEST_MARKER"
}

# test_log - the kernel log since start_test(), restricted to the lines the
#	     tests expect: logged commands, livepatch core, test modules, x86
#	     relocation errors.
#	     Timestamps, taint notices (Debian's out-of-tree / unsigned
#	     module lines), pointer values and relocation types are removed.
#	     A line repeated within the output of one logged command ("% ...")
#	     is kept once: busybox insmod retries a failed finit_module() with
#	     init_module(), so the kernel refuses a module twice.
test_log() {
	dmesg | awk -v m="$TEST_MARKER" 'index($0, m) { out = ""; seen = 1; next }
				 seen { out = out $0 "\n" }
				 END { printf "%s", out }' |
		sed 's/^\[[ 0-9.]*\] //' |
		grep -e '^% ' -e 'livepatch:' -e 'test_klp' -e 'x86/modules:' |
		grep -v -e 'tainting kernel' -e 'taints kernel' |
		sed -e 's/loc [0-9a-fx]*, val [0-9a-fx]*/loc <loc>, val <val>/' \
		    -e 's/for type [0-9]*,/for type <type>,/' |
		awk '/^% / { split("", seen) } !seen[$0]++'
}

# check_result(expected) - compare the kernel log of this test with the
#			    expected lines
check_result() {
	_expect="$*"
	_result=$(test_log)
	if [ "$_expect" = "$_result" ]; then
		TEST_RUNNING=0
		echo "ok"
		return 0
	fi
	_e=$(mktemp); _r=$(mktemp)
	echo "$_expect" > "$_e"; echo "$_result" > "$_r"
	TEST_RUNNING=0
	echo "not ok"
	echo
	diff -u "$_e" "$_r" | sed -e '1s/.*/--- expected/' -e '2s/.*/+++ result/'
	echo
	rm -f "$_e" "$_r"
	die "livepatch kselftest(s) failed"
}
