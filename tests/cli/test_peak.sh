#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# report's peak view of record --malloc, end to end on
# tests/workloads/malloc_peak_nofp (-O2, no frame pointers), whose answers
# it prints itself: A = 24 MiB at site_a and B = 8 MiB at site_b, then all
# of A freed and C = 16 MiB allocated at site_c, so the peak holds A + B
# (site_a and site_b only) and the end B + C. Checked against the
# workload, against the end's view, and against heaptrack_print's peak.
# TAP-style lines.
set -u
MEMTRACE=${MEMTRACE:-build/memtrace}
WORKLOADS=${WORKLOADS:-build/tests/workloads}
SEED=tests/fuzz/seeds/recording/peak.data
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"
within() { # within PERCENT ACTUAL EXPECTED (both numbers, EXPECTED > 0)
	awk -v p="$1" -v a="$2" -v e="$3" 'BEGIN { if (a !~ /^-?[0-9]+$/ || e !~ /^[0-9]+$/ || e == 0) exit 1
		d = a - e; if (d < 0) d = -d; exit !(d <= e * p / 100) }'
}
between() { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x ~ /^[0-9]+$/ && x >= lo && x <= hi) }'; }

# ---- usage errors and a recording made by hand (no root needed) ----
plan 5
"$MEMTRACE" report -i "$SEED" --peak --diff "$SEED" >/dev/null 2>"$tmp/e1"
rc=$?
check "--peak with --diff: usage error, exit 2, one line (got $rc: $(head -1 "$tmp/e1"))" \
	test $rc -eq 2 -a "$(wc -l <"$tmp/e1")" -eq 1
"$MEMTRACE" report -i "$SEED" --peak --event fault >/dev/null 2>"$tmp/e2"
rc=$?
check "--peak with --event fault: usage error, exit 2 (got $rc: $(head -1 "$tmp/e2"))" test $rc -eq 2
"$MEMTRACE" report -i "$SEED" --format json >"$tmp/seed.json" 2>/dev/null
got=$(jq -c '[.peaks[] | [.scope, .bytes, .blocks, .end_bytes]]' "$tmp/seed.json")
check "the peak records come back as written (got $got)" \
	test "$got" = '[["process",3000,3,300],["all",3000,3,300]]'
got=$(jq -r '[.events[] | select(.event == "malloc") | .total_bytes] | add' "$tmp/seed.json")
check "the end's view ignores the peak-only capture: 300 B outstanding (got $got)" test "$got" = 300
"$MEMTRACE" report -i "$SEED" --peak >"$tmp/seed.txt" 2>&1
check "--peak text names the peak (2.9 KiB in 3 blocks)" grep -q "2.9 KiB in 3 blocks" "$tmp/seed.txt"

if [ "$(id -u)" -ne 0 ]; then
	skip_rest "record --malloc needs root"
fi
w=$WORKLOADS/malloc_peak_nofp

# ---- the peak of a known heap ----
plan 11
"$MEMTRACE" record -f -o "$tmp/p.data" --malloc --sample-bytes 4K -- "$w" >"$tmp/answer" \
	2>"$tmp/p.err"
check "record --malloc -- malloc_peak_nofp succeeds" test $? -eq 0
"$MEMTRACE" report -i "$tmp/p.data" --format json >"$tmp/p.json" 2>"$tmp/r.err"
proc() { jq -r "[.peaks[] | select(.scope == \"process\")][0]$1" "$tmp/p.json"; }
want=$(awk '$1 == "peak" { print $2 }' "$tmp/answer")
peak=$(proc .bytes)
# exact: every malloc and free counted in order; what the C library allocates before main is
# the only slack (a few blocks, none during the workload's peak)
check "peak bytes are the workload's A + B: $want <= peak <= $want + 64 KiB (got $peak)" \
	between "$peak" "$want" $((want + 65536))
blocks=$(proc .blocks)
check "blocks at the peak: the workload's 512 (+ what libc took before main) (got $blocks)" \
	between "$blocks" 512 520
t=$(proc .time_ns)
dur=$(jq -r .duration_ns "$tmp/p.json")
check "the peak's time lies inside the recording: 0 < $t <= $dur ns" \
	awk -v t="$t" -v d="$dur" 'BEGIN { exit !(t ~ /^[0-9]+$/ && t > 0 && t <= d) }'
psite() { jq -r --arg f "$1" '[.peaks[] | select(.scope == "process")][0] | [.sites[] | select(.function == $f) | .bytes] | add // 0' "$tmp/p.json"; }
for s in site_a site_b; do
	got=$(psite $s)
	exp=$(awk -v s=$s '$1 == s { print $2 }' "$tmp/answer")
	check "$s at the peak holds what the workload says, +-2% (got $got, workload $exp)" \
		within 2 "$got" "$exp"
