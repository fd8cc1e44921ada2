#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace snapshot end to end: starts processes whose memory is known
# (tests/workloads/snapshot_mapper.c), checks the report against what they
# mapped, against the kernel's own Pss and against Debian's smem. TAP-style
# "ok - ..." / "not ok - ..." / "skip - ..." lines (see tests/run-tests.sh).
set -u
MEMTRACE=${MEMTRACE:-$PWD/build/memtrace}
WORKLOADS=${WORKLOADS:-$PWD/build/tests/workloads}
MAPPER=$WORKLOADS/snapshot_mapper
KIB=1024
MIB=$((1024 * 1024))

tmp=$(mktemp -d)
pids=()
hugepages_was=
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "$hugepages_was" ] && echo "$hugepages_was" >/proc/sys/vm/nr_hugepages
	rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"

# start_mapper NAME ARGS...: runs the mapper, waits for "ready PID [CHILD...]",
# leaves the PIDs in $NAME (an array)
start_mapper() {
	local name=$1 bin=$MAPPER out
	shift
	if [ "${1:-}" = "--as" ]; then
		bin=$2
		shift 2
	fi
	out="$tmp/$name.out"
	"$bin" "$@" >"$out" 2>"$tmp/$name.err" &
	pids+=($!)
	for _ in $(seq 100); do
		grep -q '^ready' "$out" 2>/dev/null && break
		sleep 0.05
	done
	if ! grep -q '^ready' "$out"; then
		echo "# $name did not start: $(cat "$tmp/$name.err")"
		return 1
	fi
	read -r -a got <<<"$(sed -n 's/^ready //p' "$out")"
	eval "$name=(${got[*]})"
}

kernel_pss() { awk '/^Pss:/ { print $2 * 1024 }' "/proc/$1/smaps_rollup"; }
# within A B: |A - B| <= max(1% of B, 64 KiB)
within() {
	local a=$1 b=$2 d tol
	d=$((a > b ? a - b : b - a))
	tol=$((b / 100))
	[ "$tol" -lt $((64 * KIB)) ] && tol=$((64 * KIB))
	[ "$d" -le "$tol" ] || { echo "# $a vs $b: off by $d (tolerance $tol)"; return 1; }
}
between() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ] || { echo "# $1 not in [$2, $3]"; return 1; }; }
snap_json() { "$MEMTRACE" snapshot --json "$@" 2>"$tmp/stderr"; }
jqe() { jq -e "$1" >/dev/null <<<"$2"; } # jqe FILTER JSON: FILTER holds

if [ ! -x "$MEMTRACE" ] || [ ! -x "$MAPPER" ]; then
	nok "binaries built ($MEMTRACE, $MAPPER)"
	exit 1
fi

# --- command line ---------------------------------------------------------
plan $((1 + 8 + 10 + 1))
out=$("$MEMTRACE" snapshot --help)
check "--help exits 0 with a usage line and EXAMPLES" \
	grep -q EXAMPLES <<<"$out"
for opt in --pid --filter --by --sort --total --watch --units --json; do
	check "--help documents $opt" grep -q -- "$opt" <<<"$out"
done
for bad in "--by banana" "--sort size" "--units T" "-p 12abc" "-p 0" "-p -5" "-w banana" \
	"--filter (" "--threads 0" "stray"; do
	# shellcheck disable=SC2086
	"$MEMTRACE" snapshot $bad >/dev/null 2>"$tmp/err"
	rc=$?
	check "'$bad' is a usage error (exit 2, got $rc)" [ "$rc" -eq 2 ]
done
check "a bad value is named in the message" grep -q "invalid --by 'banana'" <(
	"$MEMTRACE" snapshot --by banana 2>&1)

# --- private anonymous memory ---------------------------------------------
plan 3
start_mapper anon -a 8192 || exit 1
json=$(snap_json -p "${anon[0]}")
priv=$(jq '.groups[0].private_bytes' <<<"$json")
ram=$(jq '.groups[0].ram_bytes' <<<"$json")
check "8 MiB private anon shows as private (got $priv)" \
	between "$priv" $((8 * MIB)) $((8 * MIB + 1 * MIB))
check "RAM used equals the kernel's Pss" within "$ram" "$(kernel_pss "${anon[0]}")"
check "one valid JSON document" jqe '.groups and .total' "$json"

# --- shared file mapping ----------------------------------------------------
plan 4
dd if=/dev/zero of="$tmp/shared.dat" bs=1M count=4 status=none
start_mapper file1 -f "$tmp/shared.dat" -F 4096 || exit 1
start_mapper file2 -f "$tmp/shared.dat" -F 4096 || exit 1
json=$(snap_json --by pid -p "${file1[0]},${file2[0]}")
s1=$(jq ".groups[] | select(.pid == ${file1[0]}) | .shared_bytes" <<<"$json")
s2=$(jq ".groups[] | select(.pid == ${file2[0]}) | .shared_bytes" <<<"$json")
check "a 4 MiB file mapped by two processes: about 2 MiB shared each ($s1, $s2)" \
	between "$s1" $((2 * MIB)) $((3 * MIB))
