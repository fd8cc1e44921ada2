#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace as root among users who plant files, inside PID namespaces and
# killed hard: outputs through a temporary file renamed into place (a
# symlink or an existing file at the target is refused without -f), file
# modes, files another user controls, the PID namespace budget, nothing
# left after SIGKILL of run, and one line for each bad input. TAP-style.
set -u
MEMTRACE=${MEMTRACE:-build/memtrace}
WORKLOADS=${WORKLOADS:-build/tests/workloads}
MIB=1048576
tmp=$(mktemp -d)
chmod 711 "$tmp" # nobody reaches $tmp/pub below, nothing else
trap 'rm -rf "$tmp"; kill $(jobs -p) 2>/dev/null' EXIT

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"
within() { # within PCT ACTUAL EXPECTED
	awk -v p="$1" -v a="$2" -v e="$3" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(d <= e * p / 100) }'
}
mode_of() { stat -c %a "$1"; }
jqe() { jq -e "$1" "$2" >/dev/null; } # jqe FILTER FILE: the filter holds

# one_line NAME STATUS ARGS...: memtrace exits STATUS with exactly one line on stderr
one_line() {
	local name=$1 want=$2
	shift 2
	plan 1
	timeout 20 "$MEMTRACE" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	local rc=$? lines
	lines=$(wc -l <"$tmp/err")
	if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ]; then
		ok "$name (exit $rc: $(cat "$tmp/err"))"
	else
		nok "$name: exit $rc (want $want), $lines lines: $(head -4 "$tmp/err" | tr '\n' '|')"
	fi
}

# ---- usage errors: one line, exit 2, for every command ----
one_line "run --max-rss 0 is refused" 2 run --max-rss 0 -- true
plan 1
grep -q "above 0" "$tmp/err" && ok "and says a budget must be above 0" || nok "no reason given: $(cat "$tmp/err")"
one_line "run --max-total-rss 0 is refused" 2 run --max-total-rss 0 -- true
one_line "snapshot -w 1ns is refused (no busy loop)" 2 snapshot -w 1ns
one_line "snapshot -w 0 is refused" 2 snapshot -w 0
for cmd in top snapshot record report run; do
	one_line "$cmd --bogus-option: one line, not argp's Try/Usage lines" 2 $cmd --bogus-option
done
one_line "report --top x (argp_usage): one line" 2 report --top x
one_line "top -i banana: one line" 2 top -i banana
one_line "report -o without -f refuses an existing file" 1 report -i "$tmp/none.data" -o "$tmp/err"

# ---- -i/--reconcile/-d/--max-procs: one parser, each command's own bounds ----
bound() { # bound "ARGS" "TEXT": one line, exit 2, naming TEXT
	# shellcheck disable=SC2086
	one_line "$1 is refused" 2 $1
	plan 1
	grep -q -- "$2" "$tmp/err" && ok "and says '$2'" || nok "'$2' not said: $(cat "$tmp/err")"
}
bound "top -i 9ms" "at least 10ms like 500ms or 2s"
bound "serve -i 99ms" "at least 100ms like 1s or 15s"
bound "run -i 9ms -- true" "at least 10ms like 100ms or 1s"
bound "top --reconcile 5x" "like 5s, or 0 to never"
bound "serve --reconcile 5x" "like 30s, or 0 to never"
bound "run --reconcile 9ms -- true" "at least 10ms like 1s, or 0 to never"
bound "top -d 0" "like 30s or 5m"
bound "serve -d 0" "like 30s or 5m"
bound "run -d 1s -- true" "invalid option"
bound "top --max-procs 15" "from 16 to 4194304"
bound "serve --max-procs 15" "from 16 to 4194304"
bound "run --max-procs 15 -- true" "from 16 to 4194304"
bound "top --max-procs 4194305" "from 16 to 4194304"

# ---- report -i of a FIFO or a directory: refused at once, no hang ----
mkfifo "$tmp/fifo"
one_line "report -i FIFO fails at once (no hang)" 1 report -i "$tmp/fifo"
plan 1
grep -q "not a regular file" "$tmp/err" && ok "and says it is not a regular file" || nok "reason: $(cat "$tmp/err")"
one_line "report -i DIRECTORY fails" 1 report -i "$tmp"

