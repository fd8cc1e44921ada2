#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace snapshot against the bare smaps_rollup loop (bench/smaps_loop.c)
# and smem, side by side in one run, on two populations made by
# bench/snapshot_spawn.c:
#   small: 1,000 processes, 256 KiB private each
#   large: 1,000 processes, 2 MiB private + 32 MiB shared (34 MiB RSS) each
# Prints medians, ratios, peak RSS and syscalls per process as Markdown for
# bench/README.md. Commands are run in turn, round after round, and each
# one's median is taken: other work on the machine then slows all of them
# alike instead of whichever one hyperfine happened to be running. Needs
# jq, strace, smem and GNU time; run as root so every process is readable:
#   make OUTPUT=build all build/bench/smaps_loop build/bench/snapshot_spawn
#   OUTPUT=build bench/bench_snapshot.sh [N]
# MT_BEFORE=path/to/old/memtrace adds that build beside this one, interleaved in
# the same rounds (paired ratios against the loop of each round). SMALL_ONLY=1
# skips the 34 MiB population and smem (the issue-14 target is the small one).
# METRIC=cpu times the small population's rounds by CPU time (perf stat task-clock,
# every thread of the command) instead of wall time: on a loaded machine that
# compares the work done, which is all threads can not hide there.
set -eu
OUTPUT=${OUTPUT:-build}
N=${1:-1000}
MEMTRACE=$OUTPUT/memtrace
LOOP=$OUTPUT/bench/smaps_loop
SPAWN=$OUTPUT/bench/snapshot_spawn
RUNS=${RUNS:-30}

for tool in jq strace smem $([ "${METRIC:-}" = cpu ] && echo perf); do
	command -v $tool >/dev/null || { echo "bench_snapshot: needs $tool (scripts/setup-deps.sh)" >&2; exit 1; }
done
for bin in "$MEMTRACE" "$LOOP" "$SPAWN"; do
	[ -x "$bin" ] || { echo "bench_snapshot: $bin not built (make OUTPUT=$OUTPUT all $bin)" >&2; exit 1; }
done

