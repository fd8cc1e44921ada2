#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Keeps --help, the README and the man pages in step: every long option
# that a command's --help lists must appear in README.md and in the
# command's man page (man/memtrace-CMD.8), every command in `memtrace --help`
# must have its own README section, man page and entry in memtrace(8), and
# every page must render without warnings. Prints TAP-style lines.
set -u
: "${MEMTRACE:?}"

commands=$("$MEMTRACE" --help | awk '/^commands:/ { on = 1; next } on && NF { print $1 } on && !NF { exit }')
[ -n "$commands" ] && echo "ok - memtrace --help lists commands" || echo "not ok - memtrace --help lists no commands"
for cmd in $commands; do
	page=man/memtrace-$cmd.8
	if [ -f "$page" ]; then
		echo "ok - $page exists"
	else
		echo "not ok - no man page $page for $cmd"
	fi
	if grep -q "^\.B $cmd\$" man/memtrace.8; then
		echo "ok - memtrace(8) lists $cmd"
	else
		echo "not ok - memtrace(8) does not list $cmd"
	fi
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
		# roff writes '-' as '\-'
		if [ -f "$page" ] && grep -qF -- "$(sed 's/-/\\-/g' <<<"$opt")\\fR" "$page"; then
			echo "ok - $page documents $opt"
		else
			echo "not ok - $page does not document $cmd $opt"
		fi
	done
done

if command -v man >/dev/null; then
	for page in man/*.8; do
		warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
		if [ -z "$warnings" ] && LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q NAME; then
			echo "ok - man -l renders $page without warnings"
		else
			echo "not ok - man -l $page: ${warnings:-no output}"
		fi
	done
else
	echo "not ok - man is missing (scripts/setup-deps.sh installs man-db)"
fi
