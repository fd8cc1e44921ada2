#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace record/report end to end on tests/workloads/growth, whose
# answer is known: grow_64 touches 64 MiB (memset), grow_16 16 MiB (a
# frameless helper), map_32 maps 32 MiB untouched. TAP-style lines.
set -u
MEMTRACE=${MEMTRACE:-build/memtrace}
WORKLOADS=${WORKLOADS:-build/tests/workloads}
MIB=1048576
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"
# shellcheck source=tests/cli/malloc_leak.sh
. "$(dirname "$0")/malloc_leak.sh"
within5() { # within5 ACTUAL EXPECTED
	awk -v a="$1" -v e="$2" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(d <= e * 0.05) }'
}
# A site's bytes under the default sampling: each 4 KiB fault is captured with probability
# 4K/P (P = MT_DEFAULT_FAULT_PERIOD, 16 KiB), so a site of B bytes has a relative standard
# error of sqrt((P - 4K) / B): 2.7% at 16 MiB. Within 5% or 4 standard errors.
FAULT_PERIOD=$((16 << 10))
# A difference of two sites' estimates: SPREAD = the bytes of both.
within_sampled() { # within_sampled ACTUAL EXPECTED [SPREAD]
	awk -v a="$1" -v e="$2" -v s="${3:-$2}" -v p=$FAULT_PERIOD 'BEGIN { d = a - e; if (d < 0) d = -d
		t = 4 * sqrt((p - 4096) * s) / e; if (t < 0.05) t = 0.05; exit !(d <= e * t) }'
}

# usage errors exit 2
plan 6 # with the README checks below
"$MEMTRACE" record >/dev/null 2>&1
check "record without a target is a usage error (exit 2)" test $? -eq 2
"$MEMTRACE" record --sample 0 -- true >/dev/null 2>&1
check "record --sample 0 is rejected (exit 2)" test $? -eq 2
"$MEMTRACE" report --format banana >/dev/null 2>&1
check "report --format banana is rejected (exit 2)" test $? -eq 2
"$MEMTRACE" record --help | grep -q EXAMPLES
check "record --help has EXAMPLES" test $? -eq 0
# every new option: a usage error of one line naming the value
bad() { # bad DESCRIPTION ARGS...: exit 2 and one line on stderr
	local what=$1
	shift
	plan 1
	"$MEMTRACE" record "$@" -- true >/dev/null 2>"$tmp/bad.err"
	local rc=$? lines
	lines=$(grep -vc '^Try\|^Usage' "$tmp/bad.err")
	check "record $what is a usage error naming it (exit $rc, $lines line)" \
		test $rc -eq 2 -a "$lines" -eq 1
}
bad "--unwind banana" --unwind banana
bad "--stack-size 12abc" --stack-size 12abc
bad "--stack-size 100 (under 512)" --stack-size 100
bad "--stack-size 1M (over 64K)" --stack-size 1M
bad "--sample-bytes -4K" --sample-bytes -4K
bad "--sample-bytes 0" --sample-bytes 0
bad "--capture-rate banana" --capture-rate banana
bad "--capture-rate -1" --capture-rate -1
bad "--capture-rate 20000000 (over 10000000)" --capture-rate 20000000

# every option of --help is in the docs
docs=$(dirname "$0")/../../README.md
for cmd in record report; do
	missing=""
	for opt in $("$MEMTRACE" $cmd --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		case $opt in --help | --usage) continue ;; esac
		grep -q -- "\`[^\`]*$opt" "$docs" || missing="$missing $opt"
	done
	check "README.md has every option of $cmd --help (missing:${missing:- none})" \
		test -z "$missing"
done

if [ "$(id -u)" -ne 0 ]; then
	skip_rest "record tests: not root"
fi

plan 23 # record, -o (refusals, mode, 127/126), the fault, mmap and text views, classes, folded stacks
data=$tmp/growth.data
"$MEMTRACE" record -o "$data" -- "$WORKLOADS/growth" >"$tmp/rec.out" 2>"$tmp/rec.err"
check "record -- growth succeeds" test $? -eq 0
check "record writes the recording" test -s "$data"