check "... and the second one too" between "$s2" $((2 * MIB)) $((3 * MIB))
for p in "${file1[0]}" "${file2[0]}"; do
	r=$(jq ".groups[] | select(.pid == $p) | .ram_bytes" <<<"$json")
	check "pid $p RAM used equals the kernel's Pss" within "$r" "$(kernel_pss "$p")"
done

# --- shared anonymous region, parent and 3 children -----------------------
plan $((1 + 4 * 2 + 1))
start_mapper fam -s 4096 -c 3 || exit 1
list=$(IFS=,; echo "${fam[*]}")
json=$(snap_json --by pid -p "$list")
check "parent and 3 children: 4 rows" [ "$(jq '.groups | length' <<<"$json")" -eq 4 ]
for p in "${fam[@]}"; do
	sh=$(jq ".groups[] | select(.pid == $p) | .shared_bytes" <<<"$json")
	r=$(jq ".groups[] | select(.pid == $p) | .ram_bytes" <<<"$json")
	check "pid $p holds a quarter of the 4 MiB shared region ($sh)" \
		between "$sh" $((1 * MIB)) $((2 * MIB))
	check "pid $p RAM used equals the kernel's Pss" within "$r" "$(kernel_pss "$p")"
done
total=$(jq '.total.ram_bytes' <<<"$json")
sum=0
for p in "${fam[@]}"; do sum=$((sum + $(kernel_pss "$p"))); done
check "family total equals the sum of the kernel's Pss" within "$total" "$sum"

# --- CLONE_VM: two processes, one mm, counted once -------------------------
plan 3
start_mapper vm -a 4096 -V || exit 1
json=$(snap_json --by pid -p "${vm[0]},${vm[1]}")
check "CLONE_VM pair: both processes counted" [ "$(jq '.total.processes' <<<"$json")" -eq 2 ]
check "CLONE_VM pair: one row" [ "$(jq '.groups | length' <<<"$json")" -eq 1 ]
check "CLONE_VM pair: memory counted once" \
	within "$(jq '.total.ram_bytes' <<<"$json")" "$(kernel_pss "${vm[0]}")"

