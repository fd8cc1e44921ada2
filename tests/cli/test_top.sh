#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace top from the outside: exit codes, one-line errors, valid NDJSON
# for any process name, clean detach on SIGINT/SIGTERM/SIGKILL, the exited
# workload leaving the output. Prints TAP-style lines.
set -u
: "${MEMTRACE:?}" "${WORKLOADS:?}"
MEMLOAD="$WORKLOADS/memload"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null' EXIT

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"
# jqe ARGS...: the filter holds (for check). Filters over several objects
# slurp (-s): jq 1.6's -e judges the last input's output only.
jqe() { jq -e "$@" >/dev/null; }

# usage_error NAME ARGS...: exit 2 and exactly one line on stderr naming the problem
usage_error() {
	local name=$1
	shift
	"$MEMTRACE" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$? lines
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -eq 2 ] && [ "$lines" -ge 1 ] && [ -s "$tmp/err" ]; then
		ok "$name (exit 2: $(head -1 "$tmp/err"))"
	else
		nok "$name: exit $rc, stderr: $(head -3 "$tmp/err")"
	fi
}

plan 13
usage_error "unknown command" frobnicate
usage_error "prefix of a command is not a command" to
usage_error "unknown option" top --frobnicate
usage_error "bad interval" top -i banana
usage_error "interval with trailing junk" top -i 12abc
usage_error "negative duration" top -d -5s
usage_error "zero iterations" top -n 0
usage_error "bad sort key" top --sort size
usage_error "comm too long" top -c abcdefghijklmnopq
usage_error "pid that does not exist" top -p 999999999
usage_error "pid list with junk" top -p 12,abc
usage_error "cgroup that does not exist" top --cgroup /sys/fs/cgroup/no-such-group
usage_error "stray argument" top extra

plan 13
"$MEMTRACE" top -i banana 2>"$tmp/err"
check "bad value is named in the message" grep -q "banana" "$tmp/err"

check "--help exits 0" eval '"$MEMTRACE" top --help >/dev/null'
"$MEMTRACE" top --help >"$tmp/help"
check "--help has EXAMPLES" grep -q EXAMPLES "$tmp/help"
for opt in --pid --comm --cgroup --interval --reconcile --duration --iterations --sort --json --max-procs; do
	check "--help documents $opt" grep -q -- "$opt" "$tmp/help"
done

# Not root: one line, exit 1 (setpriv drops to nobody without capabilities).
plan 1
if ! command -v setpriv >/dev/null; then
	skip 1 "unprivileged check: no setpriv"
else
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$MEMTRACE" top -n 1 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 1 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "CAP_BPF" "$tmp/err"; then
		ok "unprivileged: one line, exit 1"
	else
		nok "unprivileged: exit $rc, stderr: $(cat "$tmp/err")"
	fi
fi

# A name with a quote, a backslash, a newline, a control byte and invalid UTF-8.
weird=$(printf 'a"b\\c\nd\001\377e')
plan $((6 + 18))
coproc WL { exec "$MEMLOAD" --name "$weird" --pages 256 --wait --hold; }
read -r ready pid <&"${WL[0]}"
"$MEMTRACE" top -p "$pid" --json -i 200ms -n 2 >"$tmp/json" 2>"$tmp/err"
rc=$?
check "json run exits 0" [ $rc -eq 0 ]
check "every line is valid JSON" jqe . "$tmp/json"
check "weird comm survives as a string" \
	jqe -s --argjson p "$pid" 'map(select(.type=="process" and .pid==$p)) | length > 0 and all(.comm | type == "string")' "$tmp/json"
check "one process object per interval for -p" \
	[ "$(jq -c 'select(.type=="process")' "$tmp/json" | wc -l)" -eq 2 ]
check "summary object per interval with drop counters" \
	[ "$(jq -c 'select(.type=="summary") | .drops' "$tmp/json" | wc -l)" -eq 2 ]