"$MEMTRACE" record -o "$data" -- true >/dev/null 2>"$tmp/over.err"
check "record refuses to overwrite without -f (exit 1)" test $? -eq 1
check "the refusal says how to force" grep -q -- "-f" "$tmp/over.err"
mode=$(stat -c %a "$data")
check "the recording is 0600: it holds memory contents (got $mode)" test "$mode" = 600
left=$(find "$tmp" -maxdepth 1 -name '*.tmp' | wc -l)
check "no temporary file is left next to the recording ($left)" test "$left" -eq 0

# the held child: exec failure is the shell's 127 / 126, and nothing is written
"$MEMTRACE" record -o "$tmp/none.data" -- "$tmp/no-such-command" >/dev/null 2>"$tmp/none.err"
rc=$?
check "record -- a missing command exits 127 (got $rc)" test $rc -eq 127
check "... and writes no recording" test ! -e "$tmp/none.data"
check "... and says which command" grep -q "cannot run $tmp/no-such-command" "$tmp/none.err"
printf 'not a program\n' >"$tmp/noexec"
chmod 644 "$tmp/noexec"
"$MEMTRACE" record -o "$tmp/noexec.data" -- "$tmp/noexec" >/dev/null 2>&1
rc=$?
check "record -- a non-executable file exits 126 (got $rc)" test $rc -eq 126 -a ! -e "$tmp/noexec.data"

# a symlink planted at the temporary name or the target is not written through
ln -s /etc/passwd-memtrace-test "$tmp/planted.data"
"$MEMTRACE" record -o "$tmp/planted.data" -- true >/dev/null 2>&1
check "record refuses an existing symlink as -o without -f (exit $?)" test ! -e /etc/passwd-memtrace-test

start=$(date +%s%N)
# before = long before the command's own 60 s (the load alone took 3.9 s in a TCG guest)
"$MEMTRACE" record -o "$tmp/no/such/dir.data" -- sleep 60 >/dev/null 2>"$tmp/nodir.err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "an unwritable -o fails before recording (rc $rc, ${ms} ms)" test $rc -eq 1 -a $ms -lt 30000

# the workload has exited: symbolization works from the recorded maps
"$MEMTRACE" report -i "$data" --event fault --format json --top 5 >"$tmp/fault.json"
check "report --format json succeeds" test $? -eq 0
top_fn=$(jq -r '.events[0].sites[0].function' "$tmp/fault.json")
top_bytes=$(jq -r '.events[0].sites[0].bytes' "$tmp/fault.json")
check "top fault call site is grow_64 (got $top_fn)" test "$top_fn" = grow_64
check "grow_64 grew 64 MiB +-5% or 4 sampling errors (got $top_bytes bytes)" within_sampled "$top_bytes" $((64 * MIB))
second=$(jq -r '.events[0].sites[1] | "\(.function) \(.caller.function)"' "$tmp/fault.json")
second_bytes=$(jq -r '.events[0].sites[1].bytes' "$tmp/fault.json")
check "second fault site is grow_16's frameless helper, caller put back (got $second)" \
	test "$second" = "touch_pages grow_16"
check "grow_16 grew 16 MiB +-11% (4 sampling errors; got $second_bytes bytes)" within_sampled "$second_bytes" $((16 * MIB))
file=$(jq -r '.events[0].sites[0].file' "$tmp/fault.json")
check "top site has file:line from DWARF (got $file)" grep -q growth.c <<<"$file"

"$MEMTRACE" report -i "$data" --event mmap --format json >"$tmp/mmap.json"
m32=$(jq -r '[.events[0].sites[] | select(.function == "map_32") | .bytes] | add // 0' "$tmp/mmap.json")
check "mmap view shows map_32 with 32 MiB +-5% (got $m32)" within5 "$m32" $((32 * MIB))

"$MEMTRACE" report -i "$data" > "$tmp/report.txt"
check "text report names grow_64 with file:line" grep -q "grow_64+0x[0-9a-f]* (.*growth.c:[0-9]*) \[growth\]" "$tmp/report.txt"

total=$(jq -r '.events[0].total_bytes' "$tmp/fault.json")
anon=$(jq -r '.events[0].class_bytes.anon' "$tmp/fault.json")
check "faults are classed: anon holds the 80 MiB (got $anon)" \
	test "$anon" -ge $((80 * MIB)) -a "$anon" -le "$total"
