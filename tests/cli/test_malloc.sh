#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# record --malloc end to end on tests/workloads/malloc_nofp (-O2, no frame
# pointers), whose answers it prints itself: keep_big holds 24 MiB and
# keep_small 8 MiB in 64 KiB blocks, churn_temp frees all it takes.
# Through uprobes, a process outside the recording churns malloc meanwhile
# and must add nothing. Through the interposer (the default for -- CMD):
# the same totals as the uprobes and as heaptrack, children counted from
# their first allocation, the fallback to uprobes where it cannot work.
# TAP-style lines.
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
# shellcheck source=tests/cli/malloc_leak.sh
. "$(dirname "$0")/malloc_leak.sh"
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
"$MEMTRACE" record -f -o "$tmp/m.data" --malloc --malloc-via uprobe --sample-bytes 4K -- "$w" callers \
	>"$tmp/answer" 2>"$tmp/m.err"
check "record --malloc --malloc-via uprobe -- malloc_nofp callers succeeds" test $? -eq 0
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

plan 3
# the fp mode keeps exact per-stack books; the default (dwarf) shares by captures
"$MEMTRACE" record -f -o "$tmp/fp.data" --malloc --unwind fp -- "$w" callers >/dev/null 2>"$tmp/fp.err"
check "record --malloc --unwind fp succeeds" test $? -eq 0
check "... on uprobes, saying why in one line ($(grep -c 'uprobes, not the interposer' "$tmp/fp.err") line)" \
	grep -q "^--malloc: uprobes, not the interposer: --unwind fp walks stacks in the kernel" "$tmp/fp.err"
fpt=$("$MEMTRACE" report -i "$tmp/fp.data" --event malloc --format json |
	jq -r '[.events[] | select(.event == "malloc") | .total_bytes] | add // 0')
check "... with the same outstanding total (got $fpt, dwarf $total)" \
	awk -v a="$fpt" -v b="$total" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 65536) }'

total_of() { "$MEMTRACE" report -i "$1" --event malloc --format json 2>/dev/null |
	jq -r '[.events[] | select(.event == "malloc") | .total_bytes] | add // 0'; }
plan 7
# the interposer, chosen by default for -- CMD
"$MEMTRACE" record -f -o "$tmp/p.data" --malloc --sample-bytes 4K -- "$w" callers \
	>"$tmp/panswer" 2>"$tmp/p.err"
check "record --malloc -- CMD succeeds through the interposer ($(grep -o 'interposer in [0-9]* process images' "$tmp/p.err"))" \
	grep -q "^--malloc: interposer in 1 process images (1 started by exec)" "$tmp/p.err"
ptotal=$(total_of "$tmp/p.data")
check "... the same outstanding bytes as the uprobes, exactly (interposer $ptotal, uprobes $total)" \
	test "$ptotal" = "$total"
"$MEMTRACE" report -i "$tmp/p.data" --event malloc --format json >"$tmp/m.json" 2>/dev/null
big=$(site keep_big)
small=$(site keep_small)
check "frameless keep_big through the interposer, +-2% (got $big, workload $wbig)" within 2 "$big" "$wbig"
check "frameless keep_small through the interposer, +-2% (got $small, workload $wsmall)" \
	within 2 "$small" "$wsmall"
# churn: the workload says what its window holds at the end (+ stdio's buffer)
"$MEMTRACE" record -f -o "$tmp/c.data" --malloc -- "$w" churn 50000 >"$tmp/canswer" 2>"$tmp/c.err"
ctotal=$(total_of "$tmp/c.data")
live=$(awk '$1 == "live_bytes" { print $2 }' "$tmp/canswer")
check "churn 50000: outstanding = the workload's live bytes + stdio <= 64 KiB (got $ctotal, workload $live)" \
	awk -v t="$ctotal" -v w="$live" 'BEGIN { exit !(w > 0 && t >= w && t <= w + 65536) }'
records=$(sed -n 's/.* \([0-9]*\) allocator records/\1/p' "$tmp/c.err")
# 50000 allocations and 50000 - 4096 frees of a block (free(NULL) is not one), stdio's few
check "... every call a record: 95904 + stdio's <= 8 (got $records)" \
	awk -v r="$records" 'BEGIN { exit !(r >= 95904 && r <= 95912) }'
# the ring those records went through is memtrace's: none of its pages is faulted by the
# program (malloc_nofp maps no shared memory of its own), so no shmem in its fault view
shmem=$("$MEMTRACE" report -i "$tmp/c.data" --event fault --format json 2>/dev/null |
	jq -r '[.events[] | select(.event == "fault") | .class_bytes.shmem] | add // "none"')
check "... and the interposer's ring is not in the program's faults: 0 shmem fault bytes (got $shmem, for $records records of 24+ bytes)" \
	test "$shmem" = 0

plan 1
if command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null; then
	(cd "$tmp" && heaptrack -o "$tmp/ht" "$w" churn 5000 >/dev/null 2>&1)
	heaptrack_print -f "$tmp"/ht.* --flamegraph-cost-type leaked -F "$tmp/ht.leaked" >/dev/null 2>&1
	htotal=$(awk '{ s += $NF } END { print s + 0 }' "$tmp/ht.leaked")
	"$MEMTRACE" record -f -o "$tmp/c5.data" --malloc -- "$w" churn 5000 >/dev/null 2>&1
	c5=$(total_of "$tmp/c5.data")
	check "churn 5000: the same leaked bytes as heaptrack, exactly (memtrace $c5, heaptrack $htotal)" \
		test "$c5" = "$htotal" -a "$c5" -gt 0
