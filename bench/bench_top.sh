#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace top's cost, side by side in one run (results in bench/README.md):
#  1. bench/fault_loop (mmap, touch every 4 KiB page, munmap) alone, under
#     two empty tp_btf programs on page_fault_user and rss_stat (the floor:
#     the kernel's dispatch alone), under `memtrace top` (every hook
#     attached, all processes traced), optionally under another memtrace
#     build (MT_BEFORE=path: before/after comparisons), under bpftrace
#     counting exceptions:page_fault_user per PID, and under bpftrace
#     counting kmem:rss_stat per PID; interleaved rounds (A B A B ...),
#     medians of each and medians of the per-round paired ratios;
#  2. BPF run time per event of memtrace's fault and rss_stat programs, from
#     the kernel's BPF statistics as memtrace's summary reports them;
#  3. one poll with 10,000 traced processes (PROCS): CPU time and memtrace's
#     RSS, with where it goes (/proc/PID/status and smaps, read during the
#     run: BPF maps mapped, heap, other anonymous, libraries, the binary);
#  4. bench/syscall_loop (getppid in a loop, then a mmap/munmap loop) alone,
#     under the tp_btf rung's floor, under memtrace top on the syscall
#     tracepoint rung and forced to the tp_btf rung (BENCH_PARTS=sys runs
#     this part alone; SYS_N, MMAP_N: loop lengths).
# bpftrace's tracepoints need tracefs: this script mounts it on
# /sys/kernel/tracing when missing (and says so). Root only.
#   OUTPUT=build [MT_BEFORE=old/memtrace] [BENCH_PARTS="fault poll sys"] [SYS_N=N] [MMAP_N=N]
#   bench/bench_top.sh [ROUNDS]
set -u
OUTPUT=${OUTPUT:-build}
ROUNDS=${1:-9}
MT=$OUTPUT/memtrace
FL=$OUTPUT/bench/fault_loop
SPAWN=$OUTPUT/bench/spawn_idle
SYSL=$OUTPUT/bench/syscall_loop
EMPTY=$OUTPUT/bench/empty_hooks
MT_BEFORE=${MT_BEFORE:-}
BENCH_PARTS=${BENCH_PARTS:-fault poll sys}
part() { case " $BENCH_PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null' EXIT

[ "$(id -u)" -eq 0 ] || { echo "bench_top: needs root" >&2; exit 1; }
for b in "$MT" "$FL" "$SPAWN" "$SYSL" "$EMPTY"; do
	[ -x "$b" ] || { echo "bench_top: build first: make OUTPUT=$OUTPUT all $FL $SPAWN $SYSL $EMPTY" >&2; exit 1; }
done

have_bpftrace=0
if part fault && command -v bpftrace >/dev/null; then
	if [ ! -d /sys/kernel/tracing/events ]; then
		echo "bench_top: mounting tracefs on /sys/kernel/tracing for bpftrace (memtrace does not need it)"
		mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
	fi
	[ -d /sys/kernel/tracing/events/kmem/rss_stat ] && have_bpftrace=1
fi

# rss_breakdown PID: "KEY kB" pairs on one line: VmRSS, RssAnon, RssFile,
# RssShmem from status, then smaps' Rss by kind of mapping (BPF maps mapped,
# [heap], other anonymous, shared libraries, the binary, the rest)
rss_breakdown() {
	{
		awk '/^(VmRSS|RssAnon|RssFile|RssShmem):/ { printf "%s %s ", $1, $2 }' "/proc/$1/status"
		awk '/^[0-9a-f]+-[0-9a-f]+ / {
			n = $6
			k = "other"
			if (n == "") k = "anon"
			else if (n ~ /bpf-map/) k = "bpf_maps"
			else if (n == "[heap]") k = "heap"
			else if (n ~ /\.so/) k = "libs"
			else if (n ~ /^\//) k = "binary"
		}
		/^Rss:/ { r[k] += $2 }
		END { for (k in r) printf "%s %d ", k, r[k] }' "/proc/$1/smaps"
		echo
	} 2>/dev/null
}

elapsed() { sed -n 's/.*elapsed_ns \([0-9]*\).*/\1/p' "$1" | head -1; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
wait_for_output() { # FILE PATTERN: up to 20 s
	for _ in $(seq 200); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Tests may unmount tracefs while this runs; bpftrace needs it back.
ensure_tracefs() {
	[ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
}

# run_under NAME PATTERN CMD...: start the tracer, wait until its output
# shows PATTERN (attached), run the loop once, stop the tracer
run_under() {
	local name=$1 pattern=$2
	shift 2
	[ "$1" = bpftrace ] && ensure_tracefs
	: >"$tmp/tracer.out"
	"$@" >"$tmp/tracer.out" 2>&1 &
	local tpid=$!
	wait_for_output "$tmp/tracer.out" "$pattern" || { echo "bench_top: $name did not start" >&2; kill $tpid; return 1; }
	"$FL" 64 24 >"$tmp/o" && elapsed "$tmp/o" >>"$tmp/$name"
	kill -INT $tpid
	wait $tpid 2>/dev/null
}

if part fault; then
variants="base floor memtrace before bt_fault bt_rss"
for v in $variants; do : >"$tmp/$v"; done
: >"$tmp/ns_fault"; : >"$tmp/ns_rss"
for r in $(seq "$ROUNDS"); do
	"$FL" 64 24 >"$tmp/o" && elapsed "$tmp/o" >>"$tmp/base"
	run_under floor attached "$EMPTY" "$OUTPUT/bench/empty_hooks.bpf.o"
	[ -n "$MT_BEFORE" ] && run_under before '"type":"summary"' "$MT_BEFORE" top --json -i 1s
	run_under memtrace '"type":"summary"' "$MT" top --json -i 1s
	# the last summary holds the BPF statistics of the whole traced run
	grep '"type":"summary"' "$tmp/tracer.out" | tail -1 >"$tmp/summary"
	jq -r '.bpf.programs[] | select(.name=="fault_user") | .ns_per_event' "$tmp/summary" >>"$tmp/ns_fault"
	jq -r '.bpf.programs[] | select(.name=="rss_stat_btf") | .ns_per_event' "$tmp/summary" >>"$tmp/ns_rss"
	if [ $have_bpftrace = 1 ]; then
		run_under bt_fault Attaching bpftrace -e 'tracepoint:exceptions:page_fault_user { @[pid] = count(); }'
		run_under bt_rss Attaching bpftrace -e 'tracepoint:kmem:rss_stat { @[pid] = count(); }'
	fi
	echo "round $r/$ROUNDS done" >&2
done

base=$(median <"$tmp/base")
faults=$(sed -n 's/.*faults \([0-9]*\).*/\1/p' "$tmp/o")
echo
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
echo "fault loop: 64 MiB x 24 rounds = ${faults:-?} faults; medians of $ROUNDS interleaved rounds"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-44s %10s %9s %10s %12s\n' variant median_ms ratio ns/fault paired_ratio
for v in $variants; do
	[ -s "$tmp/$v" ] || continue
	m=$(median <"$tmp/$v")
	# each round's time over the same round's "alone": the paired ratio
	pr=$(paste "$tmp/$v" "$tmp/base" | awk '$2 > 0 { print $1 / $2 }' | median)
	label=$v
	case $v in
	base) label="alone" ;;
	floor) label="two empty tp_btf programs (floor)" ;;
	memtrace) label="memtrace top (all hooks, all processes)" ;;
	before) label="memtrace top, MT_BEFORE build" ;;
	bt_fault) label="bpftrace page_fault_user @[pid]=count()" ;;
	bt_rss) label="bpftrace kmem:rss_stat @[pid]=count()" ;;
	esac
	awk -v l="$label" -v m="$m" -v b="$base" -v f="${faults:-1}" -v pr="$pr" \
		'BEGIN { printf "%-44s %10.1f %8.3fx %10.0f %11.3fx\n", l, m / 1e6, m / b, (m - b) / f, pr }'
