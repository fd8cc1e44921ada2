#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs every test: cmocka unit tests (build/tests/unit), BPF integration
# tests (build/tests/bpf, root only) and CLI tests (tests/cli/test_*.sh,
# which print TAP-style "ok - ..." / "not ok - ..." lines). Prints one
# closing "N passed, N failed" line and exits non-zero on any failure.
#   tests/run-tests.sh [unit|bpf|cli]...   (default: all)
# CLI_TESTS="tests/cli/a.sh ..." narrows the cli suite to those scripts.
set -u
OUTPUT=${OUTPUT:-build}
export OUTPUT
export MEMTRACE="$PWD/$OUTPUT/memtrace"
export WORKLOADS="$PWD/$OUTPUT/tests/workloads"

suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit bpf cli)

passed=0 failed=0 skipped=0
failed_names=()

run_cmocka() {
	local bin=$1 log
	log=$(mktemp)
	"$bin" >"$log" 2>&1
	local rc=$?
	cat "$log"
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | tail -1)
	p=${p:-0} f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or exited before cmocka could report
	fi
	passed=$((passed + p)) failed=$((failed + f))
	[ "$f" -ne 0 ] && failed_names+=("$(basename "$bin")")
	rm -f "$log"
}

run_tap() {
	local script=$1 log
	log=$(mktemp)
	bash "$script" >"$log" 2>&1
	local rc=$?
	cat "$log"
	local p f s
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	s=$(grep -c '^skip ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "not ok - $(basename "$script") exited $rc"
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	[ "$f" -ne 0 ] && failed_names+=("$(basename "$script")")
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
		for t in "$OUTPUT"/tests/bpf/test_*; do
			[ -x "$t" ] && run_cmocka "$t"
		done ;;
	cli)
		for t in ${CLI_TESTS:-tests/cli/test_*.sh}; do
			[ -f "$t" ] && run_tap "$t"
		done ;;
	*)
		echo "unknown suite '$suite' (expected unit, bpf or cli)" >&2
		exit 2 ;;
	esac
done

echo
[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