tmp=$(mktemp -d)
spawn_pid=
cleanup() {
	[ -n "$spawn_pid" ] && kill "$spawn_pid" 2>/dev/null
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

spawn() { # spawn N PRIVATE_KIB SHARED_MIB
	"$SPAWN" "$@" >"$tmp/spawn.out" &
	spawn_pid=$!
	for _ in $(seq 600); do
		grep -q ready "$tmp/spawn.out" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "bench_snapshot: spawner did not get ready" >&2
	exit 1
}
unspawn() {
	kill "$spawn_pid"
	wait "$spawn_pid" 2>/dev/null || true
	spawn_pid=
	sleep 1 # let the children go
}
# rounds ROUNDS CMD...: every CMD once per round, in turn; prints "round cmd ms" lines
rounds() {
	local n=$1 i r s e
	shift
	for r in $(seq "$n"); do
		i=0
		for c in "$@"; do
			if [ "${METRIC:-wall}" = cpu ]; then
				perf stat -x, -e task-clock -o "$tmp/perf" $c >/dev/null 2>&1
				echo "$r $i $(awk -F, '$3 == "task-clock" { printf "%.3f", $1 }' "$tmp/perf")"
				i=$((i + 1))
				continue
			fi
			s=$EPOCHREALTIME
			$c >/dev/null 2>&1
			e=$EPOCHREALTIME
			echo "$r $i $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", (e - s) * 1000 }')"
			i=$((i + 1))
		done
	done
}
# interleaved ROUNDS CMD...: median wall time of each CMD in ms, one per line
interleaved() {
	rounds "$@" | awk '{ print $2, $3 }' | sort -k1,1n -k2,2n | awk '
		{ v[$1, c[$1]++] = $2 }
		END { for (k = 0; k in c; k++) print v[k, int((c[k] - 1) / 2)] }'
}
# paired ROUNDS CMD...: per CMD "median_ms paired_ratio", the ratio being the median over
# the rounds of CMD's time over the first CMD's in that same round
paired() {
	rounds "$@" >"$tmp/rounds"
	awk '{ t[$1, $2] = $3; if ($2 > k) k = $2; if ($1 > r) r = $1 }
		END { for (i = 0; i <= k; i++) for (j = 1; j <= r; j++) print i, t[j, i], t[j, i] / t[j, 0] }' \
		"$tmp/rounds" | sort -k1,1n -k2,2n | awk '
		{ ms[$1, c[$1]++] = $2 }
		END { for (k = 0; k in c; k++) print k, ms[k, int((c[k] - 1) / 2)] }' >"$tmp/med"
	awk '{ t[$1, $2] = $3; if ($2 > k) k = $2; if ($1 > r) r = $1 }
		END { for (i = 0; i <= k; i++) for (j = 1; j <= r; j++) print i, t[j, i] / t[j, 0] }' \
		"$tmp/rounds" | sort -k1,1n -k2,2n | awk '
		{ q[$1, c[$1]++] = $2 }
		END { for (k = 0; k in c; k++) printf "%.3f\n", q[k, int((c[k] - 1) / 2)] }' >"$tmp/pr"
	paste -d' ' <(cut -d' ' -f2 "$tmp/med") "$tmp/pr"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

peak_rss_kib() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

syscalls_per_proc() { # prints "open read close readlink kcmp" per process
	local procs
	strace -f -c -o "$tmp/strace" "$MEMTRACE" snapshot >/dev/null 2>&1
	procs=$(ls /proc | grep -c '^[0-9]')
	for sc in openat read close readlink kcmp; do
		awk -v s=$sc -v n="$procs" '$NF == s { printf "%.2f ", $4 / n; f = 1 } END { if (!f) printf "0 " }' \
			"$tmp/strace"
	done
	echo
}

echo "## snapshot"
echo
echo "Machine: $(nproc) CPUs, $(sed -n 's/^model name\t*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)."
echo "$(date -u +%Y-%m-%d), $N processes; medians of $RUNS interleaved rounds (smem: 5);" \
	"load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
echo

# --- small processes ------------------------------------------------------------
spawn "$N" 256 0
cmds=("$LOOP" "$MEMTRACE snapshot" "$MEMTRACE snapshot --threads 1")
[ -n "${MT_BEFORE:-}" ] && cmds+=("$MT_BEFORE snapshot" "$MT_BEFORE snapshot --threads 1")
procs_now=$(ls /proc | grep -c '^[0-9]')
interleaved 3 "${cmds[@]}" >/dev/null # warm the caches
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
mapfile -t t < <(paired "$RUNS" "${cmds[@]}")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
metric=${METRIC:-wall}
METRIC=wall
read -r loop _ <<<"${t[0]}"
read -r snap snap_p <<<"${t[1]}"
read -r snap1 snap1_p <<<"${t[2]}"
if [ -n "${MT_BEFORE:-}" ]; then
	read -r before before_p <<<"${t[3]}"
	read -r before1 before1_p <<<"${t[4]}"
fi
smem=0
[ -z "${SMALL_ONLY:-}" ] && smem=$(interleaved 5 smem)
rss_small=$(peak_rss_kib "$MEMTRACE" snapshot)
read -r so sr sc sl sk <<<"$(syscalls_per_proc)"
unspawn

echo "Small population: $procs_now PIDs in /proc while it ran ($N spawned);" \
	"load average $load_before before the timed rounds, $load_after after."
echo
echo "| $N x 256 KiB, $RUNS rounds, $metric ms | median | ratio of medians | median of paired ratios |"
echo "|---|---|---|---|"
printf '| smaps_loop | %.1f ms | 1.00x | 1.00x |\n' "$loop"
printf '| memtrace snapshot | %.1f ms | %sx | %sx |\n' "$snap" "$(ratio "$snap" "$loop")" "$snap_p"
printf '| memtrace snapshot --threads 1 | %.1f ms | %sx | %sx |\n' "$snap1" "$(ratio "$snap1" "$loop")" "$snap1_p"
if [ -n "${MT_BEFORE:-}" ]; then
	printf '| before: snapshot | %.1f ms | %sx | %sx |\n' "$before" "$(ratio "$before" "$loop")" "$before_p"
	printf '| before: snapshot --threads 1 | %.1f ms | %sx | %sx |\n' "$before1" "$(ratio "$before1" "$loop")" "$before1_p"
fi
echo
echo "Peak RSS of memtrace snapshot (small): $rss_small KiB; target <= 5120 KiB."
echo "Syscalls per PID (strace -f -c, small population): openat $so, read $sr, close $sc," \
	"readlink $sl, kcmp $sk."
[ -n "${SMALL_ONLY:-}" ] && exit 0
echo

# --- processes holding real memory ---------------------------------------------
spawn "$N" 2048 32
interleaved 2 "$LOOP" "$MEMTRACE snapshot" >/dev/null
mapfile -t t < <(interleaved "$((RUNS / 3 > 5 ? RUNS / 3 : 5))" "$LOOP" "$MEMTRACE snapshot" \
	"$MEMTRACE snapshot --threads 1")
lloop=${t[0]} lsnap=${t[1]} lsnap1=${t[2]}
rss_large=$(peak_rss_kib "$MEMTRACE" snapshot)
unspawn

printf '| population | smaps_loop | memtrace snapshot | ratio | --threads 1 | ratio | smem | smem / snapshot |\n'
printf '|---|---|---|---|---|---|---|---|\n'
printf '| %d x 256 KiB | %.1f ms | %.1f ms | %sx (target <= 0.65x) | %.1f ms | %sx | %.0f ms | %sx (target >= 10x) |\n' \
	"$N" "$loop" "$snap" "$(ratio "$snap" "$loop")" "$snap1" "$(ratio "$snap1" "$loop")" \
	"$smem" "$(ratio "$smem" "$snap")"
printf '| %d x 34 MiB | %.1f ms | %.1f ms | %sx (target <= 0.7x) | %.1f ms | %sx | | |\n' \
	"$N" "$lloop" "$lsnap" "$(ratio "$lsnap" "$lloop")" "$lsnap1" "$(ratio "$lsnap1" "$lloop")"
echo
echo "Peak RSS of memtrace snapshot: $rss_small KiB (small), $rss_large KiB (large); target <= 5120 KiB."
