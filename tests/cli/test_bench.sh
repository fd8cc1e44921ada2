#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make bench` (bench/run.sh) runs every bench there is: its table names
# each bench/bench_*.sh once, each with a section of bench/README.md, and a
# bad BENCH is refused. Cheap: no bench is run.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/cli/tap.sh
. tests/cli/tap.sh

plan 4
listed=$(bench/run.sh --list | sort | tr '\n' ' ')
files=$(for f in bench/bench_*.sh; do basename "$f" .sh; done | sed 's/^bench_//' | sort | tr '\n' ' ')
if [ -n "$files" ] && [ "$listed" = "$files" ]; then
	ok "bench/run.sh lists every bench/bench_*.sh: $listed"
else
	nok "bench/run.sh lists '$listed', bench/ holds '$files': add the missing ones to run.sh's table"
fi
dups=$(bench/run.sh --list | sort | uniq -d | tr '\n' ' ')
check "each bench is listed once${dups:+ (twice: $dups)}" test -z "$dups"
missing=
while IFS= read -r section; do
	grep -qxF "## $section" bench/README.md || missing="$missing '$section'"
done < <(sed -n 's/^[a-z_]*|\([^|]*\)|.*/\1/p' bench/run.sh)
check "every bench's section is in bench/README.md${missing:+ (missing:$missing)}" test -z "$missing"
out=$(BENCH=no_such bench/run.sh 2>&1)
rc=$?
check "BENCH=no_such exits 2 naming it (got $rc: $out)" \
	test "$rc" = 2 -a -n "$(grep -F "'no_such'" <<<"$out")"
done_testing