else
	skip 1 "heaptrack not installed (MEMTRACE_BENCH=1 scripts/setup-deps.sh)"
fi

plan 4
# children: fork without exec, allocating at once and leaving with _exit; the
# fork window of the uprobes closes (each child registers at its first allocation)
"$MEMTRACE" record -f -o "$tmp/f.data" --malloc -- "$w" forks 20 >"$tmp/fanswer" 2>"$tmp/f.err"
fwant=$(awk '$1 == "keep_big" { print $2 }' "$tmp/fanswer")
"$MEMTRACE" report -i "$tmp/f.data" --event malloc --format json >"$tmp/m.json" 2>/dev/null
fbig=$(site keep_big)
check "20 forked children hold keep_big's 20 x 16 x 64 KiB exactly (got $fbig, workload $fwant)" \
	test "$fbig" = "$fwant" -a "$fwant" = 20971520
check "... each child an image of its own ($(grep -o 'interposer in [0-9]* process images' "$tmp/f.err"))" \
	grep -q "^--malloc: interposer in 21 process images (1 started by exec)" "$tmp/f.err"
# fork + exec keeps the interposer: a shell's five children, 100 x 10000 bytes each
if leak_build "$tmp"; then
	leak_children "$tmp" "$tmp/m5.data" "$tmp/m5.err"
	"$MEMTRACE" report -i "$tmp/m5.data" --event malloc --format json >"$tmp/m.json" 2>/dev/null
	leak=$(site leak_some)
	check "five exec'd children of a shell: leak_some holds 5 x 1000000 exactly (got $leak)" \
		test "$leak" = 5000000
	execs=$(sed -n 's/.*(\([0-9]*\) started by exec).*/\1/p' "$tmp/m5.err")
	check "... the shell and its five children loaded the interposer (got $execs exec'd images)" \
		test "$execs" = 6
else
	skip 2 "no gcc"
fi

plan 6
# a program with a malloc of its own: the interposer is never called, and record says so
cat >"$tmp/own.c" <<'C'
#include <stddef.h>
extern void *__libc_malloc(size_t);
void *malloc(size_t n) { return __libc_malloc(n); }
int main(void) { return malloc(100) == NULL; }
C
if gcc -O1 -o "$tmp/own" "$tmp/own.c" 2>/dev/null; then
	"$MEMTRACE" record -f -o "$tmp/o.data" --malloc -- "$tmp/own" >/dev/null 2>"$tmp/o.err"
	check "a program's own malloc is warned about, in processes ($(grep -o '[0-9]* process images call' "$tmp/o.err"))" \
		grep -q "^memtrace: warning: --malloc: 1 process images call an allocator of their own" "$tmp/o.err"
else
	skip 1 "no gcc"
fi
# a command that clears the environment: its child runs without the interposer, said in processes
"$MEMTRACE" record -f -o "$tmp/e.data" --malloc -- env -i /bin/true >/dev/null 2>"$tmp/e.err"
check "env -i: the image without the interposer is counted in a warning ($(grep -o '[0-9]* exec.d process images did not' "$tmp/e.err"))" \
	grep -q "^memtrace: warning: --malloc: 1 exec'd process images did not load the interposer" "$tmp/e.err"
# where the interposer cannot work: a static program takes uprobes, saying why
if gcc -O1 -static -o "$tmp/leak_static" "$tmp/leak.c" 2>/dev/null; then
	"$MEMTRACE" record -f -o "$tmp/s.data" --malloc -- "$tmp/leak_static" >/dev/null 2>"$tmp/s.err"
	check "a static command records --malloc on uprobes, saying why ($(grep -c 'statically linked' "$tmp/s.err") line)" \
		grep -q "^--malloc: uprobes, not the interposer: .* is statically linked" "$tmp/s.err"
	"$MEMTRACE" record -f -o "$tmp/s.data" --malloc --malloc-via preload -- "$tmp/leak_static" \
		>/dev/null 2>"$tmp/s2.err"
	check "--malloc-via preload on a static command fails with one line (exit $?)" \
		grep -q "^memtrace: --malloc-via preload cannot work here: .* statically linked" "$tmp/s2.err"
else
	skip 2 "no static libc to link with"
fi
"$MEMTRACE" record -f -o "$tmp/b.data" --malloc --malloc-via banana -- true >/dev/null 2>"$tmp/b.err"
rc=$?
check "--malloc-via banana is a usage error naming it (exit $rc: $(head -1 "$tmp/b.err"))" \
	sh -c "test $rc -eq 2 && grep -q \"invalid --malloc-via 'banana': expected auto, preload or uprobe\" '$tmp/b.err'"
"$MEMTRACE" record -f -o "$tmp/b.data" --malloc --malloc-via preload -p $$ >/dev/null 2>"$tmp/b.err"
rc=$?
check "--malloc-via preload with -p is a usage error (exit $rc: $(head -1 "$tmp/b.err"))" \
	sh -c "test $rc -eq 2 && grep -q 'malloc-via preload needs -- CMD' '$tmp/b.err'"
done_testing