if [ "$(id -u)" -ne 0 ]; then
	skip_rest "the root-only safety tests: not root"
fi

# ---- top --cgroup must name a cgroup v2 directory ----
one_line "top --cgroup /tmp exits 2" 2 top --cgroup /tmp -n 1
plan 1
grep -q "not a cgroup v2 directory" "$tmp/err" && ok "and says not a cgroup v2 directory" ||
	nok "reason: $(cat "$tmp/err")"

# ---- outputs: planted symlinks, existing files, modes ----
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
pub=$tmp/pub # a sticky world-writable directory, like /tmp
mkdir -m 1777 "$pub"
"$MEMTRACE" record -o "$tmp/rec.data" -- /bin/true >/dev/null 2>&1
if [ -s "$tmp/rec.data" ]; then
	plan 8
	check "a recording is created 0600 (got $(mode_of "$tmp/rec.data"))" test "$(mode_of "$tmp/rec.data")" = 600
	echo secret >"$tmp/victim"
	chmod 600 "$tmp/victim"
	nobody ln -s "$tmp/victim" "$pub/report.txt"
	one_line "report -o onto a symlink planted by nobody is refused" 1 report -i "$tmp/rec.data" -o "$pub/report.txt"
	check "and its root-only target is untouched" grep -qx secret "$tmp/victim"
	"$MEMTRACE" report -i "$tmp/rec.data" -f -o "$pub/report.txt" 2>/dev/null
	check "with -f the link itself is replaced (a regular file now)" test -f "$pub/report.txt" -a ! -L "$pub/report.txt"
	check "and the target still holds its secret" grep -qx secret "$tmp/victim"
	check "the report went to the new file" grep -q "^recording " "$pub/report.txt"
	(umask 022 && "$MEMTRACE" report -i "$tmp/rec.data" -o "$tmp/r644.txt")
	(umask 077 && "$MEMTRACE" report -i "$tmp/rec.data" -o "$tmp/r600.txt")
	check "report -o follows the umask: 022 gives 644 (got $(mode_of "$tmp/r644.txt"))" test "$(mode_of "$tmp/r644.txt")" = 644
	check "report -o follows the umask: 077 gives 600 (got $(mode_of "$tmp/r600.txt"))" test "$(mode_of "$tmp/r600.txt")" = 600
	nobody mkfifo "$pub/fifo.svg"
	one_line "report -o onto a planted FIFO is refused (no hang)" 1 report -i "$tmp/rec.data" --format svg -o "$pub/fifo.svg"
	left=$(find "$pub" "$tmp" -maxdepth 1 -name '.*.tmp' | wc -l)
	check "no temporary file is left behind ($left)" test "$left" -eq 0
else
	plan 1
	nok "memtrace record -o $tmp/rec.data -- /bin/true wrote no recording"
fi

nobody ln -s "$tmp/victim" "$pub/run.json"
one_line "run --report onto a planted symlink is refused before CMD runs" 2 run --report "$pub/run.json" -- touch "$tmp/ran"
plan 3
check "and CMD did not run" test ! -e "$tmp/ran"
"$MEMTRACE" run -q -f --report "$pub/run.json" -- true 2>/dev/null
check "run -f --report replaces the link, not its target" bash -c "test -f '$pub/run.json' -a ! -L '$pub/run.json' && grep -qx secret '$tmp/victim'"
check "the run report is JSON" bash -c "jq -e .verdict '$pub/run.json' >/dev/null"

