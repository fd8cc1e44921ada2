#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace record/report costs, side by side in one run (see bench/README.md):
#  1. bench/fault_loop (mmap, touch every 4 KiB page, munmap) alone, under
#     `memtrace record` (default --unwind auto: stack captures at a 16 KiB
#     byte-sampling period that doubles past --capture-rate, 20,000 a second
#     per CPU), with --capture-rate 0 (the 16 KiB period throughout),
#     --unwind fp (a stack walk at every fault), fp with --sample 100, under
#     bpftrace's @[ustack] = count(), and under perf record --call-graph
#     dwarf (Debian's linux-perf) at every fault (-c 1, as
#     bench/compare_perf.sh) and at every 16th (-c 16: 64 KiB, the rate of
#     memtrace's byte sampling before session 5);
#  2. `memtrace report` on a synthetic recording of 1,000,000 events over
#     20,000 unique stacks of real libc addresses.
# bpftrace's tracepoints need tracefs: this script mounts it on
# /sys/kernel/tracing when it is missing (and says so). Root only.
#   OUTPUT=build-h2 bench/bench_record.sh [RUNS]
# FL_ARGS="MIB ROUNDS" shrinks the loop on a loaded machine (default 64 32);
# REPORT=0 skips part 2. MT_BEFORE=path/memtrace adds another build's
# default and fp runs to each round, each paired with this build's run of
# the same round (before/after comparisons). BPFTRACE=0 leaves bpftrace out
# (and tracefs as it is).
set -u
OUTPUT=${OUTPUT:-build}
RUNS=${1:-5}
MT=$OUTPUT/memtrace
FL=$OUTPUT/bench/fault_loop
MT_BEFORE=${MT_BEFORE:-}
read -r -a FL_ARGS <<<"${FL_ARGS:-64 32}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ "$(id -u)" -eq 0 ] || { echo "bench_record: needs root" >&2; exit 1; }
[ -x "$MT" ] && [ -x "$FL" ] || { echo "bench_record: build first: make OUTPUT=$OUTPUT all $FL" >&2; exit 1; }

have_bpftrace=0
if [ "${BPFTRACE:-1}" = 1 ] && command -v bpftrace >/dev/null; then
	if [ ! -d /sys/kernel/tracing/events ]; then
		echo "bench_record: mounting tracefs on /sys/kernel/tracing for bpftrace"
		mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
	fi
	[ -d /sys/kernel/tracing/events/exceptions ] && have_bpftrace=1
fi

