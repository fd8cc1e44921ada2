# SPDX-License-Identifier: GPL-2.0
# TAP-style result lines shared by the CLI tests (sourced, not run):
# tests/run-tests.sh counts "ok - ..." and "not ok - ..." lines.
ok() { echo "ok - $*"; }
nok() { echo "not ok - $*"; }
check() { # check DESCRIPTION COMMAND...: ok when COMMAND succeeds
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else nok "$desc"; fi
}