"$MEMTRACE" report -i "$data" --event fault --format folded >"$tmp/folded"
fsum=$(awk '{ s += $NF } END { printf "%d", s }' "$tmp/folded")
check "folded stacks sum to the fault total ($fsum = $total)" test "$fsum" = "$total"
check "folded has grow_64 under main" grep -q "main;grow_64;" "$tmp/folded"

plan 3
"$MEMTRACE" report -i "$data" --format svg -o "$tmp/g.svg"
check "svg report succeeds" test $? -eq 0
if command -v xmllint >/dev/null; then
	check "svg is well-formed XML" xmllint --noout "$tmp/g.svg"
else
	skip 1 "svg XML check: no xmllint (libxml2-utils)"
fi

"$MEMTRACE" report -i "$data" --event fault --format pprof -o "$tmp/g.pb.gz"
check "pprof report succeeds" test $? -eq 0
plan 3
if command -v go >/dev/null; then
	HOME=$tmp GOCACHE=$tmp/gocache go tool pprof -top -sample_index=physical "$tmp/g.pb.gz" \
		>"$tmp/pprof.txt" 2>"$tmp/pprof.err"
	check "go tool pprof reads the profile" test $? -eq 0
	first=$(awk '/flat%/ { getline; print $NF; exit }' "$tmp/pprof.txt")
	check "pprof's top function by flat bytes is grow_64 (got $first)" test "$first" = grow_64
	check "pprof names grow_64" grep -q grow_64 "$tmp/pprof.txt"
else
	skip 3 "pprof check: go not installed"
fi

# filters: --top, --pid, --event
plan 4
n=$("$MEMTRACE" report -i "$data" --event fault --top 1 --format json | jq '.events[0].sites | length')
check "--top 1 shows one site (got $n)" test "$n" = 1
other=$("$MEMTRACE" report -i "$data" --pid 1 --event fault --format json | jq '.events[0].total_bytes')
check "--pid 1 keeps nothing of the workload (got $other bytes)" test "$other" = 0
kinds=$("$MEMTRACE" report -i "$data" --event mmap,brk --format json | jq -r '[.events[].event] | join(",")')
check "--event mmap,brk shows those two (got $kinds)" test "$kinds" = "mmap,brk"
"$MEMTRACE" report -i "$tmp/nonexistent.data" >/dev/null 2>"$tmp/nx.err"
check "a missing recording is an error naming it (exit 1)" \
	test $? -eq 1 -a -n "$(grep nonexistent.data "$tmp/nx.err")"

# --diff: the same run against itself grows nothing
plan $((1 + 3 + 2)) # and truncated files below
"$MEMTRACE" report -i "$data" --diff "$data" --event fault --format json >"$tmp/diff.json"
delta=$(jq -r '.events[0].sites[0] | .bytes - .base_bytes' "$tmp/diff.json")
check "diff of a recording with itself is zero (got $delta)" test "$delta" = 0

# --diff: grow_64 touched 32 MiB in the base run and 64 MiB now
"$MEMTRACE" record -f -o "$tmp/half.data" --events fault -- "$WORKLOADS/growth" --half >/dev/null 2>&1
"$MEMTRACE" report -i "$data" --diff "$tmp/half.data" --event fault --format json >"$tmp/d2.json"
dfn=$(jq -r '.events[0].sites[0].function' "$tmp/d2.json")
dd=$(jq -r '.events[0].sites[0] | .bytes - .base_bytes' "$tmp/d2.json")
check "diff puts grow_64 first with +32 MiB +-5% or 4 sampling errors (got $dfn $dd)" within_sampled "$dd" $((32 * MIB)) $((96 * MIB))
check "diff's first site is grow_64 (got $dfn)" test "$dfn" = grow_64
"$MEMTRACE" report -i "$data" --diff "$tmp/half.data" --event fault >"$tmp/d2.txt"
# the default unwinding shares the exact bucket over sampled captures: +-5% as above
check "text diff shows a +3x.x MiB delta" grep -Eq "\+3[0-3]\.[0-9] MiB" "$tmp/d2.txt"

