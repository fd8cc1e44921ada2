#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace run end to end: budgets under and over on workloads of known
# size (memload touches N pages, spike maps 200 MiB for 5 ms), exit codes,
# pipelines, signals, the JSON report and the /proc fallback. TAP-style.
set -u
MEMTRACE=${MEMTRACE:-build/memtrace}
WORKLOADS=${WORKLOADS:-build/tests/workloads}
MIB=1048576
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"
within() { # within PCT ACTUAL EXPECTED
	awk -v p="$1" -v a="$2" -v e="$3" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(d <= e * p / 100) }'
}
at_least() { test "$1" -ge "$2"; }
jqe() { jq -e "$1" "$2" >/dev/null; } # jqe FILTER FILE: the filter holds
run() { # run ARGS...: memtrace run, status in $rc, stderr in $tmp/err
	"$MEMTRACE" run "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# usage errors exit 2 and name the bad value
plan 9
run
check "run without a command is a usage error (exit 2, got $rc)" test $rc -eq 2
run --max-rss 12abc -- true
check "--max-rss 12abc is a usage error (exit 2, got $rc)" test $rc -eq 2
check "the error names the bad size" grep -q "invalid --max-rss '12abc'" "$tmp/err"
run --max-growth -5M -- true
check "a negative size is a usage error (exit 2, got $rc)" test $rc -eq 2
run -i banana -- true
check "--interval banana is a usage error (exit 2, got $rc)" test $rc -eq 2
run --procfs --require-bpf -- true
check "--procfs with --require-bpf is a usage error (exit 2, got $rc)" test $rc -eq 2
"$MEMTRACE" run --help >"$tmp/help"
check "run --help has EXAMPLES" grep -q EXAMPLES "$tmp/help"
check "run --help documents exit status 3" grep -q "^  3 when a budget was exceeded" "$tmp/help"
check "memtrace --help lists run" sh -c "'$MEMTRACE' --help | grep -q '^  run '"

if [ "$(id -u)" -ne 0 ]; then
	skip_rest "run tests with BPF: not root"
fi

# budgets on memload, which touches exactly --pages pages (100 MiB here)
plan 7
run --max-rss 150M -- "$WORKLOADS/memload" --pages 25600
check "100 MiB under --max-rss 150M exits 0 (got $rc)" test $rc -eq 0
check "the summary says within budget" grep -q "verdict: within budget" "$tmp/err"
run --max-rss 50M -- "$WORKLOADS/memload" --pages 25600
check "100 MiB over --max-rss 50M exits 3 (got $rc)" test $rc -eq 3
check "the summary names the budget broken" grep -q -- "--max-rss .*OVER" "$tmp/err"
run --max-rss 50M --no-fail -- "$WORKLOADS/memload" --pages 25600
check "--no-fail reports but exits with the command's 0 (got $rc)" test $rc -eq 0
check "--no-fail still says OVER BUDGET" grep -q "OVER BUDGET" "$tmp/err"
run --max-total-rss 150M --max-rss 150M -- "$WORKLOADS/memload" --pages 25600
check "two budgets both under exit 0 (got $rc)" test $rc -eq 0

# --max-pss from smaps_rollup reads on the reconcile thread
plan 4
run --max-pss 50M --reconcile 100ms --report "$tmp/pss.json" -- "$WORKLOADS/memload" --pages 25600 --sleep-ms 400
check "100 MiB private is over --max-pss 50M (exit 3, got $rc)" test $rc -eq 3
pss=$(jq -r '.peak.process_pss_bytes' "$tmp/pss.json")
check "the PSS read is 100 MiB +-3% (got $pss)" within 3 "$pss" $((100 * MIB))
# the first smaps_rollup read is asked for at the first poll, the next ones every
# --reconcile: `true` usually ends before that first read completes, but an emulated
# guest's `true` outlived it once (6.12 TCG): then PSS was measured, truthfully
run --max-pss 50M --reconcile 30s -- true
check "a command shorter than --reconcile leaves --max-pss unmeasured, not failed (got $rc)" test $rc -eq 0
if grep -q -- "--max-pss .* ok " "$tmp/err"; then
	skip 1 "not-measured summary: true outlived the first smaps_rollup read ($(grep -o -- '--max-pss .*' "$tmp/err"))"
else
	check "and the summary says it was not measured" grep -q "not measured" "$tmp/err"
fi

# the command's own status, a shell's 128+N for a signal, 127 for not found
plan 5
run -- sh -c 'exit 7'
check "the command's exit 7 is passed through (got $rc)" test $rc -eq 7
run --max-rss 1G -- sh -c 'kill -TERM $$'
check "a command killed by SIGTERM gives 143 (got $rc)" test $rc -eq 143
run -- "$tmp/no-such-command"
check "a missing command gives 127 (got $rc)" test $rc -eq 127
check "and says it cannot run it" grep -q "cannot run" "$tmp/err"
run --max-rss 50M -- sh -c "'$WORKLOADS/memload' --pages 25600; exit 9"
check "over budget wins over the command's failure: exit 3 (got $rc)" test $rc -eq 3

# a 200 MiB spike held for 5 ms between two 100 ms polls
plan 5
run --max-rss 100M -i 100ms --report "$tmp/spike.json" -- \
	"$WORKLOADS/spike" --mib 200 --hold-ms 5 --before-ms 130 --after-ms 130
check "a 200 MiB spike of 5 ms is caught by --max-rss 100M (exit 3, got $rc)" test $rc -eq 3
peak=$(jq -r '.peak.process_rss_bytes' "$tmp/spike.json")
check "the spike's peak is 200 MiB +-2% (got $peak)" within 2 "$peak" $((200 * MIB))
run --max-rss 100M --max-total-rss 100M --report "$tmp/fork.json" -- \
	"$WORKLOADS/spike" --fork --mib 200 --hold-ms 5 --before-ms 130 --after-ms 130
check "the spike in a short-lived child is caught too (exit 3, got $rc)" test $rc -eq 3
nproc=$(jq '.processes | length' "$tmp/fork.json")
check "the child is in the report (2 processes, got $nproc)" test "$nproc" -eq 2
over=$(jq -r '[.budgets[] | select(.verdict == "over")] | length' "$tmp/fork.json")
check "both the process and the tree budget are over (got $over)" test "$over" -eq 2

# a pipeline: sh, two memloads of 50 MiB resident at once (the second holds until the first
# exits); comm is taken at exec, so --name does not show
plan 4
run --max-rss 80M --max-total-rss 80M --report "$tmp/pipe.json" -- sh -c \
	"'$WORKLOADS/memload' --pages 12800 --name first --sleep-ms 300 | '$WORKLOADS/memload' --pages 12800 --name second --hold"
check "pipeline over --max-total-rss 80M exits 3 (got $rc)" test $rc -eq 3
comms=$(jq -r '[.processes[].comm] | sort | join(",")' "$tmp/pipe.json")
check "both sides of the pipe and sh are counted (got $comms)" test "$comms" = "memload,memload,sh"
tree=$(jq -r '.peak.tree_rss_bytes' "$tmp/pipe.json")
check "the tree peak holds both halves, >= 100 MiB (got $tree)" at_least "$tree" $((100 * MIB))
v=$(jq -r '.budgets[] | select(.budget == "max_rss") | .verdict' "$tmp/pipe.json")
check "while each process stays under --max-rss 80M (got $v)" test "$v" = ok

# the JSON report: parses, and its peak matches memload's 200 MiB within 2%
plan 11
run --max-rss 1G --report "$tmp/report.json" -- "$WORKLOADS/memload" --pages 51200 --sleep-ms 250
check "run --report succeeds (got $rc)" test $rc -eq 0
check "the report is valid JSON" jqe . "$tmp/report.json"
peak=$(jq -r '.peak.process_rss_bytes' "$tmp/report.json")
check "report peak is 200 MiB +-2% (got $peak)" within 2 "$peak" $((200 * MIB))
check "report has mode bpf" test "$(jq -r .mode "$tmp/report.json")" = bpf
check "report has the command" test "$(jq -r '.command[0]' "$tmp/report.json")" = "$WORKLOADS/memload"
check "report has exit status 0" test "$(jq -r .exit_status "$tmp/report.json")" = 0
check "report has a duration" jqe '.duration_ns > 250000000' "$tmp/report.json"
check "report has the budget and its verdict" \
	jqe '.budgets[0].budget == "max_rss" and .budgets[0].verdict == "ok"' "$tmp/report.json"
n=$(jq '.timeline | length' "$tmp/report.json")
check "report has a timeline at the interval (>= 2 points, got $n)" test "$n" -ge 2
tl=$(jq '[.timeline[].tree_rss_bytes] | max' "$tmp/report.json")
check "the timeline shows the 200 MiB held (got $tl)" within 2 "$tl" $((200 * MIB))
"$MEMTRACE" run -q --report - -- true >"$tmp/stdout.json" 2>/dev/null
check "--report - writes the JSON to stdout" jqe '.exit_status == 0' "$tmp/stdout.json"

# growth: memload waits for a byte on the stdin it shares with memtrace, sent once
# memtrace has taken its baseline, then touches 100 MiB and holds it until it exits
plan 3
: >"$tmp/growth.err"
(for _ in $(seq 600); do
	grep -q "growth baseline taken" "$tmp/growth.err" && break
	sleep 0.05
done; echo g) | "$MEMTRACE" run -v --max-growth 50M --report "$tmp/growth.json" -- \
	"$WORKLOADS/memload" --wait --pages 25600 --sleep-ms 400 >/dev/null 2>"$tmp/growth.err"
rc=$?
check "100 MiB grown after start is over --max-growth 50M (exit 3, got $rc)" test $rc -eq 3
g=$(jq -r '.growth.bytes' "$tmp/growth.json")
check "growth is about 100 MiB (+-5%, got $g)" within 5 "$g" $((100 * MIB))
# memload touches 100 MiB at once ("done") and holds it until its stdin closes, which
# happens once memtrace says it took the baseline; a machine so slow that the touching
# outlasts the 2 s warmup cannot tell, and says so
mkfifo "$tmp/hold"
# (memload's stdout and memtrace's stderr share one file: its lines are in the order written)
"$MEMTRACE" run -v --max-growth 50M --warmup 2s -- "$WORKLOADS/memload" --pages 25600 --hold \
	<"$tmp/hold" >"$tmp/warm.log" 2>&1 &
mpid=$!
exec {hold}>"$tmp/hold"
for _ in $(seq 1200); do
	grep -q "growth baseline taken" "$tmp/warm.log" && break
	sleep 0.05
done
touched_first=$(awk '/^done$/ { d = NR } /growth baseline taken/ { b = NR }
	END { print (d && b && d < b) ? 1 : 0 }' "$tmp/warm.log")
exec {hold}>&-
wait $mpid
rc=$?
if [ $touched_first -eq 1 ]; then
	check "memory taken before the --warmup baseline is not growth (exit 0, got $rc)" test $rc -eq 0
else
	skip 1 "--warmup check: touching 100 MiB outlasted the 2 s warmup on this machine"
fi

# SIGTERM to memtrace: forwarded, the command's status reported, nothing left behind
plan 3 # and the leftovers below
marker=$((RANDOM + 100000))
"$MEMTRACE" run -- sh -c "sleep $marker & sleep $marker & sleep $marker; wait" >/dev/null 2>"$tmp/term.err" &
mpid=$!
sleep 0.5
kill -TERM $mpid
wait $mpid
rc=$?
check "SIGTERM to memtrace ends the run with the command's 143 (got $rc)" test $rc -eq 143
sleep 0.2
left=$(pgrep -f "sleep $marker" | wc -l)
check "no process of the tree is left after SIGTERM (got $left)" test "$left" -eq 0
pkill -f "sleep $marker" 2>/dev/null

# leftovers in the group are killed when the command exits
marker=$((RANDOM + 300000))
run -- sh -c "sleep $marker & exit 0"
sleep 0.2
left=$(pgrep -f "sleep $marker" | wc -l)
check "a background child left by the command is killed at the end (got $left)" test "$left" -eq 0
pkill -f "sleep $marker" 2>/dev/null

# the /proc fallback, on purpose and for lack of privileges
plan $((5 + 4))
# memload holds its 200 MiB until memtrace has polled once after it said "done" (-vv
# says when it polls; both write to one file, so its lines are in the order written)
rm -f "$tmp/hold"
mkfifo "$tmp/hold"
"$MEMTRACE" run -vv --procfs --max-rss 100M --report "$tmp/procfs.json" -- \
	"$WORKLOADS/memload" --pages 51200 --hold <"$tmp/hold" >"$tmp/procfs.log" 2>&1 &
mpid=$!
exec {hold}>"$tmp/hold"
for _ in $(seq 1200); do
	awk '/^done$/ { d = 1 } d && /poll at [0-9]+ ms/ { found = 1 } END { exit !found }' "$tmp/procfs.log" && break
	sleep 0.05
done
exec {hold}>&-
wait $mpid
rc=$?
check "--procfs catches 200 MiB over --max-rss 100M (exit 3, got $rc)" test $rc -eq 3
check "procfs report says mode procfs" test "$(jq -r .mode "$tmp/procfs.json")" = procfs
check "procfs report states its caveat" jqe '.caveat | test("VmHWM")' "$tmp/procfs.json"
peak=$(jq -r '.peak.process_rss_bytes' "$tmp/procfs.json")
check "procfs peak (VmHWM) is 200 MiB +-2% (got $peak)" within 2 "$peak" $((200 * MIB))
run --procfs --max-rss 100M -- "$WORKLOADS/spike" --mib 200 --hold-ms 5 --before-ms 130 --after-ms 130
check "--procfs still catches a spike in a live process by VmHWM (exit 3, got $rc)" test $rc -eq 3

if command -v setpriv >/dev/null && setpriv --reuid=nobody --regid=nogroup --clear-groups true 2>/dev/null &&
	setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$MEMTRACE"; then
	nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$@"; }
	# held until memtrace polled after "done", as above
	rm -f "$tmp/hold"
	mkfifo "$tmp/hold"
	nobody "$MEMTRACE" run -vv --max-rss 50M -- "$WORKLOADS/memload" --pages 25600 --hold \
		<"$tmp/hold" >"$tmp/np.err" 2>&1 &
	mpid=$!
	exec {hold}>"$tmp/hold"
	for _ in $(seq 1200); do
		awk '/^done$/ { d = 1 } d && /poll at [0-9]+ ms/ { found = 1 } END { exit !found }' \
			"$tmp/np.err" && break
		sleep 0.05
	done
	exec {hold}>&-
	wait $mpid
	rc=$?
	check "without privileges run falls back to /proc and still exits 3 (got $rc)" test $rc -eq 3
	check "and warns that it polls /proc" grep -q "polling /proc" "$tmp/np.err"
	nobody "$MEMTRACE" run --require-bpf -- true >/dev/null 2>"$tmp/np2.err"
	rc=$?
	check "without privileges --require-bpf fails with exit 1 (got $rc)" test $rc -eq 1
	check "and says how to fix it" grep -q "CAP_BPF" "$tmp/np2.err"
else
	skip 4 "unprivileged fallback tests: cannot switch to nobody"
fi

# --attribute: call stacks recorded in run's process name the growing function
# (tests/workloads/growth: grow_64 touches 64 MiB, grow_16 16 MiB)
plan 8
run --attribute --max-rss 50M --report "$tmp/attr.json" -- "$WORKLOADS/growth"
check "--attribute keeps the verdict: growth's 80 MiB over 50M exits 3 (got $rc)" test $rc -eq 3
fn=$(jq -r '.attribution.sites[0].function' "$tmp/attr.json")
check "--attribute names grow_64 as the top growth site (got $fn)" test "$fn" = grow_64
b=$(jq -r '.attribution.sites[0].bytes' "$tmp/attr.json")
check "grow_64's site weighs 64 MiB +-5% (got $b)" within 5 "$b" $((64 * MIB))
check "the summary names grow_64 with its line" grep -q "grow_64 (growth.c:[0-9]*)" "$tmp/err"
pid=$(jq -r '.budgets[0].pid' "$tmp/attr.json")
check "the sites are the breaking process's (pid $pid)" jqe ".attribution.note | test(\"pid $pid\")" "$tmp/attr.json"
peak=$(jq -r '.peak.process_rss_bytes' "$tmp/attr.json")
check "the recorder's own memory is not counted (peak $peak < 90 MiB)" test "$peak" -lt $((90 * MIB))
run --attribute -- sh -c 'exit 7'
check "--attribute passes the command's exit 7 through (got $rc)" test $rc -eq 7
run --attribute -- sh -c 'kill -TERM $$'
check "--attribute passes a signal through as 143 (got $rc)" test $rc -eq 143
# Nothing on disk, whatever ends run: checked in a private /tmp (a mount namespace),
# since other memtrace runs on the machine may use the shared one meanwhile.
# shellcheck disable=SC2016
attr_kill='mount -t tmpfs none /tmp || exit 99
"$0" run --attribute -- sh -c "exit 7" >/dev/null 2>&1
[ $? -eq 7 ] || exit 96
[ -z "$(ls -A /tmp)" ] || exit 95
"$0" run --attribute -- $1 >/dev/null 2>&1 &
rpid=$!
for _ in $(seq 100); do pgrep -fx "$1" >/dev/null && break; sleep 0.1; done
pgrep -fx "$1" >/dev/null || exit 98
kill -KILL $rpid
wait $rpid 2>/dev/null
for _ in $(seq 50); do pgrep -fx "$1" >/dev/null || break; sleep 0.1; done
pgrep -fx "$1" >/dev/null && exit 97
exit $(ls -A /tmp | wc -l)'
marker="sleep 987.$$"
# the private /tmp hides whatever is below the real one, this tree too when it is there
attr_dir=$(mktemp -d /var/tmp/memtrace-attr.XXXXXX) # not noexec, unlike /dev/shm
attr_bin=$attr_dir/memtrace
cp "$MEMTRACE" "$attr_bin"
plan 4
if unshare -m --propagation private true 2>/dev/null; then
	unshare -m --propagation private sh -c "$attr_kill" "$attr_bin" "$marker"
	rc=$?
	check "--attribute leaves nothing in /tmp (rc $rc: 95 = left something)" test $rc -ne 95 -a $rc -ne 96
	check "run --attribute started the command ($marker; rc $rc, 98 = not started)" test $rc -ne 98
	check "SIGKILL of run --attribute takes the command with it (rc $rc, 97 = still there)" \
		test $rc -ne 97
	check "SIGKILL of run --attribute leaves nothing behind (rc $rc = entries left in /tmp)" \
		test $rc -eq 0
	pkill -KILL -fx "$marker" 2>/dev/null
else
	skip 4 "--attribute cleanup checks: no unshare -m"
fi
rm -rf "$attr_dir"

# exited children's slots are freed in the kernel (reap_run); the fallback frees as many
kids='for i in $(seq 20); do /bin/true; done'
"$MEMTRACE" run -v -- sh -c "$kids" 2>"$tmp/reap.err" >/dev/null
MEMTRACE_TEST_REAP=loader "$MEMTRACE" run -v -- sh -c "$kids" 2>"$tmp/reap_loader.err" >/dev/null
reap_line=$(grep -m1 "exited processes' slots" "$tmp/reap.err")
loader_line=$(grep -m1 "exited processes' slots" "$tmp/reap_loader.err")
counts='s/.*reaped \([0-9]*\) .* kernel, \([0-9]*\) from.*/\1 \2/p'
in_kernel='' by_loader='' l_kernel='' l_loader='' # no /dev/fd in the vm guests: no <(...)
read -r in_kernel by_loader <<<"$(echo "$reap_line" | sed -n "$counts")"
read -r l_kernel l_loader <<<"$(echo "$loader_line" | sed -n "$counts")"
plan 2
check "20 children reaped in the kernel, none from user space (${reap_line:-no line})" \
	test "${in_kernel:-0}" -ge 20 -a "${by_loader:-1}" -eq 0
check "MEMTRACE_TEST_REAP=loader: as many from user space ($l_loader), none in the kernel ($l_kernel; reap_run $in_kernel)" \
	test "${l_kernel:-1}" -eq 0 -a "${l_loader:-0}" -ge 20

done_testing
