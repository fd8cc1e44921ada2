#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace top's figures against the kernel's exact ones: after a reconcile
# the counters shown equal /proc/PID/status (RssAnon, RssFile, RssShmem,
# VmSwap) to the KiB, for a workload grown from two CPUs and then held; and
# with shared swap, SWAP shows SwapPss, not each sharer's whole swap.
# TAP-style. Every wait polls for a condition with a timeout.
set -u
: "${MEMTRACE:?}" "${WORKLOADS:?}"
TUILOAD="$WORKLOADS/tuiload"
tmp=$(mktemp -d)
cleanup_fns=()
cleanup() {
	local f
	for f in "${cleanup_fns[@]}"; do $f; done
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"

now_ns() { date +%s%N; }
status_kib() { awk -v k="$2:" '$1 == k { print $2 }' /proc/"$1"/status; }
rollup_kib() { awk -v k="$2:" '$1 == k { print $2 }' /proc/"$1"/smaps_rollup; }

# wait_json FILE PID SINCE_NS: the first process object of PID whose smaps
# read finished after SINCE_NS (wall clock), into $tmp/obj; 20 s at most
wait_json() {
	local i
	for i in $(seq 200); do
		jq -c --argjson p "$2" --argjson t "$3" \
			'select(.type=="process" and .pid==$p and .corrected and .smaps_age_ns != null
			        and (.ts_ns - .smaps_age_ns) > $t)' "$1" 2>/dev/null | head -1 >"$tmp/obj"
		[ -s "$tmp/obj" ] && return 0
		sleep 0.1
	done
	return 1
}
field() { jq -r ".$1" "$tmp/obj"; }

# --- 1. exact after a reconcile: grown on both CPUs, then held ---------------
coproc WL { exec "$TUILOAD" --anon-mib 48 --shmem-mib 8 --file-mib 8 --threads 2 --steps 6 \
	--step-ms 150 --name exactload; }
wl_pid=$WL_PID
"$MEMTRACE" top -p "$wl_pid" --json -i 200ms --reconcile 1s -d 30s >"$tmp/exact.json" \
	2>"$tmp/exact.err" &
top_pid=$!
read -r done_word _ <&"${WL[0]}"
held_ns=$(now_ns)
if [ "$done_word" = done ] && wait_json "$tmp/exact.json" "$wl_pid" "$held_ns"; then
	for pair in rss_anon_bytes:RssAnon rss_file_bytes:RssFile rss_shmem_bytes:RssShmem \
		swap_bytes:VmSwap; do
		ours=$(($(field "${pair%%:*}") / 1024))
		kernel=$(status_kib "$wl_pid" "${pair#*:}")
		check "after reconcile ${pair%%:*} = /proc/PID/status ${pair#*:} (memtrace $ours KiB, kernel $kernel KiB, correction drift_bytes $(field drift_bytes))" \
			[ "$ours" = "$kernel" ]
	done
	ours=$(($(field swap_pss_bytes) / 1024))
	kernel=$(rollup_kib "$wl_pid" SwapPss)
	check "after reconcile swap_pss_bytes = smaps_rollup SwapPss (memtrace $ours KiB, kernel $kernel KiB; VmSwap $(status_kib "$wl_pid" VmSwap) KiB)" \
		[ "$ours" = "$kernel" ]
	# still exact at the last interval: nothing moved while it held
	want=$(($(grep -c '"type":"summary"' "$tmp/exact.json") + 5))
	for _ in $(seq 100); do
		[ "$(grep -c '"type":"summary"' "$tmp/exact.json")" -ge "$want" ] && break
		sleep 0.1
	done
	jq -c --argjson p "$wl_pid" 'select(.type=="process" and .pid==$p)' "$tmp/exact.json" |
		tail -1 >"$tmp/obj"
	ours=$(($(field rss_anon_bytes) / 1024))
	kernel=$(status_kib "$wl_pid" RssAnon)
	check "still exact intervals later (rss_anon memtrace $ours KiB, kernel $kernel KiB)" \
		[ "$ours" = "$kernel" ]
else
	nok "no reconciled process object after the workload held (done='$done_word'): $(tail -2 "$tmp/exact.err")"
fi
kill "$top_pid" 2>/dev/null
wait "$top_pid" 2>/dev/null
exec {WL[1]}>&-
wait "$wl_pid" 2>/dev/null