done
echo "memtrace BPF time per event (median): fault_user $(median <"$tmp/ns_fault") ns, rss_stat $(median <"$tmp/ns_rss") ns"

fi

# 3. poll cost with 10,000 traced processes
if part poll; then
"$SPAWN" "${PROCS:-10000}" >"$tmp/spawn.out" &
spid=$!
if wait_for_output "$tmp/spawn.out" ready; then
	# pairs (before, after) when MT_BEFORE is given; 5 polls each after the first
	for name in ${MT_BEFORE:+before} memtrace ${MT_BEFORE:+before} memtrace; do
		[ $name = before ] && bin=$MT_BEFORE || bin=$MT
		"$bin" top --json -i 1s -n 6 >"$tmp/poll.json" 2>/dev/null &
		mpid=$!
		# where the RSS goes, read in the run's steady state (after 3 polls)
		for _ in $(seq 300); do
			[ "$(grep -c '"type":"summary"' "$tmp/poll.json")" -ge 3 ] && break
			sleep 0.1
		done
		rss_breakdown $mpid >>"$tmp/where_$name"
		wait $mpid
		jq -r 'select(.type=="summary") | .poll_cpu_ns' "$tmp/poll.json" | tail -5 >>"$tmp/poll_$name"
		jq -r 'select(.type=="summary") | .procs' "$tmp/poll.json" | tail -1 >"$tmp/procs_$name"
		jq -r 'select(.type=="summary") | .loader_rss_bytes' "$tmp/poll.json" >>"$tmp/rss_$name"
	done
	echo "poll, load average $(cut -d' ' -f1-3 /proc/loadavg):"
	for name in ${MT_BEFORE:+before} memtrace; do
		awk -v l="$name" -v p="$(median <"$tmp/poll_$name")" -v n="$(cat "$tmp/procs_$name")" \
			-v r="$(sort -n "$tmp/rss_$name" | tail -1)" 'BEGIN {
			printf "%s: poll with %d traced processes: %.2f ms CPU (median of 10); RSS %.1f MiB (max)\n",
				l, n, p / 1e6, r / 1048576 }'
		sort -n "$tmp/poll_$name" | awk -v l="$name" '{ v[NR] = $1; if ($1 > 1e6) over++ }
			END { printf "%s: %d of %d polls over 1 ms, max %.2f ms\n", l, over, NR, v[NR] / 1e6 }'
	done
	echo "RSS in MiB during the run, from /proc/PID/status and smaps (one row a run):"
	printf '%-8s %6s %6s %6s %6s | %8s %6s %6s %6s %6s\n' variant VmRSS anon file shmem \
		bpf_maps heap o_anon libs binary
	for name in ${MT_BEFORE:+before} memtrace; do
		[ -s "$tmp/where_$name" ] || continue
		awk -v l="$name" '{
			for (i = 1; i < NF; i += 2) v[$i] = $(i + 1) / 1024
			printf "%-8s %6.1f %6.1f %6.1f %6.1f | %8.1f %6.1f %6.1f %6.1f %6.1f\n", l,
				v["VmRSS:"], v["RssAnon:"], v["RssFile:"], v["RssShmem:"],
				v["bpf_maps"], v["heap"], v["anon"], v["libs"], v["binary"]
			delete v }' "$tmp/where_$name"
	done
