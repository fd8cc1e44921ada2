#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# How fast `memtrace report` unwinds and symbolizes user-stack captures:
# bench/ustack_synth writes N captures (default 100,000, 8 KiB of stack
# each, every one with different stack bytes so that no walk is answered
# from the cache), then `memtrace report` reads, unwinds (CFI), symbolizes
# and prints them ROUNDS times. Prints the median elapsed and CPU (user +
# sys) seconds. No assertion: figures go to bench/README.md.
#   make build/memtrace build/bench/ustack_synth && bench/bench_report.sh [N [ROUNDS]]
# BASE=PATH (another memtrace binary, e.g. one built from main) runs the two
# interleaved, A B A B, on the same recording, and prints both medians and
# the median of the paired CPU and elapsed ratios (this one / BASE).
set -eu
OUTPUT=${OUTPUT:-build}
N=${1:-100000}
ROUNDS=${2:-5}
BASE=${BASE:-}
tmp=$(mktemp -d /tmp/mt-bench-report.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

med() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

"$OUTPUT/bench/ustack_synth" "$tmp/u.data" "$N" 8192
ls -l "$tmp/u.data" | awk '{ printf "recording: %.0f MiB\n", $5 / 1048576 }'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for fmt in text svg pprof; do
	for i in $(seq "$ROUNDS"); do
		for side in ${BASE:+base} this; do
			bin=$OUTPUT/memtrace
			[ "$side" = base ] && bin=$BASE
			/usr/bin/time -f "%e %U %S" -o "$tmp/t" "$bin" report -i "$tmp/u.data" \
				--format $fmt -o "$tmp/out.$fmt" -f >/dev/null
			awk '{ print $1, $2 + $3 }' "$tmp/t" >>"$tmp/$side"
		done
		[ -n "$BASE" ] && paste -d' ' "$tmp/this" "$tmp/base" | tail -1 |
			awk '{ print $1 / $3, $2 / $4 }' >>"$tmp/ratio"
	done
	printf "report --format %-5s %d captures: median %.2f s elapsed, %.2f s CPU (%d rounds)\n" \
		$fmt "$N" "$(cut -d' ' -f1 "$tmp/this" | med)" "$(cut -d' ' -f2 "$tmp/this" | med)" "$ROUNDS"
	if [ -n "$BASE" ]; then
		printf "  BASE %s: median %.2f s elapsed, %.2f s CPU; paired ratio elapsed %.2f, CPU %.2f\n" \
			"$BASE" "$(cut -d' ' -f1 "$tmp/base" | med)" "$(cut -d' ' -f2 "$tmp/base" | med)" \
			"$(cut -d' ' -f1 "$tmp/ratio" | med)" "$(cut -d' ' -f2 "$tmp/ratio" | med)"
	fi
	rm -f "$tmp/this" "$tmp/base" "$tmp/ratio"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$OUTPUT/memtrace" report -i "$tmp/u.data" -v 2>&1 >/dev/null | grep -i unwound || true
