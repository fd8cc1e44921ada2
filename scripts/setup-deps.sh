#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install everything memtrace needs to build, test and benchmark, from
# Debian's packages only. Idempotent: packages already present are skipped,
# so running it on every CI start costs one dpkg query.
set -eu

BUILD_PKGS="make gcc clang llvm pkg-config libbpf-dev bpftool libelf-dev \
libdw-dev zlib1g-dev libjson-c-dev g++ libiberty-dev libncurses-dev libmicrohttpd-dev libcrypt-dev"
TEST_PKGS="libcmocka-dev jq libxml2-utils smem golang-go strace libclang-rt-14-dev procps tmux \
prometheus curl openssl man-db groff-base clang-format heaptrack"
BENCH_PKGS="bpftrace hyperfine time linux-perf chromium heaptrack"
# tests/vm: qemu boots Debian's kernels (fetched by the test itself with
# apt-get download); cpio, kmod, xz and zstd build the initramfs
VM_PKGS="qemu-system-x86 cpio kmod xz-utils zstd"
# make vmtest ARCH=arm64: a cross build against a debootstrap'd arm64 userland
ARM64_PKGS="qemu-system-arm debootstrap gcc-aarch64-linux-gnu g++-aarch64-linux-gnu file"

want="$BUILD_PKGS $TEST_PKGS $VM_PKGS"
[ "${MEMTRACE_BENCH:-0}" = 1 ] && want="$want $BENCH_PKGS"
[ "${MEMTRACE_ARM64:-0}" = 1 ] && want="$want $ARM64_PKGS"

missing=""
for pkg in $want; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $pkg"
	fi
done

if [ -z "$missing" ]; then
	echo "setup: all dependencies present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: missing packages:$missing (run as root: sudo $0)" >&2
	exit 1
fi

echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -q --no-install-recommends $missing >/dev/null
echo "setup: done"
