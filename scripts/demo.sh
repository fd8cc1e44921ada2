#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo behind `make demo`: start the bundled demo_app and watch it with
# `memtrace top` for a few seconds, then show the same processes as NDJSON.
set -eu
OUTPUT=${OUTPUT:-build}
MEMTRACE="$OUTPUT/memtrace"
DEMO="$OUTPUT/tests/workloads/demo_app"

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: memtrace top loads BPF programs: run as root (sudo make demo)" >&2
	exit 1
fi

"$DEMO" --seconds 7 &
demo_pid=$!
trap 'kill $demo_pid 2>/dev/null || true' EXIT

echo "== memtrace top -c demo_app -i 1s -d 5s (demo_app is pid $demo_pid; it forks a worker)"
"$MEMTRACE" top -c demo_app -i 1s -d 5s --reconcile 2s --batch

echo "== the same as NDJSON, one interval (memtrace top --json -p $demo_pid -n 1)"
"$MEMTRACE" top --json -p "$demo_pid" -n 1 -i 500ms
wait $demo_pid
trap - EXIT
echo "== demo done: try 'sudo $MEMTRACE top' for every process on this machine"