# ---- perf maps of processes gone before report: checked against the recorded user ----
if [ "$(uname -m)" = x86_64 ] && [ -x "$WORKLOADS/jitload" ]; then
	# nobody's JIT writes its own map: read after it exited (the recording names its user)
	"$MEMTRACE" record -f -o "$tmp/jit.data" -- setpriv --reuid=65534 --regid=65534 --clear-groups "$WORKLOADS/jitload" --pages 4096 \
		>"$tmp/jit.out" 2>/dev/null
	jpid=$(awk '/^pid/ { print $2 }' "$tmp/jit.out")
	"$MEMTRACE" report -i "$tmp/jit.data" --event fault >"$tmp/jit.txt" 2>"$tmp/jit.err"
	plan 4
	check "an exited process's own perf map is read: its JIT frame is named ($(grep -m1 -o '[0-9.]* MiB .*jit_touch' "$tmp/jit.txt"))" \
		grep -q "jit_touch" "$tmp/jit.txt"
	check "and the header has no refusal line ($(grep -c 'perf maps not read' "$tmp/jit.txt"))" \
		bash -c "! grep -q 'perf maps not read' '$tmp/jit.txt'"
	rm -f "/tmp/perf-$jpid.map"
	# the same workload without a map: another user (uid 12345) plants one for its PID
	"$MEMTRACE" record -f -o "$tmp/jit2.data" -- setpriv --reuid=65534 --regid=65534 --clear-groups "$WORKLOADS/jitload" --pages 4096 --no-map \
		>"$tmp/jit2.out" 2>/dev/null
	jpid=$(awk '/^pid/ { print $2 }' "$tmp/jit2.out")
	rm -f "/tmp/perf-$jpid.map"
	setpriv --reuid=12345 --regid=12345 --clear-groups sh -c "echo '7f0000000000 ffffffffff planted_name' >/tmp/perf-$jpid.map"
	"$MEMTRACE" report -i "$tmp/jit2.data" --event fault >"$tmp/jit2.txt" 2>"$tmp/jit2.err"
	check "a map planted by another user for an exited process is refused (owner $(stat -c %u "/tmp/perf-$jpid.map"), process uid 65534)" \
		bash -c "! grep -q planted_name '$tmp/jit2.txt'"
	check "with one line in the report header: $(grep 'perf maps not read' "$tmp/jit2.txt")" \
		test "$(head -5 "$tmp/jit2.txt" | grep -c "perf maps not read.*perf-$jpid.map is owned by neither root nor the process's user")" -eq 1
	rm -f "/tmp/perf-$jpid.map"
	# what nobody (the process's own user) can plant at /tmp/perf-PID.map for report as root
	echo "7f0000000000 ffffffffff root_only_name" >"$tmp/rootmap"
	chmod 600 "$tmp/rootmap"
	planted() { # planted WHAT: report of jit2.data (time-bounded) after nobody planted WHAT
		rm -f "/tmp/perf-$jpid.map"
		case $1 in
		symlink) nobody ln -s "$tmp/rootmap" "/tmp/perf-$jpid.map" ;;
		fifo) nobody mkfifo "/tmp/perf-$jpid.map" ;;
		zero) nobody ln -s /dev/zero "/tmp/perf-$jpid.map" ;;
		huge) nobody truncate -s 2G "/tmp/perf-$jpid.map" ;;
		escapes) nobody sh -c "printf '7f0000000000 ffffffffff evil\033]0;owned\007\033[2Jname\n' >/tmp/perf-$jpid.map" ;;
		esac
		timeout 60 "$MEMTRACE" report -i "$tmp/jit2.data" --event fault ${2:-} >"$tmp/pl.out" 2>"$tmp/pl.err"
		PL_RC=$?
	}
	refused() { # refused WHAT REASON LABEL: report ends at once, naming REASON, nothing read
		planted "$1"
		check "$3 (exit $PL_RC: $(grep -o 'perf maps not read.*' "$tmp/pl.out"))" \
			bash -c "[ $PL_RC -eq 0 ] && ! grep -q root_only_name '$tmp/pl.out' && grep -q '$2' '$tmp/pl.out'"
	}
	plan 6
	refused symlink "is a symbolic link" "a symlink planted by the process's user to a root-only map is not followed"
	refused fifo "is not a regular file" "a FIFO planted there does not hang report"
	refused zero "is a symbolic link" "a link to /dev/zero is refused at once, no read of it"
	refused huge "is larger than memtrace reads" "a 2 GiB (sparse) map is refused by its size"
	planted escapes
	check "escape sequences in a map's names never reach the text report raw ($(grep -o 'evil[^ ]*' "$tmp/pl.out" | head -1))" \
		bash -c "[ $PL_RC -eq 0 ] && grep -q 'evil' '$tmp/pl.out' && ! grep -q \$'\033' '$tmp/pl.out'"
	planted escapes "--format folded"
	check "nor the folded output ($(grep -o 'evil[^;]*' "$tmp/pl.out" | head -1))" \
		bash -c "[ $PL_RC -eq 0 ] && grep -q 'evil' '$tmp/pl.out' && ! grep -q \$'\033' '$tmp/pl.out'"
	rm -f "/tmp/perf-$jpid.map"