# --- cross-check with smem ---------------------------------------------------
all=("${anon[@]}" "${file1[@]}" "${file2[@]}" "${fam[@]}")
plan ${#all[@]}
if command -v smem >/dev/null; then
	list=$(IFS=,; echo "${all[*]}")
	json=$(snap_json --by pid -p "$list")
	smem -H -c "pid pss" >"$tmp/smem" 2>/dev/null
	for p in "${all[@]}"; do
		mine=$(jq ".groups[] | select(.pid == $p) | .ram_bytes" <<<"$json")
		theirs=$(awk -v p="$p" '$1 == p { print $2 * 1024 }' "$tmp/smem")
		check "pid $p PSS matches smem within 1% or 64 KiB ($mine vs ${theirs:-none})" \
			within "$mine" "${theirs:-0}"
	done
else
	skip ${#all[@]} "smem not installed"
fi

# --- hugetlb ------------------------------------------------------------------
# As root, reserve two 2 MiB pages for this test and give them back at exit.
plan 2
free_huge=$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)
if [ "$(id -u)" -eq 0 ] && [ "${free_huge:-0}" -lt 2 ] && [ -w /proc/sys/vm/nr_hugepages ]; then
	hugepages_was=$(cat /proc/sys/vm/nr_hugepages)
	echo $((hugepages_was + 2)) >/proc/sys/vm/nr_hugepages
fi
if [ "$(awk '/HugePages_Free/ { print $2 }' /proc/meminfo)" -ge 2 ]; then
	start_mapper huge -H 4 || exit 1
	json=$(snap_json -p "${huge[0]}")
	priv=$(jq '.groups[0].private_bytes' <<<"$json")
	ram=$(jq '.groups[0].ram_bytes' <<<"$json")
	check "4 MiB of hugetlb pages are added to private (got $priv)" [ "$priv" -ge $((4 * MIB)) ]
	check "RAM used = Pss + hugetlb" within "$ram" $(($(kernel_pss "${huge[0]}") + 4 * MIB))
else
	skip 2 "hugetlb: needs vm.nr_hugepages >= 2 with free pages"
fi

# --- naming, filters, errors ----------------------------------------------
plan 12
weird=$(printf 'we"ird \xff\nx')
cp "$MAPPER" "$tmp/$weird"
start_mapper odd --as "$tmp/$weird" -a 64 || exit 1
json=$(snap_json -p "${odd[0]}")
check "a name with quotes, newline and a non-UTF-8 byte gives valid JSON" \
	jqe '.groups[0].name == "we\"ird \ufffd\nx"' "$json"
table=$("$MEMTRACE" snapshot -p "${odd[0]}" 2>/dev/null)
check "the table keeps one line per program (4 lines)" [ "$(wc -l <<<"$table")" -eq 4 ]

# interpreters, as ps_mem names them: a #! script by its name, "bash x" as bash
printf '#!/bin/bash\nread -r _ <"$1"\n' >"$tmp/myscript.sh"
chmod +x "$tmp/myscript.sh"
mkfifo "$tmp/fifo"
"$tmp/myscript.sh" "$tmp/fifo" &
script_pid=$!
bash "$tmp/myscript.sh" "$tmp/fifo" &
bash_pid=$!
pids+=("$script_pid" "$bash_pid")
sleep 0.3
json=$(snap_json --by pid -p "$script_pid,$bash_pid")
check "a script run by its #! line is named after the script" \
	jqe ".groups[] | select(.pid == $script_pid) | .name == \"myscript.sh\"" "$json"
check "'bash script' is named bash" \
	jqe ".groups[] | select(.pid == $bash_pid) | .name == \"bash\"" "$json"

json=$(snap_json --by pid --filter 'snapshot_mappe[r]')
check "--filter on the program name" \
	jqe "[.groups[].pid] | index(${anon[0]}) != null and index(${odd[0]}) == null" "$json"
json=$(snap_json --by pid --filter '-a 8192')
# (other test runs on the machine may have an "-a 8192" mapper too: judge ours only)
check "--filter on the command line" \
	jqe "[.groups[].pid] | index(${anon[0]}) != null and index(${file1[0]}) == null and index(${odd[0]}) == null" "$json"

# the shell prints its PID, then becomes memtrace: that PID must not be in the report
bash -c 'echo $$ >"$1/self"; exec "$2" snapshot --by pid --json' _ "$tmp" "$MEMTRACE" \
	>"$tmp/all.json" 2>/dev/null
json=$(cat "$tmp/all.json")
check "kernel threads are left out" jqe '[.groups[].pid] | index(2) == null' "$json"
check "our own process is left out" jqe "[.groups[].pid] | index($(cat "$tmp/self")) == null" "$json"
"$MEMTRACE" snapshot -p 2 >/dev/null 2>"$tmp/err"
rc=$?
check "-p kthreadd: exit 1, says why (rc $rc)" \
	bash -c "[ $rc -eq 1 ] && grep -q 'kernel thread' '$tmp/err'"

"$MEMTRACE" snapshot -p "${anon[0]},4194300" >"$tmp/out" 2>"$tmp/err"
rc=$?
check "a missing -p PID is named on one line, the rest reported (rc $rc)" \
	bash -c "[ $rc -eq 0 ] && [ \$(wc -l <'$tmp/err') -eq 1 ] && grep -q 4194300 '$tmp/err' &&
		grep -q snapshot_mapper '$tmp/out'"
"$MEMTRACE" snapshot -p 4194300 >/dev/null 2>&1
check "no readable -p PID: exit 1" [ $? -eq 1 ]
"$MEMTRACE" snapshot --json -p 4194300 >/dev/null 2>"$tmp/err"
check "--json errors are JSON" jqe '.error' "$(head -1 "$tmp/err")"

# --- output modes ---------------------------------------------------------------
plan 6
out=$("$MEMTRACE" snapshot --total --units B -p "${anon[0]}")
check "--total --units B prints one integer ($out)" \
	bash -c "[[ '$out' =~ ^[0-9]+\$ ]] && [ '$out' -ge $((8 * MIB)) ]"
out=$("$MEMTRACE" snapshot --units M -p "${anon[0]}" | sed -n 2p)
check "--units M prints whole MiB ($out)" bash -c "[[ '$out' =~ ^\ +8\ +[0-9]+\ +[0-9]+\ +0\ +snapshot_mapper ]]"
out=$("$MEMTRACE" snapshot --by user --sort count 2>/dev/null)
check "--by user names users" grep -q root <<<"$out"
out=$("$MEMTRACE" snapshot --by cgroup 2>/dev/null)
check "--by cgroup names cgroups" grep -q '^ .* /' <<<"$out"
n=$(timeout 2.5 "$MEMTRACE" snapshot -w 1 --total -p "${anon[0]}" | wc -l)
check "-w 1 repeats the report ($n reports in 2.5 s)" between "$n" 2 3
n=$(timeout 2.5 "$MEMTRACE" snapshot -w 1 --json -p "${anon[0]}" | jq -c .total | wc -l)
check "-w with --json prints one document per line ($n)" [ "$n" -ge 2 ]

# --- unprivileged -----------------------------------------------------------------
plan 1
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && nobody test -x "$MEMTRACE"; then
	nobody "$MEMTRACE" snapshot >"$tmp/out" 2>"$tmp/err"
	rc=$?
	check "as nobody: reports what it can, says how many it could not (rc $rc)" \
		bash -c "[ $rc -eq 0 ] && grep -Eq '[0-9]+ process(es)? not readable; run with sudo for all' '$tmp/err'"
else
	skip 1 "unprivileged run needs root, setpriv and a memtrace that nobody may run"
fi
done_testing