done
got=$(psite site_c)
check "site_c had allocated nothing yet at the peak (got $got)" test "$got" -lt 65536
esite() { jq -r --arg f "$1" '[.events[] | select(.event == "malloc") | .sites[] | select(.function == $f) | .bytes] | add // 0' "$tmp/p.json"; }
got_c=$(esite site_c)
got_a=$(esite site_a)
check "the end's view still holds site_c's 16 MiB (+-2%) and nothing of site_a (got $got_c, $got_a)" \
	eval 'within 2 "$got_c" 16777216 && [ "$got_a" -lt 65536 ]'
all=$(jq -r '[.peaks[] | select(.scope == "all")][0].bytes' "$tmp/p.json")
check "one process: the overall peak is its peak (got $all, process $peak)" test "$all" = "$peak"
"$MEMTRACE" report -i "$tmp/p.data" --peak --format folded >"$tmp/p.folded" 2>/dev/null
sum=$(awk '{ s += $NF } END { print s + 0 }' "$tmp/p.folded")
check "--peak folded stacks add up to the exact peak (got $sum, peak $peak)" test "$sum" = "$peak"
"$MEMTRACE" report -i "$tmp/p.data" --peak >"$tmp/p.txt" 2>/dev/null
check "--peak text shows site_a at the peak" grep -q "site_a+0x" "$tmp/p.txt"

# ---- pprof: sample type peak ----
plan 1
if ! command -v go >/dev/null; then
	skip 1 "pprof check: go not installed"
else
	"$MEMTRACE" report -i "$tmp/p.data" --format pprof -o "$tmp/p.pb.gz" -f 2>/dev/null
	got=$(timeout 120 go tool pprof -sample_index=peak -top -unit=B "$tmp/p.pb.gz" 2>/dev/null |
		awk '$NF == "site_a" { sub(/B$/, "", $1); print $1 }')
	check "go tool pprof -sample_index=peak: site_a as the JSON says (pprof $got, JSON $(psite site_a))" \
		test "$got" = "$(psite site_a)"
fi

# ---- --unwind fp: the same exact peak, no sites ----
plan 2
"$MEMTRACE" record -f -o "$tmp/fp.data" --malloc --unwind fp -- "$w" >/dev/null 2>&1
"$MEMTRACE" report -i "$tmp/fp.data" --format json >"$tmp/fp.json" 2>/dev/null
fpeak=$(jq -r '[.peaks[] | select(.scope == "process")][0].bytes' "$tmp/fp.json")
check "--unwind fp: the same peak, exact both ways (fp $fpeak, dwarf $peak)" \
	between "$fpeak" "$want" $((want + 65536))
got=$(jq -r '[.peaks[] | select(.scope == "process")][0].sites_known' "$tmp/fp.json")
check "--unwind fp: sites at the peak are unknown, not borrowed (sites_known $got)" test "$got" = false

# ---- a recording without --malloc has no peak ----
plan 1
"$MEMTRACE" record -f -o "$tmp/n.data" -- /bin/true >/dev/null 2>&1
"$MEMTRACE" report -i "$tmp/n.data" --peak >/dev/null 2>"$tmp/n.err"
rc=$?
check "--peak on a recording without --malloc: exit 1, one line (got $rc: $(head -1 "$tmp/n.err"))" \
	test $rc -eq 1 -a "$(wc -l <"$tmp/n.err")" -eq 1

# ---- heaptrack, the reference ----
plan 2
if ! command -v heaptrack >/dev/null || ! command -v heaptrack_print >/dev/null; then
	skip 2 "heaptrack checks: heaptrack not installed (scripts/setup-deps.sh)"
else
	aw=$(readlink -f "$w")
	(cd "$tmp" && heaptrack -o "$tmp/ht" "$aw" >/dev/null 2>&1)
	heaptrack_print -f "$tmp"/ht.* >"$tmp/ht.txt" 2>/dev/null
	# heaptrack prints 1000-based units with 4 digits: 33.63M
	num() { awk '{ v = $1; u = substr(v, length(v)); n = v + 0
		f = u == "K" ? 1e3 : u == "M" ? 1e6 : u == "G" ? 1e9 : 1; printf "%d\n", n * f }'; }
	ht=$(sed -n 's/^peak heap memory consumption: \(.*\)$/\1/p' "$tmp/ht.txt" | num)
	# heaptrack's own library pulls in libstdc++, whose 72 KiB emergency pool is in its peak
	check "peak vs heaptrack_print's peak, +-1% (memtrace $peak, heaptrack $ht)" within 1 "$peak" "$ht"
	hta=$(grep -A1 'peak memory consumed over' "$tmp/ht.txt" | grep -B1 '^site_a$' | head -1 | num)
	check "site_a at the peak vs heaptrack's PEAK MEMORY CONSUMERS, +-1% (memtrace $(psite site_a), heaptrack $hta)" \
		within 1 "$(psite site_a)" "$hta"
fi
done_testing