# a truncated file is refused with a clear error
head -c 1000 "$data" >"$tmp/trunc.data"
"$MEMTRACE" report -i "$tmp/trunc.data" >/dev/null 2>"$tmp/trunc.err"
check "truncated recording is refused (exit 1)" test $? -eq 1
check "the error says truncated" grep -q truncated "$tmp/trunc.err"

# libFuzzer on the reader for a few seconds, seeded with a real recording
src=$(dirname "$0")/../..
plan 1
if clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I"$src/include" \
	"$src/tests/fuzz/fuzz_recording.c" "$src/src/recording.c" "$src/src/outfile.c" -o "$tmp/fuzz" 2>/dev/null; then
	mkdir -p "$tmp/corpus"
	cp "$data" "$tmp/trunc.data" "$tmp/corpus/"
	"$tmp/fuzz" -max_total_time=5 -max_len=65536 "$tmp/corpus" >"$tmp/fuzz.log" 2>&1
	rc=$?
	runs=$(grep -o 'Done [0-9]* runs' "$tmp/fuzz.log")
	check "libFuzzer finds no crash in the reader in 5 s (rc $rc, ${runs:-no runs})" test $rc -eq 0
else
	skip 1 "libFuzzer run: clang -fsanitize=fuzzer unavailable (libclang-rt-14-dev)"
fi

# -d stops the recording and --sample scales weights
plan $((2 + 2 + 2)) # with record -p and the stripped binary below
"$MEMTRACE" record -f -o "$tmp/s.data" --sample 16 --events fault -- "$WORKLOADS/growth" >/dev/null 2>&1
"$MEMTRACE" report -i "$tmp/s.data" --format json >"$tmp/s.json"
sbytes=$(jq -r '.events[0].sites[0].bytes' "$tmp/s.json")
sfn=$(jq -r '.events[0].sites[0].function' "$tmp/s.json")
check "--sample 16 still finds grow_64 with ~64 MiB (got $sfn $sbytes)" \
	within_sampled "$sbytes" $((64 * MIB))

start=$(date +%s%N)
# early = long before the command's own end: attaching alone took 3.6 s in a TCG guest
"$MEMTRACE" record -f -o "$tmp/d.data" -d 300ms -- sleep 60 >/dev/null 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "-d 300ms stops recording before the command's 60 s (rc $rc, ${ms} ms)" \
	test $rc -eq 0 -a $ms -lt 30000

# -p on a running process, followed until it exits: the workload waits on a
# fifo until record says it is recording
mkfifo "$tmp/go"
"$WORKLOADS/growth" --pause <"$tmp/go" >/dev/null &
wpid=$!
exec 3>"$tmp/go"
"$MEMTRACE" record -v -f -o "$tmp/p.data" -p $wpid >/dev/null 2>"$tmp/p.err" &
rpid=$!
for _ in $(seq 100); do
	grep -q "^recording" "$tmp/p.err" 2>/dev/null && break
	sleep 0.1
done
echo go >&3
exec 3>&-
wait $rpid
check "record -p stops when the process exits" test $? -eq 0
wait $wpid 2>/dev/null
"$MEMTRACE" report -i "$tmp/p.data" --event fault --format json >"$tmp/p.json"
pfn=$(jq -r '.events[0].sites[0].function' "$tmp/p.json")
check "record -p attributes to grow_64 (got $pfn)" test "$pfn" = grow_64

# a stripped binary: module+offset, and the leaf fix still works from .eh_frame
if command -v strip >/dev/null; then
	strip -o "$tmp/growth-stripped" "$WORKLOADS/growth"
	"$MEMTRACE" record -f -o "$tmp/st.data" --events fault -- "$tmp/growth-stripped" >/dev/null 2>&1
	"$MEMTRACE" report -i "$tmp/st.data" --format json >"$tmp/st.json"
	smod=$(jq -r '.events[0].sites[0] | "\(.function) \(.module)"' "$tmp/st.json")
	sbytes=$(jq -r '.events[0].sites[0].bytes' "$tmp/st.json")
	check "stripped binary: top site is module+offset (got $smod)" test "$smod" = "null growth-stripped"
	check "stripped binary: still 64 MiB at the top site (got $sbytes)" within_sampled "$sbytes" $((64 * MIB))
