#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The size habit (issue 8): no C function over 120 lines and no C file
# over 800, unless the file's header comment (the block after the SPDX
# line) gives the reason: "over 800 lines" for the file, and the function's
# name with "()" next to "over 120 lines" for a function. Prints one line
# per place without a reason; exits 1 when there is one.
# tests/cli/test_size.sh runs it.
#   scripts/check-size.sh [FILE...]   (default: scripts/format-files.sh)
cd "$(dirname "$0")/.." || exit 1
[ $# -gt 0 ] || set -- $(scripts/format-files.sh)
bad=0
for f in "$@"; do
	awk -v max_fn=120 -v max_file=800 '
	# the header comment: the first block comment in the first lines
	!seen && FNR <= 3 && /^\/\*/ && !/SPDX/ { in_header = 1 }
	in_header {
		if (/\*\//) { in_header = 0; seen = 1 }
		line = $0
		gsub(/\/\*|\*\/|^[ \t]*\*/, " ", line)
		header = header " " line
		gsub(/[ \t]+/, " ", header)
		next
	}
	/^[A-Za-z_]/ { sig = $0 }
	/^\{/ { start = FNR; name = sig; sub(/\(.*/, "", name); sub(/.*[ *]/, "", name) }
	/^\}/ && start {
		n = FNR - start + 1
		if (n > max_fn && !(index(header, name "()") && index(header, "over " max_fn " lines")))
			printf "%s:%d: %s() is %d lines: split it, or say why in the header\n",
				FILENAME, start, name, n
		start = 0
	}
	END {
		if (FNR > max_file && !index(header, "over " max_file " lines"))
			printf "%s: %d lines: split it, or say why in the header (\"over %d lines\")\n",
				FILENAME, FNR, max_file
	}' "$f"
done | grep . && bad=1
exit $bad
