#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace run costs (see bench/README.md, section run). Measured, not asserted:
#  1. start-up: `memtrace run -q -- /bin/true` against `/bin/true`, with
#     hyperfine (median; target <= 150 ms), in BPF and /proc mode;
#  2. the fault-heavy workload `memload --pages 16384 --loops 100` (64 MiB
#     mapped, touched and unmapped 100 times: 1.6M faults) alone and under
#     `memtrace run`, in interleaved pairs so that drift in the machine hits
#     both alike; medians of the wall time (target: at most 5% slower).
# Root only (BPF).
#   OUTPUT=build-h3 bench/bench_run.sh [PAIRS]
set -u
OUTPUT=${OUTPUT:-build}
PAIRS=${1:-7}
MT=$OUTPUT/memtrace
ML=$OUTPUT/tests/workloads/memload
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ "$(id -u)" -eq 0 ] || { echo "bench_run: needs root" >&2; exit 1; }
[ -x "$MT" ] && [ -x "$ML" ] || { echo "bench_run: build first: make OUTPUT=$OUTPUT all $ML" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench_run: needs hyperfine" >&2; exit 1; }

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now_ns() { date +%s%N; }

echo "machine: $(nproc) CPUs, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo

# 1. start-up: load, attach, fork, exec, first wait, report, detach
hyperfine -N -w 3 -r 30 --export-json "$tmp/start.json" \
	'/bin/true' "$MT run -q -- /bin/true" "$MT run -q --procfs -- /bin/true" >/dev/null 2>&1
jq -r '.results[] | "\(.command)\t\(.median * 1000)\t\(.min * 1000)\t\(.max * 1000)"' "$tmp/start.json" |
	awk -F'\t' 'BEGIN { printf "%-40s %10s %10s %10s\n", "start-up (hyperfine, 30 runs)", "median", "min", "max" }
		{ printf "%-40s %7.1f ms %7.1f ms %7.1f ms\n", $1, $2, $3, $4 }'
echo

# 2. fault-heavy workload, alone and under run, interleaved
work=("$ML" --pages 16384 --loops 100)
: >"$tmp/alone"; : >"$tmp/run"; : >"$tmp/inside"
for i in $(seq "$PAIRS"); do
	t0=$(now_ns)
	"${work[@]}" >/dev/null
	t1=$(now_ns)
	"$MT" run -q --report "$tmp/r.json" -- "${work[@]}" >/dev/null
	t2=$(now_ns)
	echo $((t1 - t0)) >>"$tmp/alone"
	echo $((t2 - t1)) >>"$tmp/run"
	jq -r .duration_ns "$tmp/r.json" >>"$tmp/inside"
done
alone=$(median <"$tmp/alone")
under=$(median <"$tmp/run")
inside=$(median <"$tmp/inside")
faults=$(jq -r .faults "$tmp/r.json")
printf '%-40s %10s %9s\n' "memload 16384 pages x 100 ($PAIRS pairs)" "median" "slowdown"
awk -v a="$alone" -v u="$under" -v i="$inside" -v f="$faults" 'BEGIN {
	printf "%-40s %8.3f s %8.3fx\n", "alone", a / 1e9, 1
	printf "%-40s %8.3f s %8.3fx\n", "under memtrace run (wall, with start-up)", u / 1e9, u / a
	printf "%-40s %8.3f s %8.3fx\n", "under memtrace run (command only)", i / 1e9, i / a
	printf "%-40s %8.0f ns\n", "added per fault (wall)", (u - a) / f
}'
echo "faults counted by the tracer: $faults"
echo "pairs (alone, under run) in ns:"
paste "$tmp/alone" "$tmp/run" | sed 's/^/  /'

# 3. many short children: memtrace's own CPU (utime + stime of its own threads, sampled from
#    /proc/PID/stat until it exits; its waited children are not in those fields) against the
#    loop's. MT_BEFORE=path adds another build, interleaved. CHILDREN (default 20000).
CHILDREN=${CHILDREN:-20000}
loop=(sh -c "i=0; while [ \$i -lt $CHILDREN ]; do /bin/true; i=\$((i + 1)); done")
own_cpu() { # BIN: memtrace's own CPU seconds while it runs the loop
	"$1" run -q -- "${loop[@]}" &
	local pid=$! last=0 t
	while t=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null); do
		[ -n "$t" ] && last=$t
		sleep 0.05
	done
	wait $pid 2>/dev/null
	awk -v t="$last" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f\n", t / hz }'
}
: >"$tmp/cpu_loop"; : >"$tmp/cpu_mt"; : >"$tmp/cpu_before"
for _ in $(seq "${CHILD_ROUNDS:-3}"); do
	s=$(date +%s%N)
	"${loop[@]}"
	/usr/bin/env awk -v s="$s" -v e="$(date +%s%N)" 'BEGIN { printf "%.2f\n", (e - s) / 1e9 }' >>"$tmp/cpu_loop"
	[ -n "${MT_BEFORE:-}" ] && own_cpu "$MT_BEFORE" >>"$tmp/cpu_before"
	own_cpu "$MT" >>"$tmp/cpu_mt"
done
echo
echo "$CHILDREN short children (sh loop of /bin/true), ${CHILD_ROUNDS:-3} rounds, medians:"
echo "  the loop alone: $(median <"$tmp/cpu_loop") s wall"
echo "  memtrace run's own CPU: $(median <"$tmp/cpu_mt") s"
[ -n "${MT_BEFORE:-}" ] && echo "  MT_BEFORE build's own CPU: $(median <"$tmp/cpu_before") s"