else
	skip 2 "stripped binary checks: no strip (binutils)"
fi

# a binary that only exists inside another mount namespace (a container's
# filesystem): read through /proc/PID/root, kept by build-id for report
plan 4
if command -v unshare >/dev/null; then
	mkdir -p "$tmp/mnt" "$tmp/cache"
	# mode 0700 there: the cached copy must not be readable by more users than the original
	MEMTRACE_CACHE=$tmp/cache "$MEMTRACE" record -f -o "$tmp/ns.data" -- unshare -m sh -c \
		"mount -t tmpfs none $tmp/mnt && cp $WORKLOADS/growth $tmp/mnt/g2 && chmod 0700 $tmp/mnt/g2 && exec $tmp/mnt/g2" \
		>/dev/null 2>&1
	check "record in another mount namespace succeeds" test $? -eq 0
	check "its binary is gone from our view" test ! -e "$tmp/mnt/g2"
	nsfn=$("$MEMTRACE" report -i "$tmp/ns.data" --event fault --format json |
		jq -r '.events[0].sites[0] | "\(.function) \(.module)"')
	check "and still symbolizes from the build-id cache (got $nsfn)" test "$nsfn" = "grow_64 g2"
	# the libraries may be there too (0644 copies of 0644 files): g2's copy is growth's bytes
	modes=$(for f in "$tmp/cache"/*; do cmp -s "$f" "$WORKLOADS/growth" && stat -c %a "$f"; done)
	check "the cached copy is no more readable than the original (0700 binary; mode: $modes)" \
		test "$modes" = 600
else
	skip 4 "mount namespace check: no unshare"
fi
# the same from inside a chroot (as in the qemu guests): /proc names the namespace's files
# from its root, above ours, so only the kernel's map_files links reach them
plan 1
if command -v unshare >/dev/null && command -v chroot >/dev/null; then
	mkdir -p "$tmp/croot" "$tmp/ccache" "$tmp/mnt"
	unshare -m --propagation private sh -c "mount --rbind / $tmp/croot && chroot $tmp/croot \
		env MEMTRACE_CACHE=$tmp/ccache $MEMTRACE record -f -o $tmp/cns.data -- unshare -m sh -c \
		'mount -t tmpfs none $tmp/mnt && cp $WORKLOADS/growth $tmp/mnt/g3 && exec $tmp/mnt/g3'" \
		>/dev/null 2>&1
	cnsfn=$("$MEMTRACE" report -i "$tmp/cns.data" --event fault --format json |
		jq -r '.events[0].sites[0] | "\(.function) \(.module)"')
	check "recorded from a chroot, a process in its own mount namespace symbolizes (got $cnsfn)" \
		test "$cnsfn" = "grow_64 g3"
else
	skip 1 "chroot mount namespace check: no unshare or chroot"
fi

# a program without frame pointers: the report says so
cat >"$tmp/nofp.c" <<'C'
#include <string.h>
#include <sys/mman.h>
int main(void)
{
	char *p = mmap(0, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	/* 4 KiB faults whatever the THP setting: the warning weighs stacks by events */
	madvise(p, 8 << 20, MADV_NOHUGEPAGE);
	memset(p, 1, 8 << 20);
	return 0;
}
C
plan 2
if gcc -O2 -fomit-frame-pointer -o "$tmp/nofp" "$tmp/nofp.c" 2>/dev/null; then
	"$MEMTRACE" record -f -o "$tmp/nofp.data" --unwind fp --events fault -- "$tmp/nofp" \
		>/dev/null 2>&1
	"$MEMTRACE" report -i "$tmp/nofp.data" >"$tmp/nofp.txt"
	check "no frame pointers with --unwind fp: the report warns and says how to fix it" \
		grep -q "fno-omit-frame-pointer" "$tmp/nofp.txt"
	"$MEMTRACE" report -i "$data" >"$tmp/fp.txt"
	check "frame pointers: no such warning" test -z "$(grep frame "$tmp/fp.txt")"
else
	skip 2 "frame-pointer warning check: no gcc"
fi

