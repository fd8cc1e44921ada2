#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make install into a staging DESTDIR: binary, man pages, bash completion and
# the systemd unit; the pages render, the completion completes, the unit
# verifies, and serve runs with no more than the unit's capabilities.
set -u
: "${MEMTRACE:?}" "${OUTPUT:?}" "${WORKLOADS:?}"
. "$(dirname "$0")/tap.sh"

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
root=$tmp/root

plan 4
make --no-print-directory -s install DESTDIR="$root" PREFIX=/usr/local OUTPUT="$OUTPUT" >"$tmp/make.log" 2>&1
check "make install DESTDIR=... succeeds ($(tail -1 "$tmp/make.log"))" [ $? -eq 0 ]
check "binary installed 0755" [ "$(stat -c %a "$root/usr/local/bin/memtrace" 2>/dev/null)" = 755 ]
check "installed binary runs" "$root/usr/local/bin/memtrace" --version
lib=$root/usr/local/lib/memtrace/libmemtrace-preload.so
plan 2
check "the allocator interposer installed 0644 in lib/memtrace" [ "$(stat -c %a "$lib" 2>/dev/null)" = 644 ]
if [ "$(id -u)" -eq 0 ]; then
	# the installed binary finds it relative to itself, not in the build tree
	"$root/usr/local/bin/memtrace" record -f -o "$tmp/i.data" --malloc -v -- /bin/true >/dev/null 2>"$tmp/i.err"
	check "the installed memtrace preloads the installed interposer ($(grep -o 'interposer /[^ ]*' "$tmp/i.err"))" \
		grep -qF -- "--malloc: the interposer $root/usr/local/bin/../lib/memtrace/libmemtrace-preload.so" "$tmp/i.err"
else
	skip 1 "record needs root"
fi
pages=$(ls man/*.8 | wc -l)
installed=$(ls "$root/usr/local/share/man/man8/"memtrace*.8 2>/dev/null | wc -l)
check "every man page installed ($installed of $pages)" [ "$installed" -eq "$pages" -a "$pages" -ge 7 ]
installed_pages=("$root"/usr/local/share/man/man8/*.8)
plan ${#installed_pages[@]}
for page in "${installed_pages[@]}"; do
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	check "man -l renders installed $(basename "$page") without warnings${w:+: $w}" [ -z "$w" ]
done
comp=$root/usr/local/share/bash-completion/completions/memtrace
plan 3
check "bash completion installed" [ -f "$comp" ]
unit=$root/usr/local/lib/systemd/system/memtrace-serve.service
check "systemd unit installed" [ -f "$unit" ]
check "the unit runs the installed binary" grep -q '^ExecStart=/usr/local/bin/memtrace serve' "$unit"

# ---- completion ----
complete_words() { # complete_words WORD...: what completing the last word offers
	bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_memtrace; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$MEMTRACE" "$@"
}
plan $((6 * 2 + 2))
for cmd in top snapshot record report run serve; do
	check "completion offers $cmd" grep -qx "$cmd" <(complete_words "")
	missing=""
	for opt in $("$MEMTRACE" "$cmd" --help | grep -E '^ +(-[[:alnum:]?], )?--[a-z]' |
		grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
		grep -qx -- "$opt" <(complete_words "$cmd" --) || missing="$missing $opt"
	done
	check "completion offers every option of $cmd${missing:+ (missing:$missing)}" [ -z "$missing" ]
done
check "completion offers --group-by values" \
	[ "$(complete_words serve --group-by "" | sort | tr '\n' ' ')" = "cgroup pid program user " ]
check "completion offers report formats" grep -qx pprof <(complete_words report --format "")

# ---- the unit ----
plan 1
if command -v systemd-analyze >/dev/null; then
	# the staged unit, pointed at the staged binary; man: links resolve in the staging tree
	sed "s|/usr/local/bin/memtrace|$root/usr/local/bin/memtrace|" "$unit" >"$tmp/memtrace-serve.service"
	out=$(MANPATH="$root/usr/local/share/man" systemd-analyze verify "$tmp/memtrace-serve.service" 2>&1)
	check "systemd-analyze verify accepts the unit${out:+: $out}" [ -z "$out" ]
	[ "$(ps -p 1 -o comm=)" = systemd ] ||
		echo "skip starting the unit: systemd is not PID 1 here ($(ps -p 1 -o comm=)); verified offline only"
else
	nok "systemd-analyze is missing"
fi

# serve with exactly the unit's capabilities, as an unprivileged user (what DynamicUser gives)
if [ "$(id -u)" -ne 0 ] || ! command -v setpriv >/dev/null; then
	skip_rest "unit capabilities: needs root and setpriv"
fi
plan 3
caps=$(sed -n 's/^AmbientCapabilities=//p' "$unit" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
check "the unit's capabilities are CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE ($caps)" [ "$caps" = "+bpf,+perfmon,+sys_ptrace" ]
# a root-owned process whose smaps_rollup nobody may read only with CAP_SYS_PTRACE
coproc WL { exec "$WORKLOADS/memload" --name inst_root --pages 256 --wait --hold; }
read -r _ wl_pid <&"${WL[0]}"
pids+=("$wl_pid")
echo go >&"${WL[1]}"
read -r _ <&"${WL[0]}" # done: 1 MiB touched
setpriv --reuid=65534 --regid=65534 --clear-groups cat "/proc/$wl_pid/smaps_rollup" >/dev/null 2>&1
check "without CAP_SYS_PTRACE nobody cannot read root's smaps_rollup (exit $?)" [ $? -ne 0 ]
port=$((20000 + RANDOM % 30000))
setpriv --reuid=65534 --regid=65534 --clear-groups --no-new-privs \
	--bounding-set=-all,"$caps" --inh-caps=-all,"$caps" --ambient-caps=-all,"$caps" \
	"$MEMTRACE" serve --listen "127.0.0.1:$port" -i 300ms --reconcile 500ms 2>"$tmp/caps.err" &
pids+=($!)
up=0
for _ in $(seq 600); do
	curl -sf -o /dev/null "http://127.0.0.1:$port/metrics" && up=1 && break
	kill -0 "${pids[-1]}" 2>/dev/null || break
	sleep 0.1
done
if [ "$up" -eq 1 ]; then
	ok "serve loads and answers with only the unit's capabilities as nobody"
	plan 2
	for _ in $(seq 300); do
		curl -s "http://127.0.0.1:$port/metrics" | grep -q '^memtrace_pss_bytes{program="inst_root"}' && break
		sleep 0.1
	done
	curl -s "http://127.0.0.1:$port/metrics" >"$tmp/caps.txt"
	pss=$(awk '$1 == "memtrace_pss_bytes{program=\"inst_root\"}" { print $2 }' "$tmp/caps.txt")
	check "with CAP_SYS_PTRACE, root's process is read: PSS of inst_root ${pss:-missing} bytes (>= 1 MiB touched)" \
		[ "${pss:-0}" -ge 1048576 ]
	check "no CAP_SYS_ADMIN: BPF run-time figures left out, not zero" \
		[ "$(grep -c '^memtrace_bpf_run_seconds_total' "$tmp/caps.txt")" -eq 0 ]
else
	nok "serve did not come up with the unit's capabilities: $(head -3 "$tmp/caps.err")"
fi
done_testing
