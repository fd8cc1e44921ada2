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
# RUN_PARTS picks sections (default "start fault children"), e.g.
#   RUN_PARTS=children CHILDREN=20000 MT_BEFORE=old/memtrace bench/bench_run.sh
# RUN_PARTS=startcpu: memtrace's own CPU and page faults over no children
# (`run -q -- /bin/true`, `top -n 1`), STARTUP_RUNS interleaved (default 15),
# against MT_BEFORE when given.
set -u
OUTPUT=${OUTPUT:-build}
PAIRS=${1:-7}
MT=$OUTPUT/memtrace
ML=$OUTPUT/tests/workloads/memload
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ "$(id -u)" -eq 0 ] || { echo "bench_run: needs root" >&2; exit 1; }
[ -x "$MT" ] && [ -x "$ML" ] || { echo "bench_run: build first: make OUTPUT=$OUTPUT all $ML" >&2; exit 1; }

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
now_ns() { date +%s%N; }

echo "machine: $(nproc) CPUs, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo

RUN_PARTS=${RUN_PARTS:-start fault children}
part() { case " $RUN_PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

if part start; then
command -v hyperfine >/dev/null || { echo "bench_run: needs hyperfine" >&2; exit 1; }
# 1. start-up: load, attach, fork, exec, first wait, report, detach
hyperfine -N -w 3 -r 30 --export-json "$tmp/start.json" \
	'/bin/true' "$MT run -q -- /bin/true" "$MT run -q --procfs -- /bin/true" >/dev/null 2>&1
jq -r '.results[] | "\(.command)\t\(.median * 1000)\t\(.min * 1000)\t\(.max * 1000)"' "$tmp/start.json" |
	awk -F'\t' 'BEGIN { printf "%-40s %10s %10s %10s\n", "start-up (hyperfine, 30 runs)", "median", "min", "max" }
		{ printf "%-40s %7.1f ms %7.1f ms %7.1f ms\n", $1, $2, $3, $4 }'
echo
fi

if part startcpu; then
# 1b. start-up's own CPU: on-CPU time from /proc/PID/schedstat (ns, all of memtrace's
#     threads) and its minor faults, read once it has exited but before it is reaped
#     (waitid WNOWAIT), so its waited children are in neither figure
own_start() { # BIN ARGS...: "cpu_ms faults" of one run
	python3 - "$@" <<'PY'
import os, sys
pid = os.fork()
if pid == 0:
    fd = os.open(os.devnull, os.O_WRONLY)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.execv(sys.argv[1], sys.argv[1:])
os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
with open("/proc/%d/schedstat" % pid) as f:
    ns = int(f.read().split()[0])
with open("/proc/%d/stat" % pid) as f:
    minflt = int(f.read().rsplit(")", 1)[1].split()[7])  # field 10
os.waitpid(pid, 0)
print("%.1f %d" % (ns / 1e6, minflt))
PY
}
sbuilds=("$MT")
[ -n "${MT_BEFORE:-}" ] && sbuilds+=("$MT_BEFORE")
cmds=("run -q -- /bin/true" "top -n 1 -i 10ms")
for c in "${!cmds[@]}"; do for b in "${!sbuilds[@]}"; do : >"$tmp/s_${c}_$b"; done; done
for _ in $(seq "${STARTUP_RUNS:-15}"); do
	for c in "${!cmds[@]}"; do
		for b in "${!sbuilds[@]}"; do
			# shellcheck disable=SC2086 # the command's words
			own_start "${sbuilds[$b]}" ${cmds[$c]} >>"$tmp/s_${c}_$b"
		done
	done
done
echo "start-up's own CPU and minor faults, ${STARTUP_RUNS:-15} interleaved runs, medians;" \
	"this = $MT${MT_BEFORE:+, before = $MT_BEFORE}" \
	"(load average now $(cut -d' ' -f1-3 /proc/loadavg)):"
for c in "${!cmds[@]}"; do
	for b in "${!sbuilds[@]}"; do
		name=this
		[ "$b" -gt 0 ] && name=before
		printf '  %-6s %-28s %8.1f ms CPU %7d faults\n' "$name" "${cmds[$c]}" \
			"$(cut -d' ' -f1 "$tmp/s_${c}_$b" | median)" "$(cut -d' ' -f2 "$tmp/s_${c}_$b" | median)"
	done
	if [ "${#sbuilds[@]}" -gt 1 ]; then
		paste -d' ' "$tmp/s_${c}_0" "$tmp/s_${c}_1" | awk '{ print $1 / $3 }' | median |
			awk -v c="${cmds[$c]}" '{ printf "  %-35s %8.2fx CPU (paired by run, median)\n", "this/before " c, $1 }'
	fi
done
echo
fi

if part fault; then
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
fi
part children || exit 0

# 3. many short children: memtrace's own CPU (utime + stime of all its threads, read from
#    /proc/PID/stat once it has exited but before it is reaped (waitid WNOWAIT), so nothing
#    of its end is missed and its waited children, which are in cutime/cstime, are not in it)
#    against the loop's wall time. memtrace's start-up (BPF load, seeding) is a fixed cost of
#    its own, so every round also runs the same loop over 0 children: the difference over
#    CHILDREN is the cost per child. MT_BEFORE=path adds another build, interleaved.
#    CHILDREN (default 20000), CHILD_ROUNDS (default 3). The polling over the loop's wall time
#    is in that difference too, so each round also runs `sleep` for as long as the loop alone
#    took: (with children - idle as long) / CHILDREN is the cost per child without it.
CHILDREN=${CHILDREN:-20000}
loop_of() { echo "i=0; while [ \$i -lt $1 ]; do /bin/true; i=\$((i + 1)); done"; }
own_cpu() { # BIN N: memtrace's own CPU seconds while it runs a loop of N children
	own_cpu_of "$1" sh -c "$(loop_of "$2")"
}
own_cpu_of() { # BIN CMD...: memtrace's own CPU seconds over `run -q -- CMD...`
	python3 - "$1" run -q -- "${@:2}" <<'PY'
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
with open("/proc/%d/stat" % pid) as f:
    fields = f.read().rsplit(")", 1)[1].split()
os.waitpid(pid, 0)
# utime and stime are fields 14 and 15 of stat, 12 and 13 after the comm
print("%.3f" % ((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")))
PY
}
builds=("$MT")
[ -n "${MT_BEFORE:-}" ] && builds+=("$MT_BEFORE")
: >"$tmp/cpu_loop"
for b in "${!builds[@]}"; do : >"$tmp/cpu_$b"; : >"$tmp/cpu0_$b"; : >"$tmp/cpui_$b"; done
for _ in $(seq "${CHILD_ROUNDS:-3}"); do
	s=$(date +%s%N)
	sh -c "$(loop_of "$CHILDREN")"
	awk -v s="$s" -v e="$(date +%s%N)" 'BEGIN { printf "%.2f\n", (e - s) / 1e9 }' >>"$tmp/cpu_loop"
	for b in "${!builds[@]}"; do
		own_cpu "${builds[$b]}" "$CHILDREN" >>"$tmp/cpu_$b"
		own_cpu "${builds[$b]}" 0 >>"$tmp/cpu0_$b"
		own_cpu_of "${builds[$b]}" sleep "$(tail -1 "$tmp/cpu_loop")" >>"$tmp/cpui_$b"
	done
done
echo
echo "$CHILDREN short children (sh loop of /bin/true), ${CHILD_ROUNDS:-3} rounds, medians" \
	"(load average now $(cut -d' ' -f1-3 /proc/loadavg)):"
echo "  the loop alone: $(median <"$tmp/cpu_loop") s wall (rounds: $(paste -sd' ' "$tmp/cpu_loop"))"
for b in "${!builds[@]}"; do
	name=${builds[$b]}
	[ "$b" -gt 0 ] && name="MT_BEFORE ($name)"
	with=$(median <"$tmp/cpu_$b")
	without=$(median <"$tmp/cpu0_$b")
	idle=$(median <"$tmp/cpui_$b")
	echo "  $name run's own CPU: $with s with the children, $without s with none," \
		"$idle s over sleep as long as the loop" \
		"(rounds: $(paste -sd' ' "$tmp/cpu_$b") / $(paste -sd' ' "$tmp/cpu0_$b") / $(paste -sd' ' "$tmp/cpui_$b"));" \
		"$(awk -v a="$with" -v b="$without" -v i="$idle" -v n="$CHILDREN" 'BEGIN { printf "%.1f us per child against none, %.1f us against idle as long", (a - b) * 1e6 / n, (a - i) * 1e6 / n }')"
done
