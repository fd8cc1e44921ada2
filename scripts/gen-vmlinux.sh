#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Regenerate a committed vmlinux.h. CO-RE relocations make the result
# usable on other kernels, so this only needs rerunning to reach newer types.
#   scripts/gen-vmlinux.sh                      this machine's arch, running kernel
#   scripts/gen-vmlinux.sh ARCH BTF KERNEL      from a BTF (or vmlinux ELF) file, e.g.
#     ARCH=arm64 VM_DUMP_BTF=1 VM_KERNELS=bookworm-backports tests/vm/vmtest.sh
#     scripts/gen-vmlinux.sh arm64 build/vm/arm64/6.12.95+deb12-arm64/vmlinux.btf \
#         "6.12.95+deb12-arm64 (Debian linux-image-arm64 from bookworm-backports)"
set -eu
if [ $# -ge 2 ]; then
	arch=$1 btf=$2 kernel=${3:-unknown}
else
	arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
	btf=/sys/kernel/btf/vmlinux kernel=$(uname -r)
fi
out="$(dirname "$0")/../vmlinux/$arch"
mkdir -p "$out"
bpftool btf dump file "$btf" format c >"$out/vmlinux.h.tmp"
mv "$out/vmlinux.h.tmp" "$out/vmlinux.h"
echo "$kernel" >"$out/KERNEL_VERSION"
echo "wrote $out/vmlinux.h from kernel $kernel"