# Without frame pointers (-O2 -fomit-frame-pointer, leaf memset in libc), the
# default unwinding from stack captures and CFI: known answers end to end
plan 14
nofp=$WORKLOADS/unwind_nofp
site_bytes() { # site_bytes JSON FUNCTION
	jq -r --arg f "$2" '[.events[0].sites[] | select(.function == $f) | .bytes] | add // 0' "$1"
}
"$MEMTRACE" record -f -o "$tmp/callers.data" -- "$nofp" callers >/dev/null 2>&1
check "record -- unwind_nofp callers succeeds" test $? -eq 0
"$MEMTRACE" report -i "$tmp/callers.data" --event fault --format json >"$tmp/callers.json"
big=$(site_bytes "$tmp/callers.json" big_caller)
small=$(site_bytes "$tmp/callers.json" small_caller)
check "memset's big caller gets its 32 MiB +-5% or 4 sampling errors (got $big)" within_sampled "$big" $((32 * MIB))
# about 128 captures at the 16 KiB default: within a factor of 1.5
check "memset's small caller, which ran first, gets its 2 MiB, not the big one's (got $small)" \
	test "$small" -gt $((4 * MIB / 3)) -a "$small" -lt $((3 * MIB))
"$MEMTRACE" record -f -o "$tmp/chains.data" --sample-bytes 4K --capture-rate 0 -- "$nofp" chains >/dev/null 2>&1
"$MEMTRACE" report -i "$tmp/chains.data" --event fault --format folded >"$tmp/chains.folded"
ratio=$(awk '/main;chain_a1;chain_a2;chain_a3;chain_a4;chain_a5;chain_a6;chain_a7;chain_a8;touch;/ { a += $NF }
	/main;chain_b1;chain_b2;chain_b3;chain_b4;chain_b5;chain_b6;chain_b7;chain_b8;touch;/ { b += $NF }
	END { if (b) printf "%.4f", a / b; else print 0 }' "$tmp/chains.folded")
check "two 8-level chains, every frame, 24:8 MiB within 2% (got ratio $ratio, expected 3)" \
	awk -v r="$ratio" 'BEGIN { exit !(r >= 2.94 && r <= 3.06) }'
"$MEMTRACE" record -f -o "$tmp/lib.data" -- "$nofp" lib >/dev/null 2>&1
"$MEMTRACE" report -i "$tmp/lib.data" --event fault --format folded >"$tmp/lib.folded"
lb=$(awk '/main;lib_caller;lib_level1;lib_level2;lib_level3;/ { s += $NF } END { printf "%d", s }' \
	"$tmp/lib.folded")
check "a chain through our own frameless shared library: 16 MiB +-5% or 4 sampling errors (got $lb)" \
	within_sampled "$lb" $((16 * MIB))
"$MEMTRACE" record -f -o "$tmp/read.data" -- "$nofp" read >/dev/null 2>&1
"$MEMTRACE" report -i "$tmp/read.data" --event fault --format json >"$tmp/read.json"
rb=$(site_bytes "$tmp/read.json" read_caller)
kf=$(jq -r '.counters["kernel-mode_faults_on_user_memory"] // 0' "$tmp/read.json")
check "read() into a fresh 8 MiB buffer is charged to read's caller, +-5% or 4 sampling errors (got $rb)" \
	within_sampled "$rb" $((8 * MIB))
check "... as faults the kernel took: $kf x 4 KiB for the 2048-page buffer" \
	test "$kf" -ge 2048 -a "$kf" -le 2176
"$MEMTRACE" record -f -o "$tmp/cxx.data" -- "$WORKLOADS/cxx_nofp" >/dev/null 2>&1
cxx=$("$MEMTRACE" report -i "$tmp/cxx.data" --event fault --format json |
	jq -r '.events[0].sites[0] | "\(.function) \(.bytes)"')
check "a C++ call site, demangled, 8 MiB (got $cxx)" \
	sh -c "case '$cxx' in 'memtrace::test::Grower::grow(unsigned long) '*) exit 0;; esac; exit 1"
check "... and its 8 MiB +-5% or 4 sampling errors (got ${cxx##* })" within_sampled "${cxx##* }" $((8 * MIB))
# Stack growth: each level of stack_grower moves the stack pointer 16 KiB down
# and its call's return address is the first write there, so the stack
# pointer's own page is absent at that fault. The capture then starts at the
# first present page above it (the caller's frame): the leaf comes from the
# registers, its caller from that copy, the rest is unknown, never borrowed.
"$MEMTRACE" record -f -o "$tmp/stack.data" --sample-bytes 4K --capture-rate 0 -- "$nofp" stack >/dev/null 2>&1
"$MEMTRACE" report -i "$tmp/stack.data" --event fault --format folded >"$tmp/stack.folded"
sb=$(awk '/stack_grower/ { s += $NF } END { printf "%d", s }' "$tmp/stack.folded")
check "stack growth of 128 frames of 16 KiB is charged to stack_grower: 2 MiB +-5% (got $sb)" \
	within5 "$sb" $((2 * MIB))
# folded stacks end with the leaf: at an absent stack page the leaf is stack_grower
leafonly=$(awk '$1 ~ /;\[unknown\];stack_grower$/ { s += $NF } END { printf "%d", s }' "$tmp/stack.folded")
withcaller=$(awk '$1 ~ /;stack_grower;stack_grower$/ { s += $NF } END { printf "%d", s }' "$tmp/stack.folded")
check "faults at an absent stack page keep the caller from the page above ($withcaller bytes with it, $leafonly with the leaf alone)" \
	test "$withcaller" -gt $((MIB / 8)) -a "$leafonly" -lt $((MIB / 32))
# libc without symbols for its static start-up code and memset's variants (arm64's
# userland) shows them as libc.so.6+0x...: allowed only where those are, above main or
# as the leaf
bad=$(awk '/stack_grower/ { n = split($1, f, ";"); below = 0; for (i = 2; i <= n; i++) {
	if (f[i] == "main") below = 1
	if (f[i] ~ /^libc\.so\.6\+0x[0-9a-f]+$/ && (!below || i == n)) continue
	if (f[i] !~ /^(\[unknown\]|stack_grower|grow_stack|main|__libc_start_call_main|__libc_start_main.*|_start|__memset.*|memset)$/) { print f[i]; exit } } }' \
	"$tmp/stack.folded")