else
	skip 0 "perf maps of exited processes: the JIT workload is x86-64 only"
fi

# ---- PID namespace: the same verdict and peak as on the host ----
if unshare --pid --fork --mount-proc true 2>/dev/null; then
	plan 7
	"$MEMTRACE" run --max-rss 50M --report "$tmp/host.json" -- "$WORKLOADS/memload" --pages 25600 \
		>/dev/null 2>&1
	host_rc=$?
	unshare --pid --fork --mount-proc "$MEMTRACE" run --max-rss 50M --report "$tmp/ns.json" -- \
		"$WORKLOADS/memload" --pages 25600 >/dev/null 2>"$tmp/ns.err"
	ns_rc=$?
	check "in a PID namespace 100 MiB over --max-rss 50M exits 3 like on the host (ns $ns_rc, host $host_rc)" \
		test "$ns_rc" -eq 3 -a "$host_rc" -eq 3
	hp=$(jq -r .peak.process_rss_bytes "$tmp/host.json")
	np=$(jq -r .peak.process_rss_bytes "$tmp/ns.json")
	check "the namespace peak is the host's +-5% (ns $np, host $hp)" within 5 "$np" "$hp"
	check "it names memload by a PID of the namespace ($(jq -c '.peak | [.process_comm, .process_pid]' "$tmp/ns.json"))" \
		jqe '.peak.process_comm == "memload" and .peak.process_pid < 10 and .budgets[0].pid == .peak.process_pid' "$tmp/ns.json"
	grep -q "the largest of" "$tmp/ns.err" && ! grep -q "memtrace " <(jq -r '.processes[].comm' "$tmp/ns.json") &&
		ok "memtrace itself is not in the tree" || nok "memtrace counted in its own tree"

	# top -p with a namespace PID follows that process: figures change as it grows
	cat >"$tmp/nstop.sh" <<-SH
		exec 3<>"$tmp/go"
		"$WORKLOADS/memload" --pages 25600 --wait --hold <&3 >"$tmp/ml.out" &
		ml=\$!
		until grep -q ready "$tmp/ml.out"; do sleep 0.05; done
		"$MEMTRACE" top --json -p \$ml -i 200ms >"$tmp/nstop.json" 2>"$tmp/nstop.err" &
		tp=\$!
		until grep -q '"type":"process"' "$tmp/nstop.json" 2>/dev/null; do sleep 0.05; done
		echo x >&3
		until grep -q done "$tmp/ml.out"; do sleep 0.05; done
		# two intervals more, so that the last figures are after the growth
		n=\$(grep -c '"type":"summary"' "$tmp/nstop.json")
		until [ \$(grep -c '"type":"summary"' "$tmp/nstop.json") -ge \$((n + 2)) ]; do sleep 0.05; done
		kill -TERM \$tp
		wait \$tp
		echo \$ml >"$tmp/ml.pid"
		kill \$ml
	SH
	mkfifo "$tmp/go"
	timeout 60 unshare --pid --fork --mount-proc bash "$tmp/nstop.sh"
	first=$(jq -s '[.[] | select(.type=="process")] | first | .rss_bytes' "$tmp/nstop.json")
	last=$(jq -s '[.[] | select(.type=="process")] | last | .rss_bytes' "$tmp/nstop.json")
	pids=$(jq -s -c '[.[] | select(.type=="process") | .pid] | unique' "$tmp/nstop.json")
	check "top -p NSPID shows that process only ($pids, namespace pid $(cat "$tmp/ml.pid" 2>/dev/null))" \
		test "$pids" = "[$(cat "$tmp/ml.pid" 2>/dev/null)]"
	check "and its figures change: rss from $first to $last (100 MiB touched)" \
		bash -c "[ '$first' -lt $((20 * MIB)) ] && [ '$last' -ge $((100 * MIB)) ]"

	# plain top in a namespace lists the namespace's processes by their PIDs there, no host PID
	timeout 60 unshare --pid --fork --mount-proc bash -c \
		"'$MEMTRACE' top --json -n 2 -i 200ms >'$tmp/nsall.json' 2>/dev/null; ls /proc | grep -c '^[0-9]*\$' >'$tmp/nsall.n'"
	pids=$(jq -s -c '[.[] | select(.type=="process") | .pid] | unique' "$tmp/nsall.json")
	plan 1
	check "top in a PID namespace lists only its PIDs ($pids; the namespace had $(cat "$tmp/nsall.n") processes at the end)" \
		jq -e -s '[.[] | select(.type=="process") | .pid] | unique | length >= 1 and all(. >= 1 and . <= 8)' "$tmp/nsall.json"

	# record in a namespace: its PIDs, and the bytes the workload touched (100 MiB)
	fault_anon() { # fault_anon FILE PID: anon fault bytes recorded for PID
		"$MEMTRACE" report -i "$1" -p "$2" --format json | jq -r '.events[] | select(.event == "fault") | .class_bytes.anon'
	}
	cat >"$tmp/nsrec.sh" <<-SH
		"$MEMTRACE" record -f -o "$tmp/nsrec.data" -- sh -c 'echo \$\$ >"$tmp/nsrec.pid"; exec "$WORKLOADS/memload" --pages 25600' \
			>/dev/null 2>"$tmp/nsrec.err"
		echo \$? >"$tmp/nsrec.rc"
		"$MEMTRACE" run --report "$tmp/nsrun.json" -- "$WORKLOADS/memload" --pages 25600 >/dev/null 2>&1
		# record -p of a process already running in the namespace
		exec 3<>"$tmp/go2"
		"$WORKLOADS/memload" --pages 25600 --wait --hold <&3 3<&- >"$tmp/ml2.out" &
		ml=\$!
		until grep -q ready "$tmp/ml2.out"; do sleep 0.05; done
		"$MEMTRACE" record -v -f -o "$tmp/nsp.data" -p \$ml 2>"$tmp/nsp.err" &
		rp=\$!
		until grep -q "recording processes" "$tmp/nsp.err"; do sleep 0.05; done
		echo x >&3
		until grep -q done "$tmp/ml2.out"; do sleep 0.05; done
		awk '/^RssAnon/ { print \$2 * 1024 }' /proc/\$ml/status >"$tmp/ml2.anon"
		echo \$ml >"$tmp/ml2.pid"
		kill \$ml
		wait \$rp
		echo \$? >"$tmp/nsp.rc"
	SH
	mkfifo "$tmp/go2"
	timeout 120 unshare --pid --fork --kill-child --mount-proc bash "$tmp/nsrec.sh"
	"$MEMTRACE" record -f -o "$tmp/hostrec.data" -- "$WORKLOADS/memload" --pages 25600 >/dev/null 2>&1
	want=$((25600 * 4096))
	nspid=$(cat "$tmp/nsrec.pid")
	nsb=$(fault_anon "$tmp/nsrec.data" "$nspid")
	hostb=$("$MEMTRACE" report -i "$tmp/hostrec.data" --format json | jq -r '.events[] | select(.event == "fault") | .class_bytes.anon')
	runpeak=$(jq -r .peak.process_rss_bytes "$tmp/nsrun.json")
	plan 7
	check "record -- CMD in a PID namespace exits 0 and ends (got $(cat "$tmp/nsrec.rc"))" test "$(cat "$tmp/nsrec.rc")" = 0
	check "it records the workload under its namespace PID $nspid: anon faults $nsb B, the workload touched $want B (+-2%)" \
		within 2 "${nsb:-0}" "$want"
	check "the namespace recording is the host's +-2% (ns $nsb, host $hostb)" within 2 "${nsb:-0}" "${hostb:-0}"
	check "and agrees with run's peak in the same namespace +-5% (record $nsb, run $runpeak)" within 5 "${nsb:-0}" "$runpeak"
	mlpid=$(cat "$tmp/ml2.pid")
	pb=$(fault_anon "$tmp/nsp.data" "$mlpid")
	anon=$(cat "$tmp/ml2.anon")
	check "record -p NSPID in a namespace exits 0 (got $(cat "$tmp/nsp.rc"))" test "$(cat "$tmp/nsp.rc")" = 0
	check "record -p $mlpid records that process: anon faults $pb B, /proc RssAnon $anon B (+-2%)" \
		within 2 "${pb:-0}" "${anon:-1}"
	fault_total() { # fault_total FILE [REPORT ARGS]: fault bytes of all classes
		local f=$1
		shift
		"$MEMTRACE" report -i "$f" "$@" --format json | jq -r '.events[] | select(.event == "fault") | .total_bytes'
	}
	all=$(fault_total "$tmp/nsrec.data")
	inns=$(fault_total "$tmp/nsrec.data" -p "$(seq -s, 1 64)")
	check "every recorded byte is under a namespace PID (1-64: $inns B of $all B)" test "${inns:-0}" = "$all" -a "${all:-0}" -gt 0

	# short-lived processes keep their PIDs (the fork ring): as many as on the host
	forks='for i in $(seq 50); do /bin/true; done'
	"$MEMTRACE" run -q -f --report "$tmp/hforks.json" -- sh -c "$forks" 2>/dev/null
	timeout -s KILL 60 unshare --pid --fork --kill-child --mount-proc \
		"$MEMTRACE" run -q -f --report "$tmp/nforks.json" -- sh -c "$forks" 2>/dev/null
	hn=$(jq '.processes | length' "$tmp/hforks.json")
	nn=$(jq '.processes | length' "$tmp/nforks.json")
	plan 1
	check "run in a namespace lists every short-lived process, as on the host (ns $nn, host $hn, sh + seq + 50)" \
		test "$nn" = 52 -a "$hn" = 52

	# a /proc of another namespace would mix PIDs: refused, never a verdict
	unshare --pid --fork "$MEMTRACE" run --max-rss 50M -- true >/dev/null 2>"$tmp/np.err"
	rc=$?
	check "run with the host's /proc in a PID namespace refuses (exit $rc, $(wc -l <"$tmp/np.err") line)" \
		bash -c "[ $rc -eq 1 ] && [ \$(wc -l <'$tmp/np.err') -eq 1 ] && grep -q 'another PID namespace' '$tmp/np.err'"
