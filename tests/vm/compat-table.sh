#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prints the README's compatibility table (kernel x hook: the attach rung
# taken) from the kernel matrix's last run, each guest's `memtrace
# --version -v` in $OUTPUT/vm/ARCH/KERNEL/features, plus this machine's.
#   tests/vm/compat-table.sh   (after make vmtest)
set -u
OUTPUT=${OUTPUT:-build}
hooks=(page_fault_user rss_stat syscalls sched_process_fork sched_process_exec sched_process_exit)

row() { # row LABEL FEATURES-FILE RESULTS-FILE
	local label=$1 feat=$2 res=$3 h rung
	printf '| %s |' "$label"
	for h in "${hooks[@]}"; do
		# "hook rss_stat    tp_btf (why)" -> tp_btf
		rung=$(awk -v h="$h" '$1 == "hook" && $2 == h { print $3 }' "$feat")
		printf ' %s |' "${rung:--}"
	done
	if [ -s "$res" ]; then
		# "bpf 18/18, record 80/80 (2 skipped)": passed of those run, per suite
		awk '{ printf "%s %s %d/%d%s", (NR > 1 ? "," : ""), $1, $2, $2 + $3,
			($4 ? " (" $4 " skipped)" : "") } END { print " |" }' "$res"
	else
		printf ' - |\n'
	fi
}

printf '| kernel |'
printf ' %s |' "${hooks[@]}"
printf ' tests passed, per suite |\n|---|'
printf -- '---|%.0s' "${hooks[@]}"
printf -- '---|\n'
# other arches' runs are in their own build (make vmtest ARCH=arm64: build/arm64)
for dir in "$OUTPUT"/vm/*/*/ "$OUTPUT"/*/vm/*/*/; do
	[ -s "$dir/features" ] || continue
	arch=$(basename "$(dirname "$dir")")
	row "$(cat "$dir/kernel") $arch (Debian, qemu)" "$dir/features" "$dir/results"
done
if [ -x "$OUTPUT/memtrace" ]; then
	feat=$(mktemp)
	"$OUTPUT/memtrace" --version -v >"$feat" 2>&1
	row "$(uname -r) $(uname -m) (this machine)" "$feat" /dev/null
	rm -f "$feat"
fi
