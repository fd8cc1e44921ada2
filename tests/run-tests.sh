#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs every test: cmocka unit tests (build/tests/unit), BPF integration
# tests (build/tests/bpf, root only), CLI tests (tests/cli/test_*.sh, which
# print TAP-style "ok - ..." / "not ok - ..." lines and their plan, see
# tests/cli/tap.sh) and the kernel matrix (tests/vm/vmtest.sh: the BPF and
# kernel-facing CLI suites inside Debian's kernels under qemu). Prints one
# closing "N passed, N failed, N skipped" line and exits non-zero on any failure.
#   tests/run-tests.sh [unit|bpf|cli|vm|NAME]...   (default: unit bpf cli vm;
#   NAME runs tests/cli/test_NAME.sh alone)
# CLI_TESTS="tests/cli/a.sh ..." narrows the cli suite to those scripts.
# BPF_TESTS="build/tests/bpf/test_x ..." narrows the bpf suite the same way.
set -u
OUTPUT=${OUTPUT:-build}
export OUTPUT
export MEMTRACE="$PWD/$OUTPUT/memtrace"
export WORKLOADS="$PWD/$OUTPUT/tests/workloads"

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit bpf cli vm)

passed=0 failed=0 skipped=0
failed_names=()

run_cmocka() {
	local bin=$1 log
	log=$(mktemp)
	"$bin" >"$log" 2>&1
	local rc=$?
	cat "$log"
	local p f s
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	p=${p:-0} f=${f:-0} s=${s:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or exited before cmocka could report
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	[ "$f" -ne 0 ] && failed_names+=("$(basename "$bin")")
	rm -f "$log"
}

run_tap() {
	local script=$1 log
	log=$(mktemp)
	bash "$script" >"$log" 2>&1
	local rc=$?
	cat "$log"
	local p f s planned ran
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	# "skip N - why" is N checks not made; skip_rest's "skip - why" one
	s=$(awk '/^skip [0-9]+ - / { s += $2; next } /^skip / { s++ } END { print s + 0 }' "$log")
	ran=$((p + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $(basename "$script") exited $rc"
	fi
	# tap.sh's plan: every check planned must be seen here, and no other
	planned=$(sed -n 's/^# tap: planned \(-\{0,1\}[0-9]*\)$/\1/p' "$log" | tail -1)
	if [ -z "$planned" ]; then
		echo "not ok - $(basename "$script") ended before done_testing ($ran checks seen)"
		f=$((f + 1))
	elif [ "$planned" -ne "$ran" ]; then
		echo "not ok - $(basename "$script") planned $planned checks, $ran ran"
		f=$((f + 1))
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	[ "$f" -ne 0 ] && failed_names+=("$(basename "$script")")
	rm -f "$log"
}

# The matrix adds every guest's counts; its table goes to the log as it is.
run_vm() {
	local log p f s
	log=$(mktemp)
	tests/vm/vmtest.sh 2>&1 | tee "$log"
	read -r p _ f _ s _ <<<"$(tail -1 "$log" | tr -d ,)"
	case "$p$f$s" in
	*[!0-9]* | "") p=0 f=1 s=0 ;;
	esac
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	[ "$f" -ne 0 ] && failed_names+=(vmtest)
	rm -f "$log"
}

for suite in "${suites[@]}"; do
	case $suite in
	unit)
		for t in "$OUTPUT"/tests/unit/test_*; do
			[ -x "$t" ] && run_cmocka "$t"
		done ;;
	bpf)
		if [ "$(id -u)" -ne 0 ]; then
			echo "skip BPF tests: not root (run: sudo make test)"
			skipped=$((skipped + 1))
			continue
		fi
		for t in ${BPF_TESTS:-"$OUTPUT"/tests/bpf/test_*}; do
			[ -x "$t" ] && run_cmocka "$t"
		done ;;
	cli)
		for t in ${CLI_TESTS:-tests/cli/test_*.sh}; do
			[ -f "$t" ] && run_tap "$t"
		done ;;
	vm)
		run_vm ;;
	*)
		# one CLI suite by name: top runs tests/cli/test_top.sh
		if [ -f "tests/cli/test_$suite.sh" ]; then
			run_tap "tests/cli/test_$suite.sh"
		else
			echo "unknown suite '$suite' (expected unit, bpf, cli, vm or a tests/cli/test_NAME.sh name)" >&2
			exit 2
		fi ;;
	esac
done

echo
[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
