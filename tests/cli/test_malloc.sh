#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# record --malloc end to end on tests/workloads/malloc_nofp (-O2, no frame
# pointers), whose answers it prints itself: keep_big holds 24 MiB and
# keep_small 8 MiB in 64 KiB blocks, churn_temp frees all it takes. A
# process outside the recording churns malloc meanwhile and must add
# nothing. TAP-style lines.
set -u
MEMTRACE=${MEMTRACE:-build/memtrace}
WORKLOADS=${WORKLOADS:-build/tests/workloads}
MIB=1048576
tmp=$(mktemp -d)
outsider=
cleanup() {
	[ -n "$outsider" ] && kill "$outsider" 2>/dev/null && wait "$outsider" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"
within() { # within PERCENT ACTUAL EXPECTED (both numbers, EXPECTED > 0)
	awk -v p="$1" -v a="$2" -v e="$3" 'BEGIN { if (a !~ /^-?[0-9]+$/ || e !~ /^[0-9]+$/ || e == 0) exit 1
		d = a - e; if (d < 0) d = -d; exit !(d <= e * p / 100) }'
}
if [ "$(id -u)" -ne 0 ]; then
	skip_rest "record --malloc needs root"
fi
w=$WORKLOADS/malloc_nofp

plan 7
# the outsider: malloc churn in its own process, started before the recording
"$w" spin >/dev/null 2>&1 &
outsider=$!
"$MEMTRACE" record -f -o "$tmp/m.data" --malloc --sample-bytes 4K -- "$w" callers \
	>"$tmp/answer" 2>"$tmp/m.err"
check "record --malloc -- malloc_nofp callers succeeds" test $? -eq 0
kill -0 "$outsider" 2>/dev/null
check "the outsider was churning all along" test $? -eq 0
filtered=$(sed -n 's/.* \([0-9]*\) calls from other processes filtered/\1/p' "$tmp/m.err")
check "uprobes for the recorded process only: 0 calls from others reached them (got '$filtered')" \
	test "$filtered" = 0
"$MEMTRACE" report -i "$tmp/m.data" --event malloc --format json >"$tmp/m.json" 2>/dev/null
total=$(jq -r '[.events[] | select(.event == "malloc") | .total_bytes] | add // 0' "$tmp/m.json")
want=$(awk '{ s += $2 } END { print s }' "$tmp/answer")
# the workload's 32 MiB and stdio's buffer, nothing of the outsider's
check "outstanding bytes are the workload's own: $want + stdio <= 64 KiB (got $total)" \
	awk -v t="$total" -v w="$want" 'BEGIN { exit !(t >= w && t <= w + 65536) }'
site() { jq -r --arg f "$1" '[.events[0].sites[] | select(.function == $f) | .bytes] | add // 0' "$tmp/m.json"; }
big=$(site keep_big)
small=$(site keep_small)
wbig=$(awk '$1 == "keep_big" { print $2 }' "$tmp/answer")
wsmall=$(awk '$1 == "keep_small" { print $2 }' "$tmp/answer")
check "frameless keep_big holds what the workload says, +-2% (got $big, workload $wbig)" \
	within 2 "$big" "$wbig"
check "frameless keep_small holds what the workload says, +-2% (got $small, workload $wsmall)" \
	within 2 "$small" "$wsmall"
churn=$(site churn_temp)
check "churn_temp freed every block: no outstanding share (got $churn)" \
	awk -v c="$churn" 'BEGIN { exit !(c < 65536) }'
kill "$outsider" 2>/dev/null
wait "$outsider" 2>/dev/null
outsider=

plan 2
# the fp mode keeps exact per-stack books; the default (dwarf) shares by captures
"$MEMTRACE" record -f -o "$tmp/fp.data" --malloc --unwind fp -- "$w" callers >/dev/null 2>&1
check "record --malloc --unwind fp succeeds" test $? -eq 0
fpt=$("$MEMTRACE" report -i "$tmp/fp.data" --event malloc --format json |
	jq -r '[.events[] | select(.event == "malloc") | .total_bytes] | add // 0')
check "... with the same outstanding total (got $fpt, dwarf $total)" \
	awk -v a="$fpt" -v b="$total" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 65536) }'
done_testing
