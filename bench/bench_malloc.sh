#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# record --malloc against heaptrack on malloc churn, side by side in one
# run (figures in bench/README.md). The workload is
# tests/workloads/malloc_nofp churn OPS (-O2, no frame pointers): OPS
# malloc/calloc + free pairs of 16..4095 bytes from churn_a and churn_b
# (3:1 by calls), 4096 blocks live at the end; it times its own loop
# (elapsed_ns) and prints the bytes each site allocated.
#  1. Interleaved rounds of: the bare loop; heaptrack -o FILE; memtrace
#     record --malloc (the default for -- CMD: the LD_PRELOAD interposer,
#     --unwind auto's dwarf captures); memtrace record --malloc
#     --malloc-via uprobe (auto: dwarf captures); memtrace record --malloc
#     --unwind fp (uprobes too). Slowdown = the loop's own elapsed time
#     over the bare run's (median of rounds and the median of per-round
#     paired ratios), and the whole command's wall time.
#  2. The top call sites of each tool at exit: outstanding bytes by site
#     (memtrace report --event malloc; heaptrack_print's "leaked" cost).
#  3. Another process on the host: the bare loop timed while memtrace
#     records --malloc of a different process (sleep), against alone.
# Root only (memtrace). Temp files under mktemp -d, removed at exit.
#   OUTPUT=build bench/bench_malloc.sh [ROUNDS] [OPS]
set -u
OUTPUT=${OUTPUT:-build}
ROUNDS=${1:-3}
OPS=${2:-200000}
MT=$OUTPUT/memtrace
W=$(realpath -m "$OUTPUT/tests/workloads/malloc_nofp")
tmp=$(mktemp -d)
sleeper=
cleanup() {
	[ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null && wait "$sleeper" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "bench_malloc: needs root" >&2; exit 1; }
[ -x "$MT" ] && [ -x "$W" ] || { echo "bench_malloc: build first: make $MT $W" >&2; exit 1; }
have_ht=0
command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null && have_ht=1
[ $have_ht = 1 ] || echo "bench_malloc: heaptrack not installed (MEMTRACE_BENCH=1 scripts/setup-deps.sh): its column is skipped"

now_ns() { date +%s%N; }
loop_ns() { sed -n 's/^elapsed_ns \([0-9]*\)$/\1/p' "$1" | head -1; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

tools="bare mt_auto mt_uprobe mt_fp"
[ $have_ht = 1 ] && tools="bare heaptrack mt_auto mt_uprobe mt_fp"
for t in $tools; do : >"$tmp/$t.loop"; : >"$tmp/$t.wall"; : >"$tmp/$t.cpu"; done
: >"$tmp/pairs"

# CPU seconds (user + sys) of the whole command, its children included:
# on a machine whose cores are shared the wall time is mostly waiting
TIME=
[ -x /usr/bin/time ] && TIME="/usr/bin/time -f %U+%S -o"
cpu_of() { [ -s "$1" ] && awk -F+ '{ printf "%.0f\n", ($1 + $2) * 1e9 }' "$1" || echo 0; }

run_one() { # run_one TOOL ROUND: one run, its loop, wall and CPU times appended
	local t=$1 r=$2 out="$tmp/$1.$2.out" t0 t1 tm=() tf="$tmp/$1.$2.time"
	[ -n "$TIME" ] && read -r -a tm <<<"$TIME $tf"
	t0=$(now_ns)
	case $t in
	bare) "${tm[@]}" "$W" churn "$OPS" >"$out" 2>/dev/null ;;
	heaptrack) (cd "$tmp" && "${tm[@]}" heaptrack -o "$tmp/ht.$r" "$W" churn "$OPS") >"$out" 2>"$out.err" ;;
	mt_auto) "${tm[@]}" "$MT" record -f -o "$tmp/auto.$r.data" --malloc -- "$W" churn "$OPS" >"$out" 2>"$out.err" ;;
	mt_uprobe) "${tm[@]}" "$MT" record -f -o "$tmp/up.$r.data" --malloc --malloc-via uprobe -- "$W" churn "$OPS" >"$out" 2>"$out.err" ;;
	mt_fp) "${tm[@]}" "$MT" record -f -o "$tmp/fp.$r.data" --malloc --unwind fp -- "$W" churn "$OPS" >"$out" 2>"$out.err" ;;
	esac
	t1=$(now_ns)
	loop_ns "$out" >>"$tmp/$t.loop"
	echo $((t1 - t0)) >>"$tmp/$t.wall"
	cpu_of "$tf" >>"$tmp/$t.cpu"
}

echo "== 1. malloc churn, $OPS malloc/free pairs, $ROUNDS interleaved rounds"
echo "machine: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
	for t in $tools; do run_one "$t" "$r"; done
	b=$(sed -n "${r}p" "$tmp/bare.loop")
	line="round $r:"
	for t in $tools; do
		[ "$t" = bare ] && continue
		line="$line $t $(ratio "$(sed -n "${r}p" "$tmp/$t.loop")" "$b")x"
	done
	echo "$line"
	echo "$line" >>"$tmp/pairs"
