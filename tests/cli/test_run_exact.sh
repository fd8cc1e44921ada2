#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace run's figures against the kernel's: a tree of two processes
# (tuiload and its forked child) grown from two CPUs and then held still
# (mlockall), reconciled while held; the report's per-process peaks equal
# /proc/PID/status VmHWM, and the tree's peak and its highest sum in the
# timeline equal the sum of VmRSS, to the KiB. TAP-style. Every wait polls
# for a condition with a timeout.
set -u
: "${MEMTRACE:?}" "${WORKLOADS:?}"
# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"
tap_tmpdir

status_kib() { awk -v k="$2:" '$1 == k { print $2 }' /proc/"$1"/status; }
# count_after FILE LINE PATTERN: lines matching PATTERN after line LINE of FILE
count_after() { tail -n +"$(($2 + 1))" "$1" | grep -c -- "$3"; }

plan 6
mkfifo "$tmp/in"
exec {hold}<>"$tmp/in" # tuiload holds until this, the only writer, closes
"$MEMTRACE" run -vv --reconcile 300ms --report "$tmp/run.json" -- "$WORKLOADS/tuiload" \
	--anon-mib 24 --shmem-mib 4 --file-mib 4 --threads 2 --steps 4 --step-ms 100 --fork --lock \
	--name runexact <"$tmp/in" >"$tmp/out" 2>"$tmp/err" {hold}>&- &
run_pid=$!
tap_wait_done "$tmp/out" 300 "$run_pid"
read -r done_word parent child <"$tmp/out"
if [ "${done_word:-}" != done ] || [ "${child:-0}" -eq 0 ]; then
	nok "tuiload did not hold: $(tail -3 "$tmp/err")"
	skip 5 "no held tree to compare"
	done_testing
	exit 0
fi
mark=$(wc -l <"$tmp/err")
# the kernel's figures while held (locked: nothing faults or is reclaimed)
p_rss=$(status_kib "$parent" VmRSS) p_hwm=$(status_kib "$parent" VmHWM)
c_rss=$(status_kib "$child" VmRSS) c_hwm=$(status_kib "$child" VmHWM)
# two reconciles of each after the hold (the second was submitted after it), then two polls
ok_wait=0
for _ in $(seq 300); do
	if [ "$(count_after "$tmp/err" "$mark" "reconciled pid $parent:")" -ge 2 ] &&
		[ "$(count_after "$tmp/err" "$mark" "reconciled pid $child:")" -ge 2 ]; then
		mark2=$(grep -n "reconciled pid " "$tmp/err" | tail -1 | cut -d: -f1)
		if [ "$(count_after "$tmp/err" "$mark2" "poll at ")" -ge 2 ]; then
			ok_wait=1
			break
		fi
	fi
	sleep 0.1
done
# still held now: the figures read above are still the kernel's
p_now=$(status_kib "$parent" VmRSS) c_now=$(status_kib "$child" VmRSS)
check "the tree held still while run reconciled it (VmRSS parent $p_rss -> $p_now KiB, child $c_rss -> $c_now KiB, reconciled and polled: $ok_wait)" \
	eval '[ "$ok_wait" = 1 ] && [ "$p_rss" = "$p_now" ] && [ "$c_rss" = "$c_now" ]'
exec {hold}>&-
wait "$run_pid"
rc=$?
check "run exits with the command's status (got $rc)" [ "$rc" -eq 0 ]
proc_peak() { jq -r --argjson p "$1" '.processes[] | select(.pid == $p) | .peak_rss_bytes / 1024' "$tmp/run.json"; }
ours=$(proc_peak "$parent")
check "parent's peak_rss_bytes = VmHWM (memtrace $ours KiB, kernel $p_hwm KiB)" [ "$ours" = "$p_hwm" ]
ours=$(proc_peak "$child")
check "child's peak_rss_bytes = VmHWM (memtrace $ours KiB, kernel $c_hwm KiB)" [ "$ours" = "$c_hwm" ]
sum=$((p_rss + c_rss))
ours=$(jq -r '.peak.tree_rss_bytes / 1024' "$tmp/run.json")
check "peak.tree_rss_bytes = VmRSS parent + child (memtrace $ours KiB, kernel $p_rss + $c_rss = $sum KiB)" \
	[ "$ours" = "$sum" ]
# the timeline's tree sums, corrected as the processes are (at the end the parent kills the
# child before it exits, so the last poll may have the parent alone: take the highest)
ours=$(jq -r '[.timeline[].tree_rss_bytes] | max / 1024' "$tmp/run.json")
check "timeline's highest tree_rss_bytes = VmRSS parent + child (memtrace $ours KiB, kernel $sum KiB)" \
	[ "$ours" = "$sum" ]
done_testing
