#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The size habit (issue 8, scripts/check-size.sh): no C function over 120
# lines and no C file over 800 without the reason in its header comment.
# The tree passes, and the checker finds what it should in made-up files.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/cli/tap.sh
. tests/cli/tap.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# gen FILE FN_LINES TOTAL_LINES [HEADER]: a C file with one function
gen() {
	{
		echo "// SPDX-License-Identifier: GPL-2.0"
		echo "/*"
		echo " * ${4:-A test file.}"
		echo " */"
		echo "int f(void)"
		echo "{"
		for _ in $(seq $(($2 - 2))); do echo "	;"; done
		echo "}"
		for _ in $(seq $(($3 - $2 - 5))); do echo "int x;"; done
	} >"$1"
}

plan 5
out=$(scripts/check-size.sh 2>&1)
check "every C file and function is within size or says why${out:+: $out}" test -z "$out"
gen "$tmp/long_fn.c" 121 200
out=$(scripts/check-size.sh "$tmp/long_fn.c")
check "a 121-line function is reported ($out)" grep -q "f() is 121 lines" <<<"$out"
gen "$tmp/ok_fn.c" 120 200
check "a 120-line function is not" test -z "$(scripts/check-size.sh "$tmp/ok_fn.c")"
gen "$tmp/long_file.c" 10 801
out=$(scripts/check-size.sh "$tmp/long_file.c")
check "an 801-line file is reported ($out)" grep -q "801 lines" <<<"$out"
gen "$tmp/why.c" 130 900 "f() is over 120 lines and this file over 800 lines: a test."
check "reasons in the header are taken" test -z "$(scripts/check-size.sh "$tmp/why.c")"
done_testing
