# SPDX-License-Identifier: GPL-2.0
# TAP-style result lines shared by the CLI tests (sourced, not run).
# tests/run-tests.sh counts the "ok - ..." and "not ok - ..." lines it sees
# and fails a suite whose count differs from its plan, or that never got to
# done_testing (it died, or exited early without saying why):
#
#   plan 3                       # the next section makes 3 checks
#   check "a" true; ok "b"; nok "c"
#   if ! command -v go >/dev/null; then
#           skip 2 "pprof checks: go not installed"   # 2 planned checks not run
#   else ...
#   fi
#   done_testing                 # last line of the suite
#
# plan adds up: put one next to each section, counting that section's
# checks, so that sections (and their plans) can be added independently.
# A check whose output is redirected away is lost and fails the plan.
tap_planned=0
plan() { tap_planned=$((tap_planned + $1)); }
skip() { # skip N REASON: N planned checks that this run cannot make
	tap_planned=$((tap_planned - $1))
	echo "skip $1 - ${*:2}"
}
ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; }
check() { # check DESCRIPTION COMMAND...: ok when COMMAND succeeds
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else nok "$desc"; fi
}
done_testing() { echo "# tap: planned $tap_planned"; }
# skip_rest REASON: the later sections cannot run (e.g. not root): their
# plans are never added, so the suite ends here, complete (counted as one
# skip: how many checks they hold is not known)
skip_rest() {
	echo "skip - $*"
	done_testing
	exit 0
}

# The preamble of suites that start workloads in the background:
#   tap_tmpdir                   # $tmp: a new temporary directory; at exit
#                                # (INT/TERM too) the suite's background jobs
#                                # are killed and reaped, then $tmp is removed
#   tap_wait_done FILE TENTHS [PID]
#                                # until a tests/workloads program's "done ..."
#                                # line is in FILE: polls every 0.1 s, at most
#                                # TENTHS times, and stops early when PID (given)
#                                # has exited; 0 when the line came
tap_cleanup() {
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
tap_tmpdir() {
	tmp=$(mktemp -d) || exit 1
	trap tap_cleanup EXIT
	trap 'exit 1' INT TERM
}
tap_wait_done() {
	local i
	for ((i = 0; i < $2; i++)); do
		grep -q '^done ' "$1" 2>/dev/null && return 0
		[ $# -ge 3 ] && ! kill -0 "$3" 2>/dev/null && break
		sleep 0.1
	done
	grep -q '^done ' "$1" 2>/dev/null
}