done
bare_loop=$(median <"$tmp/bare.loop")
bare_wall=$(median <"$tmp/bare.wall")
bare_cpu=$(median <"$tmp/bare.cpu")
printf "%-10s %10s %9s %9s %10s %8s %10s %8s\n" tool "loop (ms)" slowdown "paired" "wall (ms)" "wall x" \
	"CPU (ms)" "CPU x"
for t in $tools; do
	l=$(median <"$tmp/$t.loop")
	wl=$(median <"$tmp/$t.wall")
	c=$(median <"$tmp/$t.cpu")
	p=-
	[ "$t" != bare ] && p=$(sed -n "s/.* $t \([0-9.]*\)x.*/\1/p" "$tmp/pairs" | median)x
	printf "%-10s %10.1f %8sx %9s %10.1f %7sx %10.1f %7sx\n" "$t" "$(awk -v v="$l" 'BEGIN { print v / 1e6 }')" \
		"$(ratio "$l" "$bare_loop")" "$p" "$(awk -v v="$wl" 'BEGIN { print v / 1e6 }')" \
		"$(ratio "$wl" "$bare_wall")" "$(awk -v v="$c" 'BEGIN { print v / 1e6 }')" \
		"$(ratio "$c" "$bare_cpu")"
done
grep -h "interposer in" "$tmp"/mt_auto.1.out.err 2>/dev/null | sed 's/^/memtrace (auto): /'
grep -h "calls from other processes" "$tmp"/mt_uprobe.1.out.err 2>/dev/null | sed 's/^/memtrace (uprobe): /'

echo
echo "== 2. top call sites at exit (outstanding bytes; the workload allocated" \
	"$(awk '$1 == "churn_a" { a = $2 } $1 == "churn_b" { b = $2 } END { printf "churn_a %d, churn_b %d in all", a, b }' "$tmp/bare.1.out"))"
"$MT" report -i "$tmp/auto.1.data" --event malloc --format json 2>/dev/null |
	jq -r '.events[0].sites[:3][] | "memtrace (auto) \(.function) \(.bytes)"'
"$MT" report -i "$tmp/up.1.data" --event malloc --format json 2>/dev/null |
	jq -r '.events[0].sites[:3][] | "memtrace (uprobe) \(.function) \(.bytes)"'
"$MT" report -i "$tmp/fp.1.data" --event malloc --format json 2>/dev/null |
	jq -r '.events[0].sites[:3][] | "memtrace (fp)   \(.function) \(.bytes)"'
if [ $have_ht = 1 ]; then
	heaptrack_print -f "$tmp"/ht.1.* --flamegraph-cost-type leaked -F "$tmp/ht.leaked" >/dev/null 2>&1
	# the innermost frame of the program's own code names the site, as memtrace's top frame does
	awk '{ n = $NF; $NF = ""; k = split($0, f, ";"); s = f[k - 1]; sub(/ \(.*/, "", s); b[s] += n }
		END { for (s in b) if (b[s] > 0) printf "heaptrack       %s %d\n", s, b[s] }' "$tmp/ht.leaked" |
		sort -k3 -nr | head -3
fi

echo
echo "== 3. another process while memtrace records a sleep, without and with --malloc"
: >"$tmp/alone" ; : >"$tmp/beside" ; : >"$tmp/beside_malloc"
beside() { # beside FILE [--malloc]: the loop timed while memtrace records a sleep
	local file=$1
	shift
	"$MT" record -f -o "$tmp/sleep.data" "$@" -- sleep 600 >/dev/null 2>&1 &
	sleeper=$!
	# attached once its sleep child runs
	for _ in $(seq 1 200); do pgrep -P "$sleeper" -x sleep >/dev/null && break; sleep 0.05; done
	"$W" churn "$OPS" >"$tmp/o.out" 2>/dev/null
	loop_ns "$tmp/o.out" >>"$file"
	kill -INT "$sleeper" 2>/dev/null
	wait "$sleeper" 2>/dev/null
	sleeper=
}
for r in $(seq 1 "$ROUNDS"); do
	"$W" churn "$OPS" >"$tmp/o.out" 2>/dev/null
	loop_ns "$tmp/o.out" >>"$tmp/alone"
	beside "$tmp/beside"
	beside "$tmp/beside_malloc" --malloc
done
a=$(median <"$tmp/alone")
b=$(median <"$tmp/beside")
m=$(median <"$tmp/beside_malloc")
ms() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1e6 }'; }
echo "alone $(ms "$a") ms; beside record $(ms "$b") ms ($(ratio "$b" "$a")x);" \
	"beside record --malloc $(ms "$m") ms ($(ratio "$m" "$a")x)"
