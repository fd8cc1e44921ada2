#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A Debian userland of another architecture for the kernel matrix, made
# once and kept in CACHE (tests/vm/README.md, "arm64"):
#   tests/vm/userland.sh ARCH CACHE
# debootstrap --foreign fetches bookworm's minbase plus what memtrace links
# with and its tests run into CACHE/debootstrap; CACHE/sysroot is every one
# of those packages unpacked with dpkg-deb -x, absolute symbolic links made
# relative. It is both the cross compiler's --sysroot (and pkg-config's
# PKG_CONFIG_SYSROOT_DIR) and the root the guest runs in. Debootstrap's
# second stage, which runs the packages' maintainer scripts, is not run: in
# an emulated guest over 9p it installed 2 packages in 4 minutes here (and
# this machine has no binfmt_misc for qemu-user-static). What those scripts
# would make that the tests need is made below (users, groups, awk).
set -eu
arch=$1 cache=$2
case $arch in
arm64) darch=arm64 ;;
*)
	echo "userland: no userland recipe for ARCH '$arch' (arm64)" >&2
	exit 2 ;;
esac
mirror=${VM_MIRROR:-http://deb.debian.org/debian}
# what memtrace links with and its tests run (jq, file), and the -dev side
# the cross build compiles against
pkgs=libbpf1,libelf1,libdw1,libjson-c5,zlib1g,libncurses6,libmicrohttpd12,libcmocka0
pkgs=$pkgs,jq,procps,file,libbpf-dev,libelf-dev,libdw-dev,zlib1g-dev,libjson-c-dev
pkgs=$pkgs,libncurses-dev,libmicrohttpd-dev,libcrypt-dev,libcmocka-dev,libiberty-dev
pkgs=$pkgs,libc6-dev,libstdc++-12-dev,libgcc-12-dev,binutils,libxml2-utils

mkdir -p "$cache"
boot=$cache/debootstrap sysroot=$cache/sysroot
# made again when the list above changes
[ "$(cat "$sysroot/.unpacked" 2>/dev/null)" = "$pkgs" ] && exit 0
if [ "$(cat "$boot/.fetched" 2>/dev/null)" != "$pkgs" ]; then
	command -v debootstrap >/dev/null || {
		echo "userland: debootstrap not found (MEMTRACE_ARM64=1 scripts/setup-deps.sh)" >&2
		exit 1
	}
	echo "userland: debootstrap --foreign $darch bookworm (minbase and memtrace's libraries)"
	rm -rf "$boot"
	debootstrap --foreign --arch="$darch" --variant=minbase --include="$pkgs" \
		bookworm "$boot" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
		echo "userland: debootstrap failed: $(tail -1 "$cache/debootstrap.log")" >&2
		exit 1
	}
	echo "$pkgs" >"$boot/.fetched"
fi
echo "userland: unpacking $(ls "$boot"/var/cache/apt/archives/*.deb | wc -l) packages into $sysroot"
rm -rf "$sysroot" && mkdir -p "$sysroot"
for deb in "$boot"/var/cache/apt/archives/*.deb; do
	dpkg-deb -x "$deb" "$sysroot"
done
# libz.so -> /lib/...: the linker would follow it into this machine's root
find "$sysroot" -lname '/*' | while read -r link; do
	ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$sysroot$(readlink "$link")")" "$link"
done
# base-passwd's and mawk's maintainer scripts
cp "$sysroot/usr/share/base-passwd/passwd.master" "$sysroot/etc/passwd"
cp "$sysroot/usr/share/base-passwd/group.master" "$sysroot/etc/group"
[ -e "$sysroot/usr/bin/awk" ] || ln -s mawk "$sysroot/usr/bin/awk"
mkdir -p "$sysroot/proc" "$sysroot/sys" "$sysroot/dev" "$sysroot/tmp" "$sysroot/run" "$sysroot/root"
echo "$pkgs" >"$sysroot/.unpacked"
