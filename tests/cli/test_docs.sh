#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Keeps --help and the README in step: every long option that a command's
# --help lists must appear in README.md, and every command in `memtrace
# --help` must have its own README section. Prints TAP-style lines.
set -u
: "${MEMTRACE:?}"

commands=$("$MEMTRACE" --help | awk '/^commands:/ { on = 1; next } on && NF { print $1 } on && !NF { exit }')
[ -n "$commands" ] && echo "ok - memtrace --help lists commands" || echo "not ok - memtrace --help lists no commands"
for cmd in $commands; do
	if grep -q "^## memtrace $cmd" README.md; then
		echo "ok - README has a section for $cmd"
	else
		echo "not ok - README has no '## memtrace $cmd' section"
	fi
	help=$("$MEMTRACE" "$cmd" --help 2>&1)
	if ! grep -q EXAMPLES <<<"$help"; then
		echo "not ok - $cmd --help has no EXAMPLES"
	fi
	# options from argp's option list (indented "-x, --name" or "      --name" lines)
	for opt in $(grep -E '^ +(-[[:alnum:]?], )?--[a-z]' <<<"$help" |
		grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
		case $opt in --help | --usage) continue ;; esac
		if grep -q -- "$opt" README.md; then
			echo "ok - README documents $cmd $opt"
		else
			echo "not ok - README does not document $cmd $opt"
		fi
	done
done