else
	skip 0 "PID namespace tests: unshare --pid --fork --mount-proc is not allowed here"
fi

# ---- SIGKILL of run and record: no process and no cgroup directory left ----
count_left() { ps -eo args | grep -c -e "^sleep $1\$" -e "^$2 "; }
kill_run_test() { # kill_run_test LABEL MAX_LEFT [COMMAND]: CMD starts background, setsid and double-forked children
	local label=$1 max_left=$2 what=${3:-run} m=$((RANDOM + 400000)) marker=mt-$RANDOM-$RANDOM
	local out=/dev/null
	[ "$what" = record ] && out=$tmp/kill.data
	# -vv: the fallback guard says when the watchdog knows a process ("watching pid")
	"$MEMTRACE" $what -vv $([ "$what" = record ] && echo -f -o "$out") -- \
		bash -c "sleep $m & setsid sleep $m & (sleep $m &); exec -a $marker sleep $m" \
		>/dev/null 2>"$tmp/kill.err" &
	local mp=$! until=$((SECONDS + 180)) # deadlines: start-up on a loaded box takes long
	while [ $SECONDS -lt $until ] && [ "$(count_left $m $marker)" -lt 4 ]; do sleep 0.1; done
	if grep -q "guard: process group" "$tmp/kill.err"; then
		# the four sleeps (bash became the marker) told to the watchdog
		while [ $SECONDS -lt $until ] && [ "$(grep -c 'guard: watching' "$tmp/kill.err")" -lt 4 ]; do
			sleep 0.1
		done
	fi
	local before=$(count_left $m $marker)
	local cg=$(sed -n 's/.*run guard: cgroup //p' "$tmp/kill.err")
	kill -KILL $mp
	wait $mp 2>/dev/null
	until=$((SECONDS + 60))
	while [ $SECONDS -lt $until ] && [ "$(count_left $m $marker)" -gt "$max_left" ]; do sleep 0.1; done
	LEFT=$(count_left $m $marker) BEFORE=$before CG=$cg
	# what survived is ours to end
	ps -eo pid=,args= | awk -v m="sleep $m" -v k="$marker" '$2" "$3 == m || $2 == k { print $1 }' | xargs -r kill 2>/dev/null
}
for what in run record; do
	kill_run_test cgroup 0 $what
	if [ -n "$CG" ]; then
		plan 2
		check "SIGKILL of $what ends the tree: background, setsid and double-forked ($BEFORE before, $LEFT left)" \
			test "$BEFORE" -ge 4 -a "$LEFT" -eq 0
		for i in $(seq 50); do [ -d "$CG" ] || break; sleep 0.1; done
		check "and its cgroup directory is removed ($CG)" test ! -d "$CG"
	else
		skip 0 "the cgroup guard test: $(grep -m1 guard "$tmp/kill.err")"
	fi
