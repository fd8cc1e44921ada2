#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: runs the benches of bench/ one after another, each in a
# short mode (a smoke run: one round, small sizes) unless FULL=1, and keeps
# each one's output in $OUTPUT/bench/results/NAME.txt. Short runs only show
# that a bench works; the figures for bench/README.md (in the section named
# for each bench below) come from full runs, with the machine and its load.
# A bench that fails is reported and the others still run; the exit status
# is 1 when any failed, 2 for a bad BENCH. Root only (the benches load BPF).
#   make bench                      every bench, short
#   make bench BENCH=record FULL=1  one (bench/bench_record.sh), full size
#   bench/run.sh --list             the benches this script knows
# Adding a bench/bench_NAME.sh: add it to the table below (its short mode
# and its README section); tests/cli/test_bench.sh checks the two agree.
set -u
cd "$(dirname "$0")/.." || exit 1
OUTPUT=${OUTPUT:-build}
export OUTPUT
FULL=${FULL:-0}
BENCH=${BENCH:-}

# name | bench/README.md section | short mode: environment and arguments
table() {
	cat <<'EOF'
record|record|FL_ARGS="16 4" bench/bench_record.sh 1
report|report: unwinding user-stack captures|bench/bench_report.sh 2000 1
run|run|CHILDREN=200 CHILD_ROUNDS=1 bench/bench_run.sh 1
snapshot|snapshot|RUNS=2 bench/bench_snapshot.sh 50
top|top|PROCS=200 bench/bench_top.sh 1
malloc|record|bench/bench_malloc.sh 1 20000
EOF
}

if [ "${1:-}" = --list ]; then
	table | cut -d'|' -f1
	exit 0
fi
if [ -n "$BENCH" ] && ! table | cut -d'|' -f1 | grep -qx -- "$BENCH"; then
	echo "bench/run.sh: unknown BENCH '$BENCH': expected one of $(table | cut -d'|' -f1 | tr '\n' ' ')" >&2
	exit 2
fi

results=$OUTPUT/bench/results
mkdir -p "$results" || exit 1
echo "machine: $(nproc) CPUs, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$FULL" = 1 ] || echo "short mode (smoke run): FULL=1 for figures worth putting in bench/README.md"
failed=()
while IFS='|' read -r name section cmd; do
	[ -z "$BENCH" ] || [ "$BENCH" = "$name" ] || continue
	[ "$FULL" = 1 ] && cmd="bench/bench_$name.sh"
	out=$results/bench_$name.txt
	echo
	echo "== $name: $cmd"
	start=$(date +%s)
	# the table is ours: its environment assignments and arguments are words for bash
	if bash -c "$cmd" </dev/null 2>&1 | tee "$out"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
		echo "== $name: done in $(($(date +%s) - start)) s; figures in $out (bench/README.md, section \"$section\")"
	else
		echo "== $name: FAILED after $(($(date +%s) - start)) s (output in $out)"
		failed+=("$name")
	fi
done < <(table)

echo
if [ ${#failed[@]} -gt 0 ]; then
	echo "benches failed: ${failed[*]}"
	exit 1
fi
echo "every bench ran; outputs in $results/"
