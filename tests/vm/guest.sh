#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM, in a chroot of the host's root (see tests/vm/init):
#   guest.sh WORKTREE BUILD OUT SUITES
# writes into OUT (shared with the host): kernel (uname -r), features
# (memtrace --version -v), attach (the rung each hook took, from top -v)
# and one line per suite in results: "SUITE PASSED FAILED SKIPPED SECONDS",
# with each suite's full log in SUITE.log.
set -u
dir=$1 build=$2 out=$3
IFS=, read -r -a suites <<<"$4"
cd "$dir" || exit 1
export OUTPUT=$build

uname -r >"$out/kernel"
nproc >"$out/cpus"
cat /sys/kernel/mm/transparent_hugepage/enabled >"$out/thp" 2>/dev/null
"$build/memtrace" --version -v >"$out/features" 2>&1
"$build/memtrace" top -v --batch -n 1 -i 100ms >/dev/null 2>"$out/attach"
: >"$out/results"
for suite in "${suites[@]}"; do
	start=$(date +%s)
	tests/run-tests.sh "$suite" >"$out/$suite.log" 2>&1
	secs=$(($(date +%s) - start))
	line=$(tail -1 "$out/$suite.log")
	# "N passed, N failed, N skipped"
	read -r p _ f _ s _ <<<"${line//,/}"
	case "$p$f$s" in
	*[!0-9]* | "") p=0 f=1 s=0 ;; # the runner did not get to its summary
	esac
	echo "$suite $p $f $s $secs" >>"$out/results"
	echo "vm-guest: $suite: $p passed, $f failed, $s skipped in ${secs}s"
done
sync