done
# the fallback where cgroup v2 is read-only (as in many containers): the process group,
# and the PIDs of what left it (setsid, double fork), told to the watchdog
cgdir=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
if [ -n "$cgdir" ] && unshare --mount true 2>/dev/null; then
	export -f kill_run_test count_left
	export MEMTRACE tmp
	for what in run record; do
		unshare --mount bash -c "mount -o remount,bind,ro '$cgdir' && kill_run_test ro 0 $what && echo \"\$BEFORE \$LEFT \$CG\" >'$tmp/ro.txt'"
		read -r before left cg <"$tmp/ro.txt"
		plan 2
		check "with cgroup v2 read-only $what says it guards by process group" grep -q "run guard: process group" "$tmp/kill.err"
		check "and SIGKILL of $what ends the tree, setsid and double-forked included ($before before, $left left)" \
			test "$before" -ge 4 -a "$left" -eq 0
	done

	# a tree that forks all the time: what it started after memtrace last told the watchdog
	# (a child of a known process, an orphan in a known session) is stopped and ended too
	storm_test() { # storm_test WHAT: prints "BEFORE LEFT" for a SIGKILL of WHAT
		local what=$1 m=$((RANDOM + 600000)) i
		local loop="while :; do sleep $m & (sleep $m &); done"
		# the loop in a session of its own: only the watchdog's PIDs reach it; the log
		# exists before the wait below reads it (the shell opens it after the fork)
		: >"$tmp/storm.err"
		"$MEMTRACE" $what -vv $([ "$what" = record ] && echo -f -o "$tmp/storm.data") -- \
			bash -c "setsid bash -c '$loop' & exec sleep $m" >/dev/null 2>"$tmp/storm.err" &
		local mp=$!
		# conditions, not a count of tries: on a loaded box start-up alone can take
		# longer than a fixed window (then nothing had started: "0 of 0")
		local until=$((SECONDS + 180))
		while [ $SECONDS -lt $until ] && kill -0 $mp 2>/dev/null &&
			[ "$(grep -c 'guard: watching' "$tmp/storm.err")" -lt 10 ]; do sleep 0.1; done
		local before=$(ps -eo args= | grep -c "^sleep $m\$")
		kill -KILL $mp
		wait $mp 2>/dev/null
		until=$((SECONDS + 60))
		while [ $SECONDS -lt $until ] &&
			[ "$(ps -eo args= | grep -c -e "^sleep $m\$" -e "^bash -c $loop")" -ne 0 ]; do sleep 0.1; done
		echo "$before $(ps -eo args= | grep -c -e "^sleep $m\$" -e "^bash -c $loop")" \
			"$(grep -c 'guard: watching' "$tmp/storm.err")"
		ps -eo pid=,args= | awk -v m="sleep $m" -v l="bash -c $loop" '$2" "$3 == m || substr($0, index($0, $2)) == l { print $1 }' |
			xargs -r kill -KILL 2>/dev/null
	}
	export -f storm_test
	for what in run record; do
		unshare --mount bash -c "mount -o remount,bind,ro '$cgdir' && storm_test $what >'$tmp/storm.txt'"
		before='' left='' watched=''
		read -r before left watched <"$tmp/storm.txt"
		plan 1
		check "SIGKILL of $what while CMD's setsid tree forks all the time (fallback): $left of $before and more left ($watched PIDs told to the watchdog; $(tail -1 "$tmp/storm.err"))" \
			test "${before:-0}" -ge 5 -a "${left:-1}" -eq 0
	done

	# a child that setsid()s and double-forks is measured, judged and ended (fallback)
	W=$WORKLOADS
	export W
	cat >"$tmp/escape.sh" <<-'SH'
		mkfifo "$tmp/esc.go"
		# setsid in a child of bash (not a group leader: no fork), then a double fork
		setsid sh -c "(exec \"$W/memload\" --pages 25600 --wait --hold <>\"$tmp/esc.go\" >\"$tmp/esc.out\" &)"
		until grep -q ready "$tmp/esc.out" 2>/dev/null; do sleep 0.05; done
		echo x >"$tmp/esc.go"
		until grep -q done "$tmp/esc.out"; do sleep 0.05; done
		pid=$(sed -n 's/ready //p' "$tmp/esc.out")
		echo "$pid $(awk '{ print $6 }' /proc/$pid/stat) $(awk '{ print $6 }' /proc/$$/stat)" >"$tmp/esc.ids"
		awk '/^VmHWM/ { print $2 * 1024 }' /proc/$pid/status >"$tmp/esc.hwm"
		# memload holds on: its stdin is its own FIFO, it never sees EOF
	SH
	for guard in ro cgroup; do
		rm -f "$tmp/esc.go" "$tmp/esc.out" "$tmp/esc.ids" "$tmp/esc.json"
		remount=true
		[ $guard = ro ] && remount="mount -o remount,bind,ro '$cgdir'"
		unshare --mount bash -c "$remount && \"\$MEMTRACE\" run -v --max-rss 50M -f --report '$tmp/esc.json' -- bash '$tmp/escape.sh'" \
			>/dev/null 2>"$tmp/esc.err"
		rc=$?
		read -r epid esid bsid <"$tmp/esc.ids"
		hwm=$(cat "$tmp/esc.hwm")
		peak=$(jq -r .peak.process_rss_bytes "$tmp/esc.json")
		plan 4
		check "[$guard] the workload left CMD's session (memload session $esid, CMD's $bsid)" test "$esid" != "$bsid"
		check "[$guard] --max-rss 50M counts it: exit 3 (got $rc; $(grep -m1 'run guard' "$tmp/esc.err"))" test "$rc" -eq 3
		check "[$guard] its peak is the kernel's VmHWM +-5% (run $peak, /proc $hwm)" within 5 "$peak" "$hwm"
		for i in $(seq 50); do [ -e "/proc/$epid" ] || break; sleep 0.1; done
		check "[$guard] and it does not outlive run (pid $epid $( [ -e /proc/$epid ] && echo left || echo gone))" test ! -e "/proc/$epid"
		[ -e "/proc/$epid" ] && kill "$epid"
	done