elapsed() { sed -n 's/.*elapsed_ns \([0-9]*\).*/\1/p' "$1" | head -1; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$tmp/base" ; : >"$tmp/full" ; : >"$tmp/fp" ; : >"$tmp/s100" ; : >"$tmp/bt" ; : >"$tmp/norate"
: >"$tmp/perf1" ; : >"$tmp/perf16"
have_perf=0
command -v perf >/dev/null && have_perf=1
: >"$tmp/pairs" ; : >"$tmp/bfull" ; : >"$tmp/bfp" ; : >"$tmp/vs_before"
for r in $(seq "$RUNS"); do
	# interleaved, so drift in the machine hits every variant alike; each traced
	# run is paired with the untraced run just before it (a loaded machine drifts)
	"$FL" "${FL_ARGS[@]}" >"$tmp/o" && b=$(elapsed "$tmp/o") && echo "$b" >>"$tmp/base"
	"$MT" record -f -o "$tmp/f.data" -- "$FL" "${FL_ARGS[@]}" >"$tmp/o" 2>"$tmp/e" && d=$(elapsed "$tmp/o") &&
		echo "$d" >>"$tmp/full"
	"$MT" record -f -o "$tmp/n.data" --capture-rate 0 -- "$FL" "${FL_ARGS[@]}" >"$tmp/o" 2>"$tmp/en" &&
		elapsed "$tmp/o" >>"$tmp/norate"
	"$MT" record -f -o "$tmp/p.data" --unwind fp -- "$FL" "${FL_ARGS[@]}" >"$tmp/o" 2>/dev/null &&
		p=$(elapsed "$tmp/o") && echo "$p" >>"$tmp/fp"
	"$MT" record -f -o "$tmp/s.data" --unwind fp --sample 100 -- "$FL" "${FL_ARGS[@]}" >"$tmp/o" 2>/dev/null &&
		elapsed "$tmp/o" >>"$tmp/s100"
	q1=0 q16=0
	if [ $have_perf = 1 ]; then
		# a large buffer, as compare_perf.sh: the default drops dwarf samples
		perf record -q -m 128M -e page-faults -c 1 --call-graph dwarf -o "$tmp/perf.data" \
			-- "$FL" "${FL_ARGS[@]}" >"$tmp/o" 2>/dev/null && q1=$(elapsed "$tmp/o") &&
			echo "$q1" >>"$tmp/perf1"
		perf record -q -m 128M -e page-faults -c 16 --call-graph dwarf -o "$tmp/perf.data" \
			-- "$FL" "${FL_ARGS[@]}" >"$tmp/o" 2>/dev/null && q16=$(elapsed "$tmp/o") &&
			echo "$q16" >>"$tmp/perf16"
		rm -f "$tmp/perf.data"
	fi
	awk -v b="$b" -v d="$d" -v p="$p" -v q1="$q1" -v q16="$q16" \
		'BEGIN { printf "%.4f %.4f %.4f %.4f\n", d / b, p / b, q1 / b, q16 / b }' >>"$tmp/pairs"
	if [ -n "$MT_BEFORE" ]; then
		"$MT_BEFORE" record -f -o "$tmp/bf.data" -- "$FL" "${FL_ARGS[@]}" >"$tmp/o" 2>"$tmp/eb" &&
			bd=$(elapsed "$tmp/o") && echo "$bd" >>"$tmp/bfull"
		"$MT_BEFORE" record -f -o "$tmp/bp.data" --unwind fp -- "$FL" "${FL_ARGS[@]}" >"$tmp/o" 2>/dev/null &&
			bp=$(elapsed "$tmp/o") && echo "$bp" >>"$tmp/bfp"
		awk -v d="$d" -v p="$p" -v bd="$bd" -v bp="$bp" 'BEGIN { printf "%.4f %.4f\n", d / bd, p / bp }' \
			>>"$tmp/vs_before"
	fi
	if [ $have_bpftrace = 1 ]; then
		bpftrace -c "$FL ${FL_ARGS[*]}" -e 'tracepoint:exceptions:page_fault_user /pid == cpid/ { @[ustack] = count(); }' \
			>"$tmp/o" 2>/dev/null && elapsed "$tmp/o" >>"$tmp/bt"
	fi
done

base=$(median <"$tmp/base")
faults=$(sed -n 's/.*faults \([0-9]*\).*/\1/p' "$tmp/o" | head -1)
printf '%-34s %10s %9s %12s\n' "fault loop ($RUNS runs, median)" "time" "slowdown" "ns/fault"
row() { # row NAME FILE
	local m
	m=$(median <"$2")
	[ -n "$m" ] || { printf '%-34s %10s\n' "$1" "n/a"; return; }
	awk -v n="$1" -v m="$m" -v b="$base" -v f="${faults:-524288}" \
		'BEGIN { printf "%-34s %8.3f s %8.2fx %12.0f\n", n, m / 1e9, m / b, (m - b) / f }'
}
row "baseline" "$tmp/base"
row "memtrace record (default: auto)" "$tmp/full"
row "memtrace record --capture-rate 0" "$tmp/norate"
row "memtrace record --unwind fp" "$tmp/fp"
row "memtrace record --unwind fp --sample 100" "$tmp/s100"
if [ $have_perf = 1 ]; then
	row "perf -c 1 --call-graph dwarf" "$tmp/perf1"
	row "perf -c 16 --call-graph dwarf" "$tmp/perf16"
else
	echo "perf: not installed (MEMTRACE_BENCH=1 scripts/setup-deps.sh)"
fi
if [ -n "$MT_BEFORE" ]; then
	row "MT_BEFORE record (default: auto)" "$tmp/bfull"
	row "MT_BEFORE record --unwind fp" "$tmp/bfp"
fi
if [ $have_bpftrace = 1 ]; then
	row "bpftrace @[ustack] = count()" "$tmp/bt"
else
	echo "bpftrace: not available (not installed, or no tracefs)"
fi
printf 'paired ratios (each traced run / the untraced run before it), median: default %s, fp %s' \
	"$(cut -d' ' -f1 "$tmp/pairs" | median)" "$(cut -d' ' -f2 "$tmp/pairs" | median)"
[ $have_perf = 1 ] && printf ', perf -c 1 %s, perf -c 16 %s' \
	"$(cut -d' ' -f3 "$tmp/pairs" | median)" "$(cut -d' ' -f4 "$tmp/pairs" | median)"
echo
[ -n "$MT_BEFORE" ] &&
	printf 'this build / MT_BEFORE, paired in each round, median: default %s, fp %s\n' \
		"$(cut -d' ' -f1 "$tmp/vs_before" | median)" "$(cut -d' ' -f2 "$tmp/vs_before" | median)"
grep -h "stack captures" "$tmp/e" 2>/dev/null | sed 's/^/default: /'
grep -h "stack captures" "$tmp/en" 2>/dev/null | sed 's/^/--capture-rate 0: /'
[ -n "$MT_BEFORE" ] && grep -h "stack captures" "$tmp/eb" 2>/dev/null | sed 's/^/MT_BEFORE: /'
grep -h "stack hash collisions\|drops" "$tmp/e" 2>/dev/null

[ "${REPORT:-1}" = 0 ] && exit 0
# report on 1,000,000 events / 20,000 unique stacks of real libc addresses
libc=$(awk '$2 ~ /x/ && $6 ~ /libc\.so/ { print $1, $3, $6; exit }' /proc/self/maps)
python3 - "$tmp/synth.data" $libc <<'PY'
import random, struct, sys
out, rng, off, path = sys.argv[1], sys.argv[2], int(sys.argv[3], 16), sys.argv[4]
start, end = (int(x, 16) for x in rng.split('-'))
random.seed(1)
recs = []
def rec(t, p): recs.append(struct.pack('<II', t, len(p)) + p)
meta = struct.pack('<QQIIII', 0, 10**9, 7, 1, 0, 0) + b'\0' * 128 + struct.pack('<Q', 0)
rec(1, meta + b'synthetic')
rec(2, struct.pack('<IIII16s', 1, 0, 0, 0, b'synth') + b'/bin/synth')
p = path.encode()
rec(3, struct.pack('<QQQIIII20sI', start, end, off, 1, 0, 5, 0, b'', len(p)) + p)
n, events = 20000, 1000000
for i in range(n):
    ips = [random.randrange(start, end) for _ in range(8)]
    rec(4, struct.pack('<iI', i, 8) + struct.pack('<8Q', *ips))
per = events // n
for i in range(n):
    s = struct.pack('<IiIIII', 1, i, 0, 0, 1, 0) + struct.pack('<QqQQ', per, per * 4096, 0, 0) + b'\0' * 128
    rec(5, s)
with open(out, 'wb') as f:
    f.write(b'MEMTRACE' + struct.pack('<II', 1, 0))
    for r in recs: f.write(r)
    f.write(struct.pack('<II', 0xff, 8) + struct.pack('<Q', len(recs)))
PY
report_ms() { # BIN FMT: one report's wall time in ms
	local s e
	s=$(date +%s%N)
	"$1" report -i "$tmp/synth.data" --format "$2" -o "$tmp/out.$2" -f || echo "report --format $2 failed" >&2
	e=$(date +%s%N)
	echo $(((e - s) / 1000000))
}
for fmt in text folded pprof; do
	if [ -z "$MT_BEFORE" ]; then
		awk -v f=$fmt -v t="$(report_ms "$MT" $fmt)" \
			'BEGIN { printf "report --format %-7s 1,000,000 events / 20,000 stacks: %5d ms\n", f, t }'
		continue
	fi
	# with MT_BEFORE: 3 rounds, the two builds in turn, medians and the paired ratio
	: >"$tmp/rn" ; : >"$tmp/rb" ; : >"$tmp/rr"
	for _ in 1 2 3; do
		n=$(report_ms "$MT" $fmt) && b=$(report_ms "$MT_BEFORE" $fmt)
		echo "$n" >>"$tmp/rn"; echo "$b" >>"$tmp/rb"
		awk -v n="$n" -v b="$b" 'BEGIN { printf "%.4f\n", n / b }' >>"$tmp/rr"
	done
	printf 'report --format %-7s 1,000,000 events / 20,000 stacks: %5d ms, MT_BEFORE %5d ms, paired %s\n' \
		$fmt "$(median <"$tmp/rn")" "$(median <"$tmp/rb")" "$(median <"$tmp/rr")"
done
