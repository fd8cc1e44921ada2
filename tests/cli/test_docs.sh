#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Keeps --help, the README and the man pages in step: every long option
# that a command's --help lists must appear in README.md and in the
# command's man page (man/memtrace-CMD.8), every command in `memtrace --help`
# must have its own README section, man page and entry in memtrace(8), and
# every page must render without warnings. Prints TAP-style lines.
set -u
: "${MEMTRACE:?}"
# shellcheck source=tests/cli/tap.sh
. "$(dirname "$0")/tap.sh"

# roff writes '-' as '\-'
man_documents() { # man_documents PAGE OPTION
	[ -f "$1" ] && grep -qF -- "$(sed 's/-/\\-/g' <<<"$2")\\fR" "$1"
}

commands=$("$MEMTRACE" --help | awk '/^commands:/ { on = 1; next } on && NF { print $1 } on && !NF { exit }')
plan 1
check "memtrace --help lists commands" test -n "$commands"
for cmd in $commands; do
	page=man/memtrace-$cmd.8
	plan 4
	check "README has a '## memtrace $cmd' section" grep -q "^## memtrace $cmd" README.md
	check "$page exists" test -f "$page"
	check "memtrace(8) lists $cmd" grep -q "^\.B $cmd\$" man/memtrace.8
	help=$("$MEMTRACE" "$cmd" --help 2>&1)
	check "$cmd --help has EXAMPLES" grep -q EXAMPLES <<<"$help"
	# options from argp's option list (indented "-x, --name" or "      --name" lines)
	for opt in $(grep -E '^ +(-[[:alnum:]?], )?--[a-z]' <<<"$help" |
		grep -oE -- '--[a-z][a-z0-9-]+' | sort -u); do
		case $opt in --help | --usage) continue ;; esac
		plan 2
		check "README documents $cmd $opt" grep -q -- "$opt" README.md
		check "$page documents $cmd $opt" man_documents "$page" "$opt"
	done
done

pages=(man/*.8)
plan ${#pages[@]}
if command -v man >/dev/null; then
	for page in "${pages[@]}"; do
		warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
		if [ -z "$warnings" ] && LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q NAME; then
			ok "man -l renders $page without warnings"
		else
			nok "man -l $page: ${warnings:-no output}"
		fi
	done
else
	skip ${#pages[@]} "man is missing (scripts/setup-deps.sh installs man-db)"
fi
done_testing