check "stack growth chains hold only their own frames (found '${bad}')" test -z "$bad"
# fp keeps the kernel's walk: on the same frameless binary it cannot name the callers
"$MEMTRACE" record -f -o "$tmp/callers-fp.data" --unwind fp -- "$nofp" callers >/dev/null 2>&1
check "record --unwind fp succeeds" test $? -eq 0
ncap=$("$MEMTRACE" report -i "$tmp/callers-fp.data" --format json | jq -r '.counters.stack_captures // 0')
check "--unwind fp takes no stack captures (got $ncap)" test "$ncap" = 0

# --capture-rate: past the rate the fault sampling period doubles, and each
# capture weighs the period it was taken at. callers faults 2 MiB (small
# caller, first, captured densely) then 32 MiB (big caller, at a period grown
# many times): weights that ignored the period would give the small caller
# about half; the rate bounds the captures (every fault at 4K without it)
plan 4
caps() { sed -n 's/^\([0-9]*\) stack captures.*/\1/p' "$1"; }
"$MEMTRACE" record -f -o "$tmp/all.data" --sample-bytes 4K --capture-rate 0 -- "$nofp" callers \
	>/dev/null 2>"$tmp/all.err"
t0=$(date +%s%N)
"$MEMTRACE" record -f -o "$tmp/rate.data" --sample-bytes 4K --capture-rate 200 -- "$nofp" callers \
	>/dev/null 2>"$tmp/rate.err"
t1=$(date +%s%N)
call=$(caps "$tmp/all.err")
crate=$(caps "$tmp/rate.err")
ncpu=$(nproc)
# per CPU: 200 a second, plus 4 a window for each of at most 30 doublings; 256 mmap/brk
bound=$(awk -v ns=$((t1 - t0)) -v c="$ncpu" 'BEGIN { printf "%d", c * (200 * ns / 1e9 + 4 * 30) + 256 }')
check "--capture-rate 200 bounds the captures ($crate, bound $bound; $call at every fault)" \
	test -n "$crate" -a -n "$call" -a "${crate:-0}" -le "$bound" -a "${crate:-0}" -lt "${call:-0}"
