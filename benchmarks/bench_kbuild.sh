#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Overhead of the klp-convert Kbuild hook on a build of ordinary modules.
#
#   benchmarks/bench_kbuild.sh [--suite SUITE] [NMODULES] [REPS]
#
# Generates NMODULES (default 200) ordinary modules, makes a hooked and an
# unhooked private copy of a Debian kernel's headers at the same path
# (contrib/klp-headers): the host's installed headers, or with --suite
# (bookworm, trixie, trixie-backports, sid) that suite's current kernel,
# built in its chroot (tools/testing/selftests/livepatch/vmtest --suite
# SUITE --print-env / --run).  Times a clean
# `make -j$(nproc) M=...` of the ordinary modules with each, alternating,
# REPS times (default 3; the order alternates, use an even number); prints
# the medians of wall time and of CPU time (user + system of make and
# everything it ran: robust against other load on the machine), their
# ratios and the median of each round's quotient, then checks that the
# ordinary modules are byte-identical either way.

set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
suite=
if [ "${1:-}" = --suite ]; then
	suite=$2
	shift 2
fi
n=${1:-200}
reps=${2:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

headers_opt=()
run=()
label="host headers"
if [ -n "$suite" ]; then
	vmtest=$top/tools/testing/selftests/livepatch/vmtest
	"$vmtest" --suite "$suite" --print-env > "$work/env.json"
	headers=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["headers"])' "$work/env.json")
	mapfile -t run < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["run"]))' "$work/env.json")
	release=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["release"])' "$work/env.json")
	headers_opt=(--headers "$headers")
	label="$suite $release"
fi

mods=$work/mods
mkdir -p "$mods"
objs=
for i in $(seq 1 "$n"); do
	cat > "$mods/m$i.c" <<EOC
// SPDX-License-Identifier: GPL-2.0-only
#include <linux/module.h>
static int v = $i;
static int m_init(void) { pr_info("m$i %d\n", v); return 0; }
static void m_exit(void) { }
module_init(m_init);
module_exit(m_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("bench_kbuild: ordinary module $i");
EOC
	objs="$objs m$i.o"
done
echo "obj-m := $objs" > "$mods/Kbuild"

# Run a command where the kernel's compiler is (the host, or the chroot
# with $work visible at the same path).
here() {
	if [ ${#run[@]} -eq 0 ]; then
		"$@"
	else
		(cd "$work" && "${run[@]}" "$@")
	fi
}

build() {	# $1: hook|plain -> "wall cpu" in seconds
	local kdir
	if [ "$1" = hook ]; then
		kdir=$("$top/contrib/klp-headers" "${headers_opt[@]}" "$work/kdir" 2>/dev/null | tail -n1)
	else
		kdir=$("$top/contrib/klp-headers" "${headers_opt[@]}" --no-hook "$work/kdir" | tail -n1)
	fi
	here make -s -C "$kdir" M="$mods" clean >/dev/null
	# bash's time: wall, user and system time of make and all it ran
	here bash -c 'TIMEFORMAT="%R %U %S"; { time make -s -j"$(nproc)" -C "$1" M="$2" \
		>/dev/null 2>&1; } 2> "$3"' bash "$kdir" "$mods" "$work/time"
	awk '{printf "%.2f %.2f\n", $1, $2 + $3}' "$work/time"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

: > "$work/plain"
: > "$work/hook"
# Which build goes first alternates (A B, B A, ...): the second of a pair
# can be slowed by the first one's writeback, and the order must not pass
# for the hook's cost.
: > "$work/paired"
for r in $(seq 1 "$reps"); do
	for kind in $([ $((r % 2)) -eq 1 ] && echo plain hook || echo hook plain); do
		build "$kind" >> "$work/$kind"
		mkdir -p "$work/$kind-ko" && cp "$mods"/*.ko "$work/$kind-ko/"
	done
	p=$(tail -n1 "$work/plain"); h=$(tail -n1 "$work/hook")
	echo "$p $h" | awk '{printf "%.4f %.4f\n", $3 / $1, $4 / $2}' >> "$work/paired"
	echo "rep $r: without hook $p, with hook $h (wall cpu, s)" >&2
done
pw=$(cut -d' ' -f1 "$work/plain" | median); pc=$(cut -d' ' -f2 "$work/plain" | median)
hw=$(cut -d' ' -f1 "$work/hook" | median); hc=$(cut -d' ' -f2 "$work/hook" | median)
echo "kernel: $label"
echo "modules: $n ordinary; make -j$(nproc) M=; median of $reps clean builds"
echo "without hook: wall $pw s, cpu $pc s"
echo "with hook:    wall $hw s, cpu $hc s"
echo "ratio:        wall $(echo "scale=3; $hw / $pw" | bc), cpu $(echo "scale=3; $hc / $pc" | bc)"
echo "paired:       wall $(cut -d' ' -f1 "$work/paired" | median), cpu $(cut -d' ' -f2 "$work/paired" | median)" \
	"(median of each round's with/without quotient)"
# What the hook itself runs for these modules, timed alone (the whole
# builds above differ by more than this from run to run): modpost's one
# grep over the objects, and modfinal's grep of each relinked module,
# each in a shell as make's $(shell) starts it.
TIMEFORMAT="%U %S"
own=$( { time (cd "$mods" && for r in $(seq 1 "$reps"); do
	sed 's/\.ko$/.o/' modules.order | xargs -r grep -l -F -e .klp.sym.rela. -- || true
	for o in $(sed 's/\.ko$/.o/' modules.order); do
		sh -c 'grep -l -F -e .klp.sym.rela. "$1" 2>/dev/null' sh "$o" || true
	done
done) >/dev/null; } 2>&1 | awk -v r="$reps" '{printf "%.3f", ($1 + $2) / r}')
echo "hook's own commands: cpu $own s per build ($(echo "scale=2; 100 * $own / $pc" | bc)% of the build without hook)"
for f in "$work"/plain-ko/*.ko; do
	cmp -s "$f" "$work/hook-ko/$(basename "$f")" || { echo "DIFFERS: $(basename "$f")"; exit 1; }
done
echo "all $n modules byte-identical with and without the hook"