fi

# ---- SIGHUP stops top as cleanly as SIGTERM ----
"$MEMTRACE" top --json -i 200ms >"$tmp/hup.json" 2>"$tmp/hup.err" &
tp=$!
for i in $(seq 100); do grep -q '"type":"summary"' "$tmp/hup.json" 2>/dev/null && break; sleep 0.1; done
kill -HUP $tp
wait $tp
rc=$?
plan 1
check "SIGHUP stops top with exit 0 like SIGTERM (got $rc)" test $rc -eq 0

# ---- a full procs table counts the processes lost, in processes ----
# a builtin loop: $(seq 30) would be a 32nd process, lost or not depending on whether
# its slot was reaped before the sleeps filled the table; sleeps long enough to all be
# alive together however slow the box
"$MEMTRACE" run --max-procs 16 --report "$tmp/lost.json" -- \
	sh -c 'i=0; while [ $i -lt 30 ]; do sleep 5 & i=$((i + 1)); done; wait' 2>"$tmp/lost.err"
lost=$(jq -r .losses.processes_lost "$tmp/lost.json")
plan 2
check "31 processes into a 16-entry table: 15 processes lost (got $lost)" test "$lost" = 15
check "the summary says processes" grep -q "processes_lost 15 processes" "$tmp/lost.err"
done_testing
