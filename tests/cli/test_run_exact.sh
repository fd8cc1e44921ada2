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

plan 7
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
	skip 6 "no held tree to compare"
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
# The tree peak is the kernel-kept maximum of the rss_stat counters between polls, raised to
# the corrected sum at each poll; the counters are the per-CPU counters' folded reads, each
# within max(32, 2 x CPUs) pages per CPU of the exact value (README, run: "used raw, within
# the per-CPU batch"). So never below the held sum, and above it by at most that batch for
# each of the 2 processes' 3 resident counters on each CPU.
cpus=$(nproc --all)
batch=$((2 * cpus > 32 ? 2 * cpus : 32))
slack=$((2 * 3 * cpus * batch * $(getconf PAGESIZE) / 1024))
ours=$(jq -r '.peak.tree_rss_bytes / 1024' "$tmp/run.json")
check "peak.tree_rss_bytes = VmRSS parent + child, within the per-CPU batch above (memtrace $ours KiB, kernel $p_rss + $c_rss = $sum KiB, batch bound $slack KiB)" \
	eval '[ "$ours" -ge "$sum" ] && [ "$ours" -le $((sum + slack)) ]'
# the timeline's tree sums, corrected as the processes are (at the end the parent kills the
# child before it exits, so the last poll may have the parent alone: take the highest); the
# polls while held are exact, those while growing within the same batch
ours=$(jq -r '[.timeline[].tree_rss_bytes] | max / 1024' "$tmp/run.json")
check "timeline's highest tree_rss_bytes = VmRSS parent + child, within the per-CPU batch above (memtrace $ours KiB, kernel $sum KiB, batch bound $slack KiB)" \
	eval '[ "$ours" -ge "$sum" ] && [ "$ours" -le $((sum + slack)) ]'
# and the polls while held are the kernel's figures to the KiB
held=$(jq -r --argjson b $((sum * 1024)) '[.timeline[] | select(.tree_rss_bytes == $b)] | length' \
	"$tmp/run.json")
check "the timeline holds the held tree's sum to the KiB ($held points of $sum KiB; its values: $(jq -r '[.timeline[].tree_rss_bytes / 1024] | unique | map(tostring) | join(" ")' "$tmp/run.json") KiB)" \
	[ "$held" -ge 1 ]
done_testing
