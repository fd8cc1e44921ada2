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
trap 'exit 1' INT TERM # the EXIT trap then turns swap off and removes the cgroup

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"
# plan counting (tests/cli/tap.sh on newer trees); these stand in where tap.sh has none
type plan >/dev/null 2>&1 || {
	plan() { :; }
	skip() { shift; echo "skip - $*"; }
	skip_rest() { echo "skip - $*"; exit 0; }
	done_testing() { :; }
}

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
plan 6
coproc WL { exec "$TUILOAD" --anon-mib 48 --shmem-mib 8 --file-mib 8 --threads 2 --steps 6 \
	--step-ms 150 --lock --name exactload; }
wl_pid=$WL_PID
"$MEMTRACE" top -p "$wl_pid" --json -i 200ms --reconcile 1s -d 30s >"$tmp/exact.json" \
	2>"$tmp/exact.err" &
top_pid=$!
read -r done_word _ <&"${WL[0]}"
held_ns=$(now_ns)
# /proc/PID/status sampled from now on, "start_ns end_ns anon file shmem swap" (KiB), the
# times taken just before and after the read by bash itself (no fork whose start-up would
# put the time stamp tens of ms away from the read on a loaded machine). --lock holds the
# workload still (nothing left to fault, nothing to reclaim), so these should never change;
# a check is made only over a span in which they did not
mkfifo "$tmp/pause"
sample_status() {
	local t0 k v rest vals pause
	exec {pause}<>"$tmp/pause" # never written: read -t on it pauses without a fork
	while [ -r "/proc/$wl_pid/status" ]; do
		t0=${EPOCHREALTIME/./} vals=""
		while read -r k v rest; do
			case $k in RssAnon: | RssFile: | RssShmem: | VmSwap:) vals+=" $v" ;; esac
		done <"/proc/$wl_pid/status"
		echo "${t0}000 ${EPOCHREALTIME/./}000$vals"
		read -rt 0.02 -u "$pause"
	done
}
sample_status >"$tmp/status.log" 2>/dev/null &
sampler=$!
# stable_match: the first corrected object whose correction (its status read, at ts_ns -
# correction_age_ns) came after the hold, with status samples that agree from one ended
# 100 ms before that read to one begun after the object's own time: the span over which the
# shown figure (counter now + offset then) and /proc agree if memtrace is exact. Prints
# "memtrace-values kernel-values drift" (KiB), or nothing
stable_match() {
	jq -r --argjson p "$wl_pid" --argjson t "$held_ns" \
		'select(.type=="process" and .pid==$p and .corrected and .correction_age_ns != null
		        and (.ts_ns - .correction_age_ns) > $t)
		 | "\(.ts_ns - .correction_age_ns) \(.ts_ns) \(.rss_anon_bytes / 1024) \(.rss_file_bytes / 1024) \(.rss_shmem_bytes / 1024) \(.swap_bytes / 1024) \(.drift_bytes)"' \
		"$tmp/exact.json" 2>/dev/null | awk -v samples="$tmp/status.log" '
		BEGIN { while ((getline line < samples) > 0) { split(line, f, " "); if (f[6] == "") continue
			n++; t0[n] = f[1]; t1[n] = f[2]; v[n] = f[3] " " f[4] " " f[5] " " f[6] } }
		{ a = 0; b = 0
		  for (i = 1; i <= n; i++) { if (t1[i] < $1 - 100000000) a = i; if (!b && t0[i] > $2) b = i }
		  if (!a || !b) next
		  same = 1
		  for (i = a; i <= b; i++) if (v[i] != v[a]) same = 0
		  if (same) { print $3 " " $4 " " $5 " " $6 " " v[a] " " $7; exit } }'
}
match=""
for _ in $(seq 200); do
	match=$(stable_match)
	[ -n "$match" ] && break
	sleep 0.1
