#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# How fast `memtrace report` unwinds and symbolizes user-stack captures:
# bench/ustack_synth writes N captures (default 100,000, 8 KiB of stack
# each, every one with different stack bytes so that no walk is answered
# from the cache), then `memtrace report` reads, unwinds (CFI, libdwfl),
# symbolizes and prints them ROUNDS times. Prints the median elapsed and
# CPU (user + sys) seconds. No assertion: figures go to bench/README.md.
#   make build/memtrace build/bench/ustack_synth && bench/bench_report.sh [N [ROUNDS]]
set -eu
OUTPUT=${OUTPUT:-build}
N=${1:-100000}
ROUNDS=${2:-5}
tmp=$(mktemp -d /tmp/mt-bench-report.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$OUTPUT/bench/ustack_synth" "$tmp/u.data" "$N" 8192
ls -l "$tmp/u.data" | awk '{ printf "recording: %.0f MiB\n", $5 / 1048576 }'
for fmt in text svg pprof; do
	for i in $(seq "$ROUNDS"); do
		/usr/bin/time -f "%e %U %S" -o "$tmp/t.$i" "$OUTPUT/memtrace" report -i "$tmp/u.data" \
			--format $fmt -o "$tmp/out.$fmt" -f >/dev/null
	done
	cat "$tmp"/t.* | awk -v fmt=$fmt -v n="$N" '{ e[NR] = $1; c[NR] = $2 + $3 }
	function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
		if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return a[int((n + 1) / 2)] }
	END { printf "report --format %-5s %d captures: median %.2f s elapsed, %.2f s CPU (%d rounds)\n",
		fmt, n, med(e, NR), med(c, NR), NR }'
	rm -f "$tmp"/t.*
done
"$OUTPUT/memtrace" report -i "$tmp/u.data" -v 2>&1 >/dev/null | grep -i unwound || true
