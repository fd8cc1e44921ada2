#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Keeps --help and the README in step: every long option that a command's
# --help lists must appear in README.md, and every command in `memtrace
# --help` must have its own README section. Prints TAP-style lines.
set -u
: "${MEMTRACE:?}"
# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"

commands=$("$MEMTRACE" --help | awk '/^commands:/ { on = 1; next } on && NF { print $1 } on && !NF { exit }')
plan 1
check "memtrace --help lists commands" test -n "$commands"
for cmd in $commands; do
	plan 2
	check "README has a '## memtrace $cmd' section" grep -q "^## memtrace $cmd" README.md
	help=$("$MEMTRACE" "$cmd" --help 2>&1)
	check "$cmd --help has EXAMPLES" grep -q EXAMPLES <<<"$help"
	# options from argp's option list (indented "-x, --name" or "      --name" lines)
	for opt in $(grep -E '^ +(-[[:alnum:]?], )?--[a-z]' <<<"$help" |
		grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
		case $opt in --help | --usage) continue ;; esac
		plan 1
		check "README documents $cmd $opt" grep -q -- "$opt" README.md
	done
done
done_testing