done
if [ "$done_word" = done ] && [ -n "$match" ]; then
	read -r m_anon m_file m_shmem m_swap k_anon k_file k_shmem k_swap drift <<<"$match"
	check "after reconcile rss_anon_bytes = /proc/PID/status RssAnon (memtrace $m_anon KiB, kernel $k_anon KiB, correction drift_bytes $drift)" [ "$m_anon" = "$k_anon" ]
	check "after reconcile rss_file_bytes = /proc/PID/status RssFile (memtrace $m_file KiB, kernel $k_file KiB)" [ "$m_file" = "$k_file" ]
	check "after reconcile rss_shmem_bytes = /proc/PID/status RssShmem (memtrace $m_shmem KiB, kernel $k_shmem KiB)" [ "$m_shmem" = "$k_shmem" ]
	check "after reconcile swap_bytes = /proc/PID/status VmSwap (memtrace $m_swap KiB, kernel $k_swap KiB)" [ "$m_swap" = "$k_swap" ]
	wait_json "$tmp/exact.json" "$wl_pid" "$held_ns"
	ours=$(($(field swap_pss_bytes) / 1024))
	kernel=$(rollup_kib "$wl_pid" SwapPss)
	check "after reconcile swap_pss_bytes = smaps_rollup SwapPss (memtrace $ours KiB, kernel $kernel KiB; VmSwap $(status_kib "$wl_pid" VmSwap) KiB)" \
		[ "$ours" = "$kernel" ]
	# between reconciles: within the kernel's per-CPU batch, max(32, 2 x CPUs) pages per CPU
	want=$(($(grep -c '"type":"summary"' "$tmp/exact.json") + 5))
	for _ in $(seq 100); do
		[ "$(grep -c '"type":"summary"' "$tmp/exact.json")" -ge "$want" ] && break
		sleep 0.1
	done
	jq -c --argjson p "$wl_pid" 'select(.type=="process" and .pid==$p)' "$tmp/exact.json" |
		tail -1 >"$tmp/obj"
	ours=$(($(field rss_anon_bytes) / 1024))
	kernel=$(status_kib "$wl_pid" RssAnon)
	ncpu=$(nproc)
	batch=$((ncpu * 2 > 32 ? ncpu * 2 : 32))
	bound=$((batch * ncpu * $(getconf PAGESIZE) / 1024))
	diff=$((ours > kernel ? ours - kernel : kernel - ours))
	check "intervals later still within the per-CPU batch (rss_anon memtrace $ours KiB, kernel $kernel KiB, bound $bound KiB)" \
		[ "$diff" -le "$bound" ]
else
	nok "no reconciled process object with a stable status around it after the workload held (done='$done_word'): $(tail -2 "$tmp/exact.err")"
fi
kill "$sampler" 2>/dev/null
kill "$top_pid" 2>/dev/null
wait "$top_pid" 2>/dev/null
exec {WL[1]}>&-
wait "$wl_pid" 2>/dev/null