fi
kill -TERM $spid 2>/dev/null
wait $spid 2>/dev/null
fi

# 4. syscall cost: on the tracepoint rung (syscalls:sys_exit_* through perf
# events; this host refuses fexit) getppid runs no memtrace program, the
# kernel tests a bitmap of enabled syscalls first; on the tp_btf rung
# (MEMTRACE_TEST_SYSCALLS=tp_btf) every syscall runs memtrace's sys_exit
# program. Beside them the floor of that rung: one empty tp_btf sys_exit
# program. Then a mmap/munmap loop (both calls counted) under each rung:
# counted calls pay the perf dispatch on the tracepoint rung. CPU time per
# syscall: on a loaded machine wall time is mostly waiting for a CPU.
part sys || exit 0
sysv="sys_base sys_exit_floor sys_mt sys_mt_tpbtf ${MT_BEFORE:+sys_before}"
SYS_N=${SYS_N:-2000000}
MMAP_N=${MMAP_N:-300000}
for v in $sysv; do : >"$tmp/$v"; : >"$tmp/mm_$v"; done
sys_loop() { # VARIANT: getppid, then the mmap loop
	"$SYSL" "$SYS_N" | awk '{ print $4 }' >>"$tmp/$1"
	[ "$1" = sys_exit_floor ] || "$SYSL" "$MMAP_N" mmap | awk '{ print $4 }' >>"$tmp/mm_$1"
}
sys_under() { # VARIANT PATTERN CMD...
	local v=$1 pattern=$2
	shift 2
	: >"$tmp/tracer.out"
	"$@" >"$tmp/tracer.out" 2>&1 &
	tpid=$!
	wait_for_output "$tmp/tracer.out" "$pattern"
	sys_loop "$v"
	kill -INT $tpid
	wait $tpid 2>/dev/null
}
for r in $(seq "$ROUNDS"); do
	sys_loop sys_base
	sys_under sys_exit_floor attached "$EMPTY" "$OUTPUT/bench/empty_sys_exit.bpf.o"
	[ -n "$MT_BEFORE" ] && sys_under sys_before '"type":"summary"' "$MT_BEFORE" top --json -i 1s
	sys_under sys_mt '"type":"summary"' "$MT" top --json -i 1s
	MEMTRACE_TEST_SYSCALLS=tp_btf sys_under sys_mt_tpbtf '"type":"summary"' "$MT" top --json -i 1s
done
sys_label() {
	case $1 in
	sys_base) echo "alone" ;;
	sys_exit_floor) echo "one empty tp_btf sys_exit program (floor)" ;;
	sys_mt) echo "memtrace top, tracepoint rung" ;;
	sys_mt_tpbtf) echo "memtrace top, tp_btf rung (forced)" ;;
	sys_before) echo "memtrace top, MT_BEFORE build" ;;
	esac
}
sys_table() { # PREFIX TITLE
	local p=$1 base m pr v
	echo "$2, CPU ns per syscall, medians of $ROUNDS interleaved rounds (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
	printf '%-44s %10s %9s %12s\n' variant median_ns added_ns paired_ratio
	base=$(median <"$tmp/${p}sys_base")
	for v in $sysv; do
		[ -s "$tmp/$p$v" ] || continue
		m=$(median <"$tmp/$p$v")
		pr=$(paste "$tmp/$p$v" "$tmp/${p}sys_base" | awk '$2 > 0 { print $1 / $2 }' | median)
		awk -v l="$(sys_label "$v")" -v m="$m" -v b="$base" -v pr="$pr" \
			'BEGIN { printf "%-44s %10.1f %+9.1f %11.3fx\n", l, m, m - b, pr }'
	done
}
sys_table "" "getppid loop ($SYS_N calls)"
sys_table mm_ "mmap/munmap loop ($MMAP_N pairs, one page, never touched)"
