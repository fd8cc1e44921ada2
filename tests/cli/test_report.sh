#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace report on user-stack captures with a known answer:
# bench/ustack_synth (built -O2 -fomit-frame-pointer) records N captures of
# its own chains main -> walk_a/walk_b (10 to 25 deep) -> capture: 3/4 of
# them faults of 4 KiB, 1/4 mmaps of 64 KiB, each kind one sampled bucket.
# Every view must unwind them all the way to main and keep every byte.
# TAP-style lines.
set -u
MEMTRACE=${MEMTRACE:-build/memtrace}
SYNTH=${SYNTH:-${OUTPUT:-build}/bench/ustack_synth}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"
# plan counting (tap.sh's plan/skip/done_testing) where this tap.sh has it
if ! type plan >/dev/null 2>&1; then
	plan() { :; }
	done_testing() { :; }
	skip() { shift; echo "skip - $*"; }
	skip_rest() { echo "skip - $*"; exit 0; }
fi

plan 2

"$MEMTRACE" report --no-demangle=yes -i /dev/null >/dev/null 2>"$tmp/nd.err"
check "report --no-demangle=yes is rejected (exit 2)" test $? -eq 2
"$MEMTRACE" report --help | grep -q -- --no-demangle
check "report --help lists --no-demangle" test $? -eq 0

[ "$(uname -m)" = x86_64 ] || skip_rest "captures of bench/ustack_synth are written for x86-64 only"
plan 4
n=400
"$SYNTH" "$tmp/u.data" $n
check "ustack_synth wrote a recording of $n captures" test $? -eq 0
total=$(((n - n / 4) * 4096))
mmap_total=$((n / 4 * 65536))

"$MEMTRACE" report -i "$tmp/u.data" >"$tmp/r.txt"
check "text report succeeds" test $? -eq 0
check "text header counts the $n captures" grep -q "call stacks from $n user-stack captures" "$tmp/r.txt"
# the PC is in the register capture inlined from tests/self_capture.h
check "text report names the capturing function with file:line" \
	grep -q "capture[.a-z0-9]*+0x[0-9a-f]* (.*self_capture.h:[0-9]*) \[ustack_synth\]" "$tmp/r.txt"

# libdw is loaded at run time (include/dw_dl.h): without it, one line that
# names the Debian package, exit 1. Hidden by a bind mount in a mount
# namespace of the test's own
plan 1
libdw=$(ldconfig -p | awk '$1 == "libdw.so.1" { print $NF; exit }')
if [ -n "$libdw" ] && unshare -m true 2>/dev/null; then
	unshare -m sh -c 'mount --bind /dev/null "$(readlink -f "$1")" && exec "$2" report -i "$3"' \
		sh "$libdw" "$MEMTRACE" "$tmp/u.data" >/dev/null 2>"$tmp/nodw.err"
	rc=$?
	check "without libdw: exit 1 and one line naming libdw1 (rc $rc: $(head -3 "$tmp/nodw.err"))" \
		test "$rc" = 1 -a "$(wc -l <"$tmp/nodw.err")" = 1 -a \
		"$(grep -c "cannot load libdw.so.1: .*(install Debian's libdw1)" "$tmp/nodw.err")" = 1
else
	skip 1 "no libdw.so.1 in ldconfig's cache, or no unshare -m here"
fi

plan 5
"$MEMTRACE" report -i "$tmp/u.data" --format json --top 100000 >"$tmp/r.json"
check "json report succeeds" test $? -eq 0
got=$(jq '.events[] | select(.event == "fault") | .total_bytes' "$tmp/r.json")
check "json fault total is the bucket's $total bytes (got $got)" test "$got" = "$total"
got=$(jq '.captures' "$tmp/r.json")
check "json counts $n captures (got $got)" test "$got" = "$n"
got=$(jq '[.events[] | select(.event == "fault") | .sites[].bytes] | add' "$tmp/r.json")
check "json call sites add up to the total $total (got $got)" test "$got" = "$total"
got=$(jq '.events[] | select(.event == "mmap") | .total_bytes' "$tmp/r.json")
check "json mmap total is its bucket's $mmap_total bytes (got $got)" test "$got" = "$mmap_total"

plan 5
"$MEMTRACE" report -i "$tmp/u.data" --format folded >"$tmp/r.folded"
check "folded report succeeds" test $? -eq 0
got=$(awk '{ s += $NF } END { print s }' "$tmp/r.folded")
check "folded weights add up to $total + $mmap_total (got $got)" test "$got" = $((total + mmap_total))
bad=$(grep -vc ';main;walk_a' "$tmp/r.folded")
check "every folded stack runs from main through walk_a ($bad do not)" test "$bad" -eq 0
deep=$(awk -F';' '{ if (NF > m) m = NF } END { print m }' "$tmp/r.folded")
check "the deepest folded stack has at least 25 walk frames ($deep fields)" test "$deep" -ge 28
check "no folded stack is cut short by [unknown]" test "$(grep -c unknown "$tmp/r.folded")" -eq 0

plan 4
"$MEMTRACE" report -i "$tmp/u.data" --format svg -o "$tmp/r.svg"
check "svg report succeeds" test $? -eq 0
check "svg shows walk_b frames" grep -q "walk_b" "$tmp/r.svg"
check "svg draws one graph per event kind (fault, mmap)" \
	test "$(grep -c '<g class="fg" data-event=' "$tmp/r.svg")" -eq 2
check "svg is well-formed XML" xmllint --noout "$tmp/r.svg"
plan 4
"$MEMTRACE" report -i "$tmp/u.data" --format pprof -o "$tmp/r.pb.gz"
check "pprof report succeeds" test $? -eq 0
if command -v go >/dev/null; then
	HOME=$tmp GOCACHE=$tmp/go go tool pprof -top "$tmp/r.pb.gz" >"$tmp/top.txt" 2>&1
	check "go tool pprof -top reads the profile" grep -q "capture" "$tmp/top.txt"
	# the default sample type is physical bytes: the faults' total alone
	mib=$(awk -v t=$total 'BEGIN { printf "%.2fMB", t / 1048576 }')
	check "pprof's default total is the faults' $mib, not faults + mmap" \
		grep -q "of $mib total" "$tmp/top.txt"
	HOME=$tmp GOCACHE=$tmp/go go tool pprof -top -sample_index=virtual "$tmp/r.pb.gz" \
		>"$tmp/topv.txt" 2>&1
	mib=$(awk -v t=$mmap_total 'BEGIN { printf "%.2fMB", t / 1048576 }')
	check "pprof's virtual sample type totals the mmaps' $mib" grep -q "of $mib total" "$tmp/topv.txt"
else
	skip 3 "go tool pprof is not installed (golang-go)"
fi

# enough captures to be unwound ahead on several threads: the same answer
plan 4
n=6000
"$SYNTH" "$tmp/big.data" $n
"$MEMTRACE" report -i "$tmp/big.data" --format folded >"$tmp/big.folded"
check "report of $n captures (unwound on threads) succeeds" test $? -eq 0
got=$(awk '{ s += $NF } END { print s }' "$tmp/big.folded")
want=$(((n - n / 4) * 4096 + n / 4 * 65536))
check "threaded: folded weights add up to $want (got $got)" test "$got" = "$want"
bad=$(grep -vc ';main;walk_a' "$tmp/big.folded")
check "threaded: every stack runs from main through walk_a ($bad do not)" test "$bad" -eq 0
check "threaded: no stack is cut short by [unknown]" test "$(grep -c unknown "$tmp/big.folded")" -eq 0

done_testing