# --- 1b. the growth sort's window: rss_growth_bytes is the RSS change over 5 intervals
plan 1
coproc GR { exec "$TUILOAD" --anon-mib 32 --threads 2 --steps 16 --step-ms 150 --name growload; }
gr_pid=$GR_PID
"$MEMTRACE" top -p "$gr_pid" --json -i 200ms -n 14 >"$tmp/growth.json" 2>"$tmp/growth.err"
bad=$(jq -r -s --argjson p "$gr_pid" '[.[] | select(.type=="process" and .pid==$p)] as $r
	| [range(0; $r | length) | . as $i | ($r[$i].rss_bytes - $r[if $i >= 5 then $i - 5 else 0 end].rss_bytes) as $want
	   | select($r[$i].rss_growth_bytes != $want) | "\($i): \($r[$i].rss_growth_bytes) != \($want)"]
	| if ($r | length) < 10 then ["only \($r | length) objects"] else . end | join(", ")' "$tmp/growth.json")
grew=$(jq -s --argjson p "$gr_pid" '[.[] | select(.type=="process" and .pid==$p) | .rss_growth_bytes] | max' "$tmp/growth.json")
check "rss_growth_bytes = rss_bytes now - 5 intervals ago, every interval (max growth $grew bytes${bad:+; $bad})" \
	[ -z "$bad" ]
exec {GR[1]}>&-
wait "$gr_pid" 2>/dev/null

# --- 2. swap shared by a fork counted once ------------------------------------
# A private swap file and a memory cgroup limit push half of a 48 MiB
# anonymous region to swap; then the process forks, so parent and child
# share every swap entry: VmSwap is the whole swap in each, SwapPss half.
plan 8
swapfile="" cg=""
swap_cleanup() {
	if [ -n "$cg" ]; then
		for _ in $(seq 50); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done
	fi
	[ -n "$swapfile" ] && { swapoff "$swapfile" 2>/dev/null; rm -f "$swapfile"; }
	swapfile="" cg=""
}
cleanup_fns+=(swap_cleanup)
swap_setup() {
	swapfile=$(mktemp /tmp/memtrace-swap.XXXXXX) || return 1
	chmod 600 "$swapfile"
	dd if=/dev/zero of="$swapfile" bs=1M count=128 status=none || return 1
	mkswap "$swapfile" >/dev/null 2>&1 || return 1
	swapon "$swapfile" 2>"$tmp/swapon.err" || return 1
	if [ -f /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then # cgroup v1
		cg=/sys/fs/cgroup/memory/memtrace-test-$$
		mkdir "$cg" && echo 100 >"$cg/memory.swappiness" &&
			echo $((24 << 20)) >"$cg/memory.limit_in_bytes"
	elif grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then # v2
		cg=/sys/fs/cgroup/memtrace-test-$$
		mkdir "$cg" && echo $((24 << 20)) >"$cg/memory.max"
	else
		echo "no memory cgroup controller" >"$tmp/swapon.err"
		return 1
	fi
}
if ! swap_setup; then
	skip 8 "shared swap: cannot set up a swap file and a memory cgroup here ($(head -1 "$tmp/swapon.err" 2>/dev/null))"
else
	coproc SW { exec "$TUILOAD" --wait --anon-mib 48 --threads 1 --fork --name swappair; }
	sw_pid=$SW_PID
	read -r _ _ <&"${SW[0]}"
	echo "$sw_pid" >"$cg/cgroup.procs"
	echo go >&"${SW[1]}"
	read -r done_word _ child <&"${SW[0]}"
	vmswap=$(status_kib "$sw_pid" VmSwap)
	if [ "$done_word" != done ] || [ "${vmswap:-0}" -lt 8192 ]; then
		nok "shared swap: the pair did not swap (done='$done_word', VmSwap ${vmswap:-?} KiB)"
	else
		started_ns=$(now_ns)
		"$MEMTRACE" top -p "$sw_pid,$child" --json -i 200ms --reconcile 500ms -d 30s \
			>"$tmp/swap.json" 2>"$tmp/swap.err" &
		top_pid=$!
		for p in "$sw_pid" "$child"; do
			if wait_json "$tmp/swap.json" "$p" "$started_ns"; then
				ours=$(($(field swap_pss_bytes) / 1024)) raw=$(($(field swap_bytes) / 1024))
				kpss=$(rollup_kib "$p" SwapPss) kswap=$(status_kib "$p" VmSwap)
				check "pid $p: swap_pss_bytes = SwapPss (memtrace $ours KiB, kernel $kpss KiB)" \
					[ "$ours" = "$kpss" ]
				check "pid $p: swap_bytes = VmSwap (memtrace $raw KiB, kernel $kswap KiB)" \
					[ "$raw" = "$kswap" ]
				check "pid $p: shared swap is half in SwapPss (SwapPss $kpss KiB, VmSwap $kswap KiB)" \
					eval '[ $((kpss * 2)) -ge $((kswap - 8)) ] && [ $((kpss * 2)) -le $((kswap + 8)) ]'
			else
				nok "pid $p: no reconciled object: $(tail -2 "$tmp/swap.err")"
			fi
		done
		kill "$top_pid" 2>/dev/null
		wait "$top_pid" 2>/dev/null
		# the table's SWAP column: SwapPss, not twice the swap
		"$MEMTRACE" top -p "$sw_pid,$child" --batch -i 300ms --reconcile 100ms -n 3 \
			>"$tmp/swap.table" 2>&1
		col=$(awk -v p="$sw_pid" '$1 == p && $2 == "swappair" { v = $13 " " $14 } END { print v }' \
			"$tmp/swap.table")
		kpss=$(rollup_kib "$sw_pid" SwapPss)
		shown_kib=$(echo "$col" | awk '{ v = $1; u = $2
			f = u == "KiB" ? 1 : u == "MiB" ? 1024 : u == "GiB" ? 1048576 : 0; print int(v * f) }')
		check "table SWAP shows SwapPss ($col, SwapPss $kpss KiB, VmSwap $(status_kib "$sw_pid" VmSwap) KiB)" \
			eval '[ $((shown_kib * 100)) -ge $((kpss * 95)) ] && [ $((shown_kib * 100)) -le $((kpss * 105)) ]'
		first=$(awk -v p="$sw_pid" '$1 == p { print $13 " " $14; exit }' "$tmp/swap.table")
		check "before its first reconcile SWAP is marked '~' (first table: $first)" \
			eval '[[ "$first" == *"~" ]]'
	fi
	exec {SW[1]}>&-
	wait "$sw_pid" 2>/dev/null
	swap_cleanup
fi
done_testing
