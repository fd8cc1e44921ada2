#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The C sources match .clang-format: `make format` rewrites them, this
# checks them (one line per file that differs). Formatting differs between
# clang-format releases, so the check runs with the one the style file was
# settled on (Debian bookworm's 14) and skips with the reason otherwise.
set -u
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=tests/cli/tap.sh
. tests/cli/tap.sh

command -v clang-format >/dev/null ||
	skip_rest "format: clang-format is not installed (scripts/setup-deps.sh installs it)"
major=$(clang-format --version | grep -oE 'version [0-9]+' | grep -oE '[0-9]+')
[ "$major" = 14 ] || skip_rest "format: clang-format $major here, the style is settled on 14"

files=$(scripts/format-files.sh)
plan 2
check "there are sources to check ($(wc -w <<<"$files") files)" test -n "$files"
# shellcheck disable=SC2086
bad=$(clang-format --dry-run $files 2>&1 | grep -oE '^[^:]+:[0-9]+' | sort -u -t: -k1,1)
if [ -z "$bad" ]; then
	ok "every source matches .clang-format"
else
	nok "sources differ from .clang-format (run make format): $(tr '\n' ' ' <<<"$bad")"
fi
done_testing
