#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# top's growth sort: two processes that grow at close, wobbling rates
# (tuiload --trickle, 5% apart) and two that hold still. The order printed each
# interval must be the one the documented rule gives from the figures
# printed (key follows the 5-interval growth only out of a band of
# max(key/8, 64 KiB) or when it falls to 0; ties by RSS, then PID); the
# growers rank above the held ones; the held ones keep their RSS order; the
# growers' growth is above the band's floor and the held ones' is 0. How often the growers swapped places,
# as printed and by their raw growth, is reported.
# TAP-style. Every wait polls for a condition with a timeout.
set -u
: "${MEMTRACE:?}" "${WORKLOADS:?}"
# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"
tap_tmpdir

plan 4
# two growers 5% apart (2048 and 2150 KiB/s, each 100 ms step 0.5x..1.5x of its share), two
# held still (24 and 12 MiB); each holds (or trickles) until its fifo's only writer closes
start() { # start NAME ARGS...: tuiload with stdin from $tmp/NAME.in, stdout to $tmp/NAME.out
	local name=$1
	shift
	mkfifo "$tmp/$name.in"
	exec {fd}<>"$tmp/$name.in"
	writers+=("$fd")
	"$WORKLOADS/tuiload" --name "$name" "$@" <"$tmp/$name.in" >"$tmp/$name.out" {fd}>&- &
}
writers=()
start grow-a --anon-mib 2 --threads 1 --trickle 2048
start grow-b --anon-mib 2 --threads 1 --trickle 2150
start hold-big --anon-mib 24 --threads 1 --lock
start hold-small --anon-mib 12 --threads 1 --lock
pids=()
for name in grow-a grow-b hold-big hold-small; do
	tap_wait_done "$tmp/$name.out" 100
	read -r word pid _ <"$tmp/$name.out"
	[ "${word:-}" = done ] && pids+=("$pid")
done
if [ ${#pids[@]} -ne 4 ]; then
	nok "the four workloads did not start (${pids[*]})"
	skip 3 "no workloads"
	done_testing
	exit 0
fi
list=$(IFS=,; echo "${pids[*]}")
"$MEMTRACE" top -p "$list" --json --sort growth -i 200ms -n 30 --reconcile 0 >"$tmp/g.json" \
	2>"$tmp/g.err"
# one line per interval: the pids in printed order, and per pid "pid growth rss"
jq -c -s '[foreach .[] as $o ({rows: [], out: null};
		if $o.type == "process" then {rows: (.rows + [[$o.pid, $o.rss_growth_bytes, $o.rss_bytes]]), out: null}
		else {rows: [], out: .rows} end; .out | select(. != null))] | .[]' "$tmp/g.json" >"$tmp/intervals"
n=$(wc -l <"$tmp/intervals")
tail -n +7 "$tmp/intervals" >"$tmp/late" # from the 7th interval (window full) on
g1=${pids[0]} g2=${pids[1]} h1=${pids[2]} h2=${pids[3]}
# the rule applied to the printed figures, interval by interval, as proc_poll.c documents it
model=$(jq -r -s '
	def band(k): ([((if k < 0 then -k else k end) / 8 | floor), 65536] | max);
	reduce .[] as $rows ({key: {}, bad: [], i: 0};
		.i += 1
		| reduce $rows[] as $r (.; ($r[0] | tostring) as $p | (.key[$p] // 0) as $k
			| ($r[1] - $k) as $d
			| .key[$p] = (if ($d > band($k) or $d < -band($k) or ($r[1] == 0 and $k != 0)) then $r[1] else $k end))
		| . as $s
		| ($rows | map(.[0])) as $printed
		| ($rows | sort_by([-($s.key[.[0] | tostring]), -.[2], .[0]]) | map(.[0])) as $want
		| if $printed != $want then .bad += ["interval \(.i): printed \($printed), rule \($want)"] else . end)
	| .bad | if length == 0 then "" else (length | tostring) + " intervals differ; first: " + .[0] end' \
	"$tmp/intervals")
# order changes between the growers: as printed, and as their raw growth would have it
changes=$(jq -r -s --argjson a "$g1" --argjson b "$g2" '
	[.[] | {p: (map(.[0]) | index($a) < index($b)),
	        r: ((map(select(.[0] == $a))[0][1]) > (map(select(.[0] == $b))[0][1]))}] as $v
	| [range(1; $v | length) | select($v[.].p != $v[. - 1].p)] | length as $pc
	| [range(1; $v | length) | select($v[.].r != $v[. - 1].r)] | length as $rc
	| "\($pc) \($rc)"' "$tmp/late")
read -r printed_changes raw_changes <<<"$changes"
check "the printed order is the documented hysteresis rule's, every interval ($n intervals; with the window full the growers swapped $printed_changes times as printed, $raw_changes by raw growth${model:+; $model})" \
	eval '[ "$n" -ge 20 ] && [ -z "$model" ]'
misranked=$(jq -r --argjson a "$g1" --argjson b "$g2" \
	'map(.[0]) | select((index($a) > 1) or (index($b) > 1)) | tostring' "$tmp/late" | head -1)
check "growers rank above the held processes once the window is full (first exception: ${misranked:-none})" \
	[ -z "$misranked" ]
swapped=$(jq -r --argjson a "$h1" --argjson b "$h2" \
	'map(.[0]) | select(index($a) > index($b)) | tostring' "$tmp/late" | head -1)
check "the held ones keep their RSS order, 24 MiB above 12 MiB (first exception: ${swapped:-none})" \
	[ -z "$swapped" ]
# the known answers: the growers' 5-interval growth beyond the band's 64 KiB floor, the held
# ones' exactly 0, in every interval with the window full
figures=$(jq -r -s --argjson a "$g1" --argjson b "$g2" --argjson c "$h1" --argjson d "$h2" '
	def g(p): map(map(select(.[0] == p))[0][1]);
	"\(g($a) | min) \(g($b) | min) \(g($c) | map(if . < 0 then -. else . end) | max) \(g($d) | map(if . < 0 then -. else . end) | max)"' \
	"$tmp/late")
read -r min_a min_b max_c max_d <<<"$figures"
check "growers grow, held ones do not (least growth: grow-a $min_a, grow-b $min_b bytes; largest |growth|: hold-big $max_c, hold-small $max_d bytes)" \
	eval '[ "$min_a" -gt 65536 ] && [ "$min_b" -gt 65536 ] && [ "$max_c" -eq 0 ] && [ "$max_d" -eq 0 ]'
for fd in "${writers[@]}"; do exec {fd}>&-; done
wait 2>/dev/null
done_testing
