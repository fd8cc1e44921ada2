#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Regenerate the committed vmlinux.h for this machine's architecture from
# the running kernel's BTF. CO-RE relocations make the result usable on
# other kernels, so this only needs rerunning to reach newer types.
set -eu
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
out="$(dirname "$0")/../vmlinux/$arch"
mkdir -p "$out"
bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$out/vmlinux.h"
uname -r > "$out/KERNEL_VERSION"
echo "wrote $out/vmlinux.h from kernel $(uname -r)"
