#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The C sources under .clang-format (vmlinux.h is generated, not ours).
cd "$(dirname "$0")/.." || exit 1
for f in src/*.c src/*/*.c include/*.h bpf/*.c bpf/*.h tests/*.h tests/*/*.c bench/*.c; do
	[ -f "$f" ] && echo "$f"
done
