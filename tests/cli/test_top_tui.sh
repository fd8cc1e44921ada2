#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace top's terminal UI driven in tmux at 80x24 and 200x50: no line
# wraps, every key changes what the screen says, filter and tree show the
# right processes (a known parent and child from tuiload), and q, F10 and
# Ctrl-C give the terminal back (stty after exit shows echo and icanon on).
# TAP-style. Every wait polls the pane for a condition, with a timeout.
set -u
: "${MEMTRACE:?}" "${WORKLOADS:?}"
TUILOAD="$WORKLOADS/tuiload"
tmp=$(mktemp -d)
S=memtrace-tui-$$
trap 'tmux kill-session -t "$S" 2>/dev/null; kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"
# plan counting (tests/cli/tap.sh on newer trees); these stand in where tap.sh has none
type plan >/dev/null 2>&1 || {
	plan() { :; }
	skip() { shift; echo "skip - $*"; }
	skip_rest() { echo "skip - $*"; exit 0; }
	done_testing() { :; }
}

command -v tmux >/dev/null ||
	skip_rest "terminal UI: tmux is not installed (scripts/setup-deps.sh installs it)"

cap() { tmux capture-pane -p -J -t "$S"; }
# waitfor REGEX [SECONDS]: the pane shows a line matching REGEX (default 15 s)
waitfor() {
	local i
	for i in $(seq $((${2:-15} * 10))); do
		cap | grep -qE -- "$1" && return 0
		sleep 0.1
	done
	return 1
}
# waitgone REGEX: no line matches any more
waitgone() {
	local i
	for i in $(seq 150); do
		cap | grep -qE -- "$1" || return 0
		sleep 0.1
	done
	return 1
}
key() { tmux send-keys -t "$S" "$@"; }
# a new session without the workloads' stdin FIFOs: the tmux server would hold them open
new_session() { tmux new-session "$@" {fam_in}>&- {other_in}>&-; }
# expect NAME KEYS... -- REGEX: after the keys the pane shows REGEX
expect() {
	local name=$1 keys=()
	shift
	while [ "$1" != -- ]; do keys+=("$1"); shift; done
	key "${keys[@]}"
	if waitfor "$2"; then ok "$name"; else nok "$name: no /$2/ in: $(cap | head -6 | tr '\n' '|')"; fi
}
# no_wraps W H: every line of the pane fits (joined wrapped lines would not)
no_wraps() {
	local longest lines
	longest=$(cap | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
	lines=$(cap | wc -l)
	if [ "$longest" -le "$1" ] && [ "$lines" -le "$2" ]; then
		ok "${1}x$2 $3: no line wraps (longest $longest, $lines lines)"
	else
		nok "${1}x$2 $3: longest line $longest > $1 or $lines lines > $2"
	fi
}
# start W H ARGS...: memtrace top in a fresh session; its status and stty after exit land in $tmp
start() {
	local w=$1 h=$2
	shift 2
	tmux kill-session -t "$S" 2>/dev/null
	rm -f "$tmp/rc" "$tmp/stty"
	new_session -d -s "$S" -x "$w" -y "$h" \
		"'$MEMTRACE' top $* 2>'$tmp/err'; echo \$? >'$tmp/rc'; stty -a >'$tmp/stty'; sleep 600"
	waitfor "^memtrace top [0-9:]+ " 30
}
wait_exit() {
	local i
	for i in $(seq 100); do
		[ -s "$tmp/stty" ] && return 0
		sleep 0.1
	done
	return 1
}
restored() { # restored HOW: exit 0 and a sane terminal after the UI left
	if wait_exit && [ "$(cat "$tmp/rc")" = 0 ] && grep -qE '(^| )echo( |$)' "$tmp/stty" &&
		grep -qE '(^| )icanon( |$)' "$tmp/stty"; then
		ok "$1 exits 0 and restores the terminal (echo, icanon on)"
	else
		nok "$1: exit '$(cat "$tmp/rc" 2>/dev/null)', stty: $(grep -oE -- '-?(echo|icanon)( |$)' "$tmp/stty" 2>/dev/null | tr '\n' ' ') $(head -2 "$tmp/err")"
	fi
}

# Sixty idle bystanders, started before the FIFOs below are open (they
# would hold them): the table is longer than any window tested here
# even on a fresh machine with few processes of its own (one had 28).
for _ in $(seq 60); do sleep 600 </dev/null >/dev/null 2>&1 & done
# A parent and its child with known names, and a bystander.
# (each holds until its stdin, a FIFO held open here, closes)
mkfifo "$tmp/fam.in" "$tmp/other.in"
# a name of this run's own: another run of this test on the machine must not match its filter
fam=tuif$(printf %05d $(($$ % 100000)))
"$TUILOAD" --anon-mib 4 --threads 1 --fork --name "$fam" <"$tmp/fam.in" >"$tmp/fam.out" &
exec {fam_in}>"$tmp/fam.in"
"$TUILOAD" --anon-mib 2 --threads 1 --name tuibystander <"$tmp/other.in" >"$tmp/other.out" &
exec {other_in}>"$tmp/other.in"
for _ in $(seq 300); do
	[ -s "$tmp/fam.out" ] && [ -s "$tmp/other.out" ] && break
	sleep 0.1
done
read -r _ fam_pid fam_child <"$tmp/fam.out"
read -r _ other_pid _ <"$tmp/other.out"

# --- 80x24 -------------------------------------------------------------------
plan 57
if ! start 80 24 -i 300ms --reconcile 1s --sort pid; then
	nok "80x24: the UI did not come up: $(head -3 "$tmp/err")"
	exit 0
fi
no_wraps 80 24 "at start"
check "80x24: header shows totals and MemAvailable" \
	eval 'cap | grep -qE "^shown: RSS .* PSS .* Swap .* Faults/s" && cap | grep -q "MemAvailable"'
check "80x24: key bar at the bottom" eval 'cap | tail -1 | grep -q "h Help"'
check "80x24: narrow columns dropped (no UNMAPPED), PID RSS and COMMAND kept" \
	eval 'cap | grep -E "^ +PID" | grep -v UNMAPPED | grep -q "RSS.*COMMAND"'

# scrolling: the table (with the sixty sleepers) is longer than the window
expect "PgDn scrolls a page" NPage -- "lines (1[0-9]|[2-9][0-9]|[0-9]{3,})-[0-9]+ of"
# (new processes may come after the last line while it is selected: it follows its process)
expect "End goes to the last line" End -- "lines ([2-9]|[1-9][0-9]+)[0-9]*-[0-9]+ of [0-9]+, at [1-9][0-9]+ *$"
expect "Home goes to the first line" Home -- "lines 1-[0-9]+ of [0-9]+, at 1 *$"
expect "Down moves the selection" Down -- ", at 2 *$"
expect "Up moves it back" Up -- ", at 1 *$"
expect "PgUp stays at the top" PPage -- ", at 1 *$"

expect "> sorts by the next column" '>' -- "sort: rss"
expect "< sorts by the previous column" '<' -- "sort: pid"
expect "F6 sorts by the next column" F6 -- "sort: rss"
expect "M sorts by RSS" '<' M -- "sort: rss"
expect "N sorts by PID" N -- "sort: pid"
expect "M sorts by RSS again" M -- "sort: rss"
expect "I inverts the order" I -- "sort: rss \(inverted\)"
key I
waitgone "inverted" && ok "I again restores the order" || nok "I again: still inverted"
expect "Z pauses" Z -- "\[PAUSED\]"
key Space
waitgone "PAUSED" && ok "Space resumes" || nok "Space: still paused"
expect "h shows the help screen" h -- "keys \(as in htop\)"
check "help lists the growth sort's window and hysteresis" eval 'cap | grep -q "last 5 intervals"'
# the help screen, --help and the README list the same keys
cap >"$tmp/helpscreen"
"$MEMTRACE" top --help >"$tmp/help"
readme="$(dirname "$0")/../../README.md"
for k in F1 F3 F4 F5 F6 F10 Ctrl-C Space PgUp PgDn Home End; do
	check "key $k in the help screen, top --help and README" \
		eval 'grep -q -- "$k" "$tmp/helpscreen" && grep -q -- "$k" "$tmp/help" && grep -q -- "$k" "$readme"'
done
key x
waitgone "keys \(as in htop\)" && ok "any key leaves the help" || nok "help stays"
expect "F1 shows the help screen" F1 -- "keys \(as in htop\)"
key Escape
waitgone "keys \(as in htop\)"
expect "? shows the help screen" '?' -- "keys \(as in htop\)"
key x
waitgone "keys \(as in htop\)"
no_wraps 80 24 "after the help"

# filter by name: the family only, parent and child
expect "\\ opens the filter prompt" '\' -- "^Filter: _"
key -l "$fam"
key Enter
if waitfor "\[filter: ${fam}\]"; then
	waitfor "^ +$fam_child " 5
	cap >"$tmp/pane"
	rows=$(awk 'f && NF && !/^h Help/ { print $1 } /^ +PID/ { f = 1 }' "$tmp/pane")
	# every other row must match too (tmux's send-keys client and the test's own
	# grep have ${fam} in their command lines), unless it is gone since
	strays=""
	for p in $rows; do
		[ -r "/proc/$p/cmdline" ] || continue
		{ tr '\0' ' ' <"/proc/$p/cmdline"; cat "/proc/$p/comm"; } 2>/dev/null |
			grep -qi "$fam" || strays="$strays $p"
	done
	if echo "$rows" | grep -qx "$fam_pid" && echo "$rows" | grep -qx "$fam_child" &&
		! echo "$rows" | grep -qx "$other_pid" && [ -z "$strays" ]; then
		ok "filter ${fam} shows the parent $fam_pid and the child $fam_child, not the bystander $other_pid, and only matches"
	else
		nok "filter ${fam} shows: $(echo "$rows" | tr "\n" " ") (want $fam_pid $fam_child; strays: $strays): $(cap | tail -4 | tr "\n" "|")"
	fi
else
	nok "filter: no [filter: ${fam}] in the header"
fi
expect "p shows the command line" p -- "COMMAND LINE"
check "the command line starts with the program's path (${TUILOAD:0:15})" \
	eval 'cap | grep -E "^ +$fam_pid " | grep -qF " ${TUILOAD:0:15}"'
expect "p again shows the command name" p -- "COMMAND *$"
expect "t shows the tree" t -- "\[tree\]"
if cap | grep -qE "^ +$fam_pid .* ${fam} *$" &&
	cap | grep -A1 -E "^ +$fam_pid " | tail -1 | grep -qE "^ +$fam_child .*\`- ${fam}-ch"; then
	ok "tree: the child $fam_child is under its parent $fam_pid"
else
	nok "tree: $(cap | sed -n '6,8p' | tr '\n' '|')"
fi
expect "F5 leaves the tree" F5 -- "sort: rss *$"
expect "g groups by program" g -- "\[group: program\]"
check "program groups: one line per name" eval 'cap | grep -qE "${fam} \(1\) *$"'
expect "g groups by user" g -- "\[group: user\]"
check "user group: root holds both" eval 'cap | grep -qE "^ +2 .*root \(2\) *$"'
expect "g groups by cgroup" g -- "\[group: cgroup\]"
expect "g ends grouping" g -- "sort: rss *$"
# search moves the selection onto the child without hiding anything
expect "/ opens the search prompt" / -- "^Search: _"
key -l child
if waitfor "\[search: child\]"; then
	at=$(cap | sed -nE 's/.*, at ([0-9]+) *$/\1/p')
	line=$(cap | awk -v n="$at" 'f { if (++i == n) print $1 } /^ +PID/ { f = 1 }')
	check "search selects the child (line $at: pid $line, want $fam_child)" [ "$line" = "$fam_child" ]
else
	nok "search: no [search: child] in the header"
fi
key Escape
waitgone "^Search:"
key '\'
waitfor "^Filter: ${fam}_"
key Escape
waitgone "\[filter: " && ok "Esc in the filter prompt clears the filter" || nok "Esc: the filter stays"
no_wraps 80 24 "after every key"
key q
restored "q"

# --- 200x50 -----------------------------------------------------------------
# enough processes to fill 46 rows on any machine, however few it runs
fillers=()
for _ in $(seq 46); do
	sleep 600 &
	fillers+=($!)
done
rows_shown() { cap | awk 'f && NF && !/^h Help/ { n++ } /^ +PID/ { f = 1 } END { print n + 0 }'; }
fills_window() { # the first frames may still be filling in
	local i
	for i in $(seq 100); do
		[ "$(rows_shown)" -ge 40 ] && return 0
		sleep 0.1
	done
	return 1
}
plan 7
if start 200 50 -i 300ms --reconcile 1s; then
	no_wraps 200 50 "at start"
	check "200x50: every column fits (UNMAPPED, USER shown)" \
		eval 'cap | grep -E "^ +PID" | grep -q "USER.*UNMAPPED.*COMMAND"'
	fills_window
	check "200x50: at least 40 process lines (got $(rows_shown))" [ "$(rows_shown)" -ge 40 ]
	key '\'
	key -l "$fam"
	key Enter p
	if waitfor "COMMAND LINE" && waitfor "\[filter: ${fam}\]"; then
		check "200x50: the command line has the arguments ($(cap | grep -E "^ +$fam_pid " | sed 's/  */ /g'))" \
			eval 'cap | grep -E "^ +$fam_pid " | grep -q "tuiload --anon-mib 4"'
	else
		nok "200x50: filter and command line: $(cap | head -9 | tr '\n' '|')"
	fi
	expect "200x50: t shows the tree" t -- "\[tree\]"
	no_wraps 200 50 "in the tree"
	key C-c
	restored "Ctrl-C"
else
	nok "200x50: the UI did not come up: $(head -3 "$tmp/err")"
fi
kill "${fillers[@]}" 2>/dev/null
wait "${fillers[@]}" 2>/dev/null

# F10 quits too; a resize keeps lines inside the new width
plan 2
if start 100 30 -i 300ms; then
	tmux resize-window -t "$S" -x 80 -y 24 2>/dev/null
	waitfor "^memtrace top" 5
	for _ in $(seq 30); do
		[ "$(cap | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')" -le 80 ] && break
		sleep 0.1
	done
	no_wraps 80 24 "after a resize from 100x30"
	key F10
	restored "F10"
else
	nok "100x30: the UI did not come up: $(head -3 "$tmp/err")"
fi

# A failure before the UI starts (no privileges) leaves the terminal as it was.
if command -v setpriv >/dev/null; then
	plan 1
	tmux kill-session -t "$S" 2>/dev/null
	rm -f "$tmp/rc" "$tmp/stty"
	new_session -d -s "$S" -x 80 -y 24 \
		"setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all '$MEMTRACE' top 2>'$tmp/err'; echo \$? >'$tmp/rc'; stty -a >'$tmp/stty'; sleep 600"
	if wait_exit && [ "$(cat "$tmp/rc")" = 1 ] && grep -qE '(^| )echo( |$)' "$tmp/stty"; then
		ok "a failed start (unprivileged: exit 1) leaves echo on"
	else
		nok "failed start: exit '$(cat "$tmp/rc" 2>/dev/null)', $(grep -oE -- '-?echo( |$)' "$tmp/stty" 2>/dev/null)"
	fi
fi

# ncurses is loaded at run time (include/curses_dl.h): without it, top on a
# terminal says which package to install, in one line, and goes on with the
# plain table. Hidden by a bind mount in a mount namespace of the test's own
plan 1
libcurses=$(ldconfig -p | awk '$1 == "libncurses.so.6" { print $NF; exit }')
if [ -n "$libcurses" ] && unshare -m true 2>/dev/null; then
	tmux kill-session -t "$S" 2>/dev/null
	rm -f "$tmp/rc" "$tmp/stty"
	new_session -d -s "$S" -x 80 -y 24 \
		"unshare -m sh -c 'mount --bind /dev/null \$(readlink -f $libcurses) && exec $MEMTRACE top -n 2 -i 300ms' 2>'$tmp/err'; echo \$? >'$tmp/rc'; stty -a >'$tmp/stty'; sleep 600"
	if wait_exit && [ "$(cat "$tmp/rc")" = 0 ] && [ "$(wc -l <"$tmp/err")" = 1 ] &&
		grep -q "cannot load libncurses.so.6: .*(install Debian's libncurses6): plain refreshing table" "$tmp/err"; then
		ok "without libncurses: one line naming libncurses6, then the plain table (exit 0)"
	else
		nok "without libncurses: exit '$(cat "$tmp/rc" 2>/dev/null)', stderr: $(head -3 "$tmp/err")"
	fi
else
	skip 1 "no libncurses.so.6 in ldconfig's cache, or no unshare -m here"
fi

exec {fam_in}>&- {other_in}>&-
wait "$fam_pid" "$other_pid" 2>/dev/null
done_testing
