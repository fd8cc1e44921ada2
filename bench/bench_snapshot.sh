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
set -eu
OUTPUT=${OUTPUT:-build}
N=${1:-1000}
MEMTRACE=$OUTPUT/memtrace
LOOP=$OUTPUT/bench/smaps_loop
SPAWN=$OUTPUT/bench/snapshot_spawn
RUNS=${RUNS:-30}

for tool in jq strace smem; do
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
# interleaved ROUNDS CMD...: median wall time of each CMD in ms, one per line
interleaved() {
	local rounds=$1 i r s e
	shift
	for r in $(seq "$rounds"); do
		i=0
		for c in "$@"; do
			s=$EPOCHREALTIME
			$c >/dev/null 2>&1
			e=$EPOCHREALTIME
			echo "$i $(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", (e - s) * 1000 }')"
			i=$((i + 1))
		done
	done | sort -k1,1n -k2,2n | awk -v r="$rounds" '
		{ n[$1]++; if (n[$1] == int((r + 1) / 2)) m[$1] = $2 }
		END { for (k = 0; k in m; k++) print m[k] }'
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
interleaved 3 "$LOOP" "$MEMTRACE snapshot" >/dev/null # warm the caches
mapfile -t t < <(interleaved "$RUNS" "$LOOP" "$MEMTRACE snapshot" "$MEMTRACE snapshot --threads 1")
loop=${t[0]} snap=${t[1]} snap1=${t[2]}
smem=$(interleaved 5 smem)
rss_small=$(peak_rss_kib "$MEMTRACE" snapshot)
read -r so sr sc sl sk <<<"$(syscalls_per_proc)"
unspawn

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
printf '| %d x 256 KiB | %.1f ms | %.1f ms | %sx (target <= 1.3x) | %.1f ms | %sx | %.0f ms | %sx (target >= 10x) |\n' \
	"$N" "$loop" "$snap" "$(ratio "$snap" "$loop")" "$snap1" "$(ratio "$snap1" "$loop")" \
	"$smem" "$(ratio "$smem" "$snap")"
printf '| %d x 34 MiB | %.1f ms | %.1f ms | %sx (target <= 0.7x) | %.1f ms | %sx | | |\n' \
	"$N" "$lloop" "$lsnap" "$(ratio "$lsnap" "$lloop")" "$lsnap1" "$(ratio "$lsnap1" "$lloop")"
echo
echo "Peak RSS of memtrace snapshot: $rss_small KiB (small), $rss_large KiB (large); target <= 5120 KiB."
echo
echo "Syscalls per process (strace -f -c, small population): openat $so, read $sr, close $sc," \
	"readlink $sl, kcmp $sk."