for f in ts_ns pid comm rss_bytes rss_anon_bytes rss_file_bytes rss_shmem_bytes swap_bytes \
	rss_peak_bytes faults mmap_calls mmap_bytes munmap_calls munmap_bytes brk_bytes pss_bytes \
	private_bytes drift_bytes; do
	check "process object has $f" \
		jqe -s --arg f "$f" 'map(select(.type=="process")) | length > 0 and all(has($f))' "$tmp/json"
done
check "smaps fields null before the first reconcile" \
	jqe -s '[.[] | select(.type=="process")][0].pss_bytes == null' "$tmp/json"

# The exited workload is reported once as exited, then leaves the output.
plan 3
"$MEMTRACE" top -p "$pid" --json -i 300ms >"$tmp/exit.json" 2>/dev/null &
tpid=$!
# wait_summaries N: until N summaries are out (each interval ends with one), up to 60 s
wait_summaries() {
	for _ in $(seq 600); do
		[ "$(grep -c '"type":"summary"' "$tmp/exit.json")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# the workload exits once the first interval is out (attaching may be slow); top
# stops two intervals after it reported the exit, however long that took
wait_summaries 1
echo go >&"${WL[1]}"
exec {WL[1]}>&-
for _ in $(seq 600); do
	grep -q '"exited":true' "$tmp/exit.json" && break
	sleep 0.1
done
wait_summaries $(($(grep -c '"type":"summary"' "$tmp/exit.json") + 2))
kill -INT $tpid
wait $tpid
check "exited workload reported as exited" \
	jqe -s --argjson p "$pid" 'any(.[]; .type=="process" and .pid==$p and .exited==true)' "$tmp/exit.json"
check "exited workload reported exactly once as exited" \
	[ "$(jq -c --argjson p "$pid" 'select(.type=="process" and .pid==$p and .exited)' "$tmp/exit.json" | wc -l)" -eq 1 ]
last_ts=$(jq -s '[.[] | select(.type=="summary")] | last | .ts_ns' "$tmp/exit.json")
check "exited workload gone from the last interval" \
	[ "$(jq -c --argjson p "$pid" --argjson t "$last_ts" 'select(.type=="process" and .pid==$p and .ts_ns==$t)' "$tmp/exit.json" | wc -l)" -eq 0 ]

# Signals: clean exit 0 and nothing of ours left loaded. Other tracers may
# run beside us, so check the very program IDs that this memtrace held.
prog_ids_of() {
	local fd
	for fd in /proc/"$1"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:bpf-prog" ] &&
			awk '/^prog_id:/ {print $2}' /proc/"$1"/fdinfo/"${fd##*/}"
	done
}
any_loaded() {
	local id
	for id in "$@"; do
		bpftool prog show id "$id" >/dev/null 2>&1 && return 0
	done
	return 1
}
plan 5 # exit status for INT and TERM, nothing left loaded for all three
for sig in INT TERM KILL; do
	: >"$tmp/sig.out"
	"$MEMTRACE" top --json -i 200ms >"$tmp/sig.out" 2>"$tmp/err" &
	p=$!
	# attached once the first interval is out (loading may be slow on a busy machine)
	for _ in $(seq 100); do
		[ -s "$tmp/sig.out" ] && break
		sleep 0.1
	done
	ids=$(prog_ids_of $p)
	kill -s $sig $p
	wait $p 2>/dev/null
	rc=$?
	[ $sig != KILL ] && check "SIG$sig exits 0 (got $rc)" [ $rc -eq 0 ]
	# the kernel frees programs after an RCU grace period: give it up to 5 s
	for _ in $(seq 50); do
		# shellcheck disable=SC2086 # one ID per word
		any_loaded $ids || break
		sleep 0.1
	done
	# shellcheck disable=SC2086 # one ID per word
	check "SIG$sig: held $(echo $ids | wc -w) programs, none left loaded" \
		eval '[ -n "$ids" ] && ! any_loaded $ids'
done

# A table in batch mode, human units.
plan 2
"$MEMTRACE" top --batch -n 1 -i 200ms >"$tmp/table" 2>&1
check "batch table has a header" grep -q "PID COMMAND" "$tmp/table"
check "batch table uses binary units" grep -qE "[0-9.]+ (KiB|MiB|GiB)" "$tmp/table"

# Closing the pipe early is not an error.
plan 1
"$MEMTRACE" top --json -i 100ms 2>"$tmp/err" | head -1 >/dev/null
rc=${PIPESTATUS[0]}
check "early-closed pipe exits 0 (got $rc)" [ "$rc" -eq 0 ]

# --version -v prints the feature table.
plan 3
"$MEMTRACE" --version -v >"$tmp/ver"
check "--version -v shows tp_btf support" grep -q "tp_btf/rss_stat" "$tmp/ver"
check "--version -v names the rung each hook takes, found by loading" \
	test "$(grep -cE '^hook (page_fault_user|rss_stat|syscalls|sched_process_(fork|exec|exit)) +(tp_btf|fexit|tracepoint|raw_tp|perf_event)' "$tmp/ver")" -eq 6

# -v: every hook's rung in one line, a line per hook below its best, and no libbpf
# output (its warnings and the verifier's log are for -vv)
"$MEMTRACE" top -v --batch -n 1 -i 100ms >/dev/null 2>"$tmp/v.err"
check "-v: one attach line, one line per fallback, no libbpf log ($(grep -c . "$tmp/v.err") lines)" \
	bash -c "[ \$(grep -c '^attach: page_fault_user: ' '$tmp/v.err') -eq 1 ] &&
		! grep -q 'libbpf\|PROG LOAD LOG' '$tmp/v.err' &&
		[ \$(grep -c 'below its best rung' '$tmp/v.err') -eq \$(grep -c '^hook .* (' '$tmp/ver') ]"

# A process started before top, seeded from /proc, whose first event is a brk:
# its break is read at seeding (a task iterator), so the move is counted exactly
# and nothing goes to brk_base_unknown. Checked against the kernel's [heap].
plan 2
# heap_bytes PID: the size of its [heap] mapping (start_brk to the break, paged), 0 when none
heap_bytes() {
	local r
	r=$(grep '\[heap\]$' "/proc/$1/maps" | cut -d' ' -f1)
	if [ -n "$r" ]; then echo $((0x${r#*-} - 0x${r%-*})); else echo 0; fi
}
mkfifo "$tmp/brk.in"
exec {brkw}<>"$tmp/brk.in"
"$MEMLOAD" --wait --hold --brk-early --brk 2109440 --name mtbrkseed <"$tmp/brk.in" \
	>"$tmp/brk.out" {brkw}>&- &
brkp=$!
for _ in $(seq 100); do
	grep -q '^ready ' "$tmp/brk.out" && break
	sleep 0.1
done
h0=$(heap_bytes $brkp)
"$MEMTRACE" top -c mtbrkseed --json -i 200ms -n 10 >"$tmp/brk.json" 2>"$tmp/brk.err" &
topp=$!
for _ in $(seq 100); do
	grep -q '"type":"summary"' "$tmp/brk.json" && break
	sleep 0.1
done
printf go >&$brkw
for _ in $(seq 100); do
	grep -q '^done' "$tmp/brk.out" && break
	sleep 0.1
done
h1=$(heap_bytes $brkp)
wait $topp
exec {brkw}>&-
wait $brkp
grew=$((h1 - h0))
got=$(jq -s -r "[.[] | select(.type == \"process\" and .pid == $brkp)] | last | .brk_bytes" "$tmp/brk.json")
check "seeded process's first brk counted exactly: 2109440 (memtrace $got, kernel's [heap] grew $h0 -> $h1)" \
	test "$got" = 2109440 -a "$grew" = 2109440
lost=$(jq -s -r '[.[] | select(.type == "summary")] | last | .drops.brk_base_unknown' "$tmp/brk.json")
check "... and nothing counted as brk_base_unknown (got $lost)" test "$lost" = 0

done_testing