"$MEMTRACE" report -i "$tmp/all.data" --event fault --format json >"$tmp/all.json"
"$MEMTRACE" report -i "$tmp/rate.data" --event fault --format json >"$tmp/rate.json"
ta=$(jq -r '.events[0].total_bytes' "$tmp/all.json")
tr=$(jq -r '.events[0].total_bytes' "$tmp/rate.json")
check "... the fault total stays exact: $tr bytes, $ta captured at every fault (+-5%)" within5 "$tr" "$ta"
big=$(site_bytes "$tmp/rate.json" big_caller)
small=$(site_bytes "$tmp/rate.json" small_caller)
share=$(awk -v b="$big" -v t="$tr" 'BEGIN { printf "%.1f", t ? 100 * b / t : 0 }')
exact=$(awk -v b="$(site_bytes "$tmp/all.json" big_caller)" -v t="$ta" 'BEGIN { printf "%.1f", t ? 100 * b / t : 0 }')
check "... and the big caller's share is unbiased while the period moves: $share% ($exact% at every fault, +-15 pp)" \
	awk -v a="$share" -v e="$exact" 'BEGIN { d = a - e; if (d < 0) d = -d; exit !(e > 50 && d <= 15) }'
check "... the small caller keeps a share of its own (got $small bytes)" test "${small:-0}" -gt 0

# --malloc: outstanding bytes by allocation stack (the memleak view)
plan 4
if leak_build "$tmp"; then
	"$MEMTRACE" record -f -o "$tmp/m.data" --malloc -- "$tmp/leak" >/dev/null 2>"$tmp/m.err"
	check "record --malloc succeeds" test $? -eq 0
	"$MEMTRACE" report -i "$tmp/m.data" --event malloc --format json >"$tmp/m.json" 2>/dev/null
	mall=$(jq -r '.events[0].sites[0] | "\(.function) \(.bytes) \(.count)"' "$tmp/m.json")
	check "malloc view: leak_some holds 1000000 bytes in 100 blocks (got $mall)" \
		test "$mall" = "leak_some 1000000 100"
	# five children of a few milliseconds each: gone long before report, all symbolized.
	# Through uprobes (the interposer's exact count is test_malloc.sh's) each child
	# gets its uprobes when its fork note arrives: what it allocated before that is
	# not seen, so the bytes are at most 5 x 1000000, in whole blocks.
	leak_children "$tmp" "$tmp/m5.data" "$tmp/m5.err" --malloc-via uprobe
	# or, where attaching is slower than the child (emulated guests, a loaded host), that it
	# exited before them: either way all five are named
	late=$(sed -n 's/^memtrace: warning: --malloc: \([0-9]*\) children got their uprobes when their fork was seen.*/\1/p' "$tmp/m5.err")
	gone=$(sed -n 's/^memtrace: warning: --malloc: \([0-9]*\) children exited before their uprobes were attached.*/\1/p' "$tmp/m5.err")
	check "record says the children's early allocations are not counted (${late:-0} got their uprobes late, ${gone:-0} exited first)" \
		test $((${late:-0} + ${gone:-0})) -ge 5
	"$MEMTRACE" report -i "$tmp/m5.data" --event malloc --format json >"$tmp/m5.json" 2>/dev/null
	mall=$(jq -r '.events[0].sites[0] | "\(.function) \(.bytes)"' "$tmp/m5.json")
	if [ "${mall%% *}" != leak_some ] && [ "${late:-0}" -eq 0 ] && [ "${gone:-0}" -ge 5 ]; then
		skip 1 "short-lived children symbolized: all exited before their uprobes were attached ($gone; a loaded or emulated machine)"
	else
		check "short-lived children are symbolized: leak_some, at most 5 x 1000000 in 10000s (got $mall)" \
			sh -c "case '$mall' in 'leak_some '*) b=\${1##* }; test \$b -gt 0 -a \$b -le 5000000 -a \$((b % 10000)) -eq 0;; *) exit 1;; esac" _ "$mall"
	fi
else
	skip 4 "--malloc check: no gcc"
fi
done_testing
