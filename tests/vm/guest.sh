#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM, in a chroot of the host's root (see tests/vm/init):
#   guest.sh WORKTREE BUILD OUT SUITES
# writes into OUT (shared with the host): kernel (uname -r), features
# (memtrace --version -v), attach (the rung each hook took, from top -v)
# and one line per suite in results: "SUITE PASSED FAILED SKIPPED SECONDS",
# with each suite's full log in SUITE.log. vmtest.sh puts the suite
# "rungs" (expect_rungs below) first.
set -u
dir=$1 build=$2 out=$3
IFS=, read -r -a suites <<<"$4"
cd "$dir" || exit 1
export OUTPUT=$build

uname -r >"$out/kernel"
nproc >"$out/cpus"
cat /sys/kernel/mm/transparent_hugepage/enabled >"$out/thp" 2>/dev/null
"$build/memtrace" --version -v >"$out/features" 2>&1
"$build/memtrace" top -v --batch -n 1 -i 100ms >/dev/null 2>"$out/attach"
# bench: getppid loop, then a mmap/munmap loop, each alone, under memtrace
# top on its best syscall rung (fexit where trampolines work), on the
# syscall tracepoint rung (MEMTRACE_TEST_SYSCALLS=tracepoint), on the
# sys_exit rung (tp_btf), and under the floors of that rung (an empty
# sys_exit program; empty sys_enter + sys_exit, the old shape); interleaved,
# 5 rounds. Emulated timings: only paired ratios mean anything, unless the
# guest runs with VM_ICOUNT (guest time then counts instructions, 1 ns each
# at shift=0) and VM_SMP=1 (no other vCPU's instructions in the loop's time)
syscall_bench() {
	local loop=$build/bench/syscall_loop n=200000 i name
	[ -x "$loop" ] || { echo "no $loop (make bench builds it)"; return 1; }
	for i in 1 2 3 4 5; do
		echo "alone $("$loop" $n) mmap $("$loop" $((n / 10)) mmap)"
		for name in under_top under_top_tpoint under_top_tp floor_exit floor_both; do
			case $name in
			under_top) "$build/memtrace" top --batch -i 1s >/dev/null 2>&1 & ;;
			under_top_tpoint) MEMTRACE_TEST_SYSCALLS=tracepoint "$build/memtrace" top \
				--batch -i 1s >/dev/null 2>&1 & ;;
			under_top_tp) MEMTRACE_TEST_SYSCALLS=tp_btf "$build/memtrace" top --batch -i 1s \
				>/dev/null 2>&1 & ;;
			floor_exit) "$build/bench/empty_hooks" "$build/bench/empty_sys_exit.bpf.o" \
				>/dev/null 2>&1 & ;;
			floor_both) "$build/bench/empty_hooks" "$build/bench/empty_sys_both.bpf.o" \
				>/dev/null 2>&1 & ;;
			esac
			local mt=$!
			# attached once its programs are loaded: wait for them, not for a time
			for _ in $(seq 600); do
				ls -l /proc/$mt/fd 2>/dev/null | grep -q bpf-prog && break
				sleep 0.1
			done
			sleep 1 # the first interval's seeding of /proc is done by then
			echo "$name $("$loop" $n) mmap $("$loop" $((n / 10)) mmap)"
			kill -INT $mt
			wait $mt
		done
	done
}

# bench, part 2: the fault loop (64 MiB touched page by page, 4 rounds)
# alone, under memtrace top (every hook) and under the floor of two empty
# tp_btf programs on page_fault_user and rss_stat; interleaved, 3 rounds;
# the loop's own CPU time (instructions under VM_ICOUNT)
fault_bench() {
	local loop=$build/bench/fault_loop name mt
	[ -x "$loop" ] || { echo "no $loop (make bench builds it)"; return 1; }
	for _ in 1 2 3; do
		echo "fault alone $("$loop" 64 4)"
		for name in under_top floor; do
			case $name in
			under_top) "$build/memtrace" top --batch -i 1s >/dev/null 2>&1 & ;;
			floor) "$build/bench/empty_hooks" "$build/bench/empty_hooks.bpf.o" \
				>/dev/null 2>&1 & ;;
			esac
			mt=$!
			for _ in $(seq 600); do
				ls -l /proc/$mt/fd 2>/dev/null | grep -q bpf-prog && break
				sleep 0.1
			done
			sleep 1
			echo "fault $name $("$loop" 64 4)"
			kill -INT $mt
			wait $mt
		done
	done
}

# rungs: every hook on the best rung Debian's kernel offers, as --version -v
# found it by loading: tp_btf, page faults from the software perf event off
# x86 (exceptions:page_fault_user is x86's), syscalls on fexit where BPF
# trampolines attach (arm64 from 6.4, with ftrace direct calls: 6.1 says
# ENOTSUPP). Prints TAP lines and the runner's closing line.
expect_rungs() {
	local v p=0 f=0 h want got
	v=$(uname -r | awk -F. '{ print $1 * 1000 + $2 }')
	for h in page_fault_user rss_stat syscalls sched_process_fork sched_process_exec \
		sched_process_exit; do
		want=tp_btf
		[ "$h" = page_fault_user ] && [ "$(uname -m)" != x86_64 ] && want=perf_event
		[ "$h" = syscalls ] && { [ "$(uname -m)" = x86_64 ] || [ "$v" -ge 6004 ]; } && want=fexit
		got=$(awk -v h="$h" '$1 == "hook" && $2 == h { $1 = $2 = ""; sub(/^ +/, ""); print }' \
			"$out/features")
		if [ "${got%% *}" = "$want" ]; then
			echo "ok - $h takes $want (--version -v: $got)"
			p=$((p + 1))
		else
			echo "not ok - $h takes $want on this kernel (--version -v: ${got:-no such line})"
			f=$((f + 1))
		fi
	done
	echo "$p passed, $f failed, 0 skipped"
}

: >"$out/results"
for suite in "${suites[@]}"; do
	if [ "$suite" = bench ]; then
		syscall_bench >"$out/bench" 2>&1
		fault_bench >>"$out/bench" 2>&1
		continue
	fi
	start=$(date +%s)
	case $suite in
	rungs) expect_rungs >"$out/$suite.log" 2>&1 ;;
	record-perf) # the record BPF test on the perf-event fault rung of other arches
		MEMTRACE_TEST_FAULTS=perf BPF_TESTS="$build/tests/bpf/test_record" \
			tests/run-tests.sh bpf >"$out/$suite.log" 2>&1 ;;
	*) tests/run-tests.sh "$suite" >"$out/$suite.log" 2>&1 ;;
	esac
	secs=$(($(date +%s) - start))
	line=$(tail -1 "$out/$suite.log")
	# "N passed, N failed, N skipped"
	read -r p _ f _ s _ <<<"${line//,/}"
	case "$p$f$s" in
	*[!0-9]* | "") p=0 f=1 s=0 ;; # the runner did not get to its summary
	esac
	echo "$suite $p $f $s $secs" >>"$out/results"
	echo "vm-guest: $suite: $p passed, $f failed, $s skipped in ${secs}s"
done
sync
