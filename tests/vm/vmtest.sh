#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel matrix: boots Debian's packaged kernels in qemu and runs the
# suites that carry kernel risk inside each, then prints kernel x suite.
#
#   tests/vm/vmtest.sh            (make vmtest; make test runs it too)
#   ARCH=arm64 tests/vm/vmtest.sh (make vmtest ARCH=arm64)
#
# Environment: OUTPUT (build directory, default build), ARCH (x86 or arm64,
# default this machine's), VM_KERNELS (Debian suites whose linux-image-ARCH
# to boot, default "bookworm bookworm-backports": 6.1 and 6.12), VM_SUITES
# (tests/run-tests.sh suites, comma-separated, default bpf,top,record-perf;
# record-perf is test_record with MEMTRACE_TEST_FAULTS=perf; "rungs", each
# hook's rung against the best the kernel offers, is always added first;
# "bench" adds guest.sh's getppid loop alone and under top), VM_TIMEOUT (seconds per
# boot), VM_ICOUNT (TCG only: qemu's -icount argument, e.g. shift=0,sleep=off,
# so guest time counts instructions and bench figures repeat whatever the
# host's load), VM_SMP (vCPUs, default 2), VM_DUMP_BTF=1 (only save each kernel's BTF, the input of
# scripts/gen-vmlinux.sh for another arch). Everything is fetched from
# Debian's archive with apt-get download into $OUTPUT/vm/cache-ARCH and
# unpacked with dpkg-deb -x (nothing is installed). The guest sees the
# host's root read-only over 9p (so the same build is tested) and writes its
# results to $OUTPUT/vm/ARCH/KERNEL over a second 9p share. A guest of
# another architecture (arm64 on x86) gets instead the Debian userland of
# tests/vm/userland.sh in $OUTPUT/vm/cache-ARCH/sysroot, the worktree (with
# the cross build in $OUTPUT, make vmtest ARCH=arm64) as a third share, and
# runs unit,bpf,record by default; see tests/vm/README.md. Prints the table and a closing
# "N passed, N failed, N skipped" line; exits non-zero on any failure.
set -u
OUTPUT=${OUTPUT:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
build=$(cd "$OUTPUT" 2>/dev/null && pwd) || {
	echo "vmtest: no build directory '$OUTPUT' (run make first)" >&2
	exit 1
}
# the tests build paths as $PWD/$OUTPUT: the guest gets it relative to the worktree
rel_build=${build#"$root"/}
[ "$rel_build" = "$build" ] && {
	echo "vmtest: OUTPUT must be inside the worktree ($root) for the guest to find it" >&2
	exit 1
}
arch=${ARCH:-$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')}
kernels=${VM_KERNELS:-bookworm bookworm-backports}
# the suites with kernel risk that fit the budget: under TCG on 2 cores bpf
# takes about a minute and top two (run and record take over ten: run them
# with VM_SUITES=bpf,top,run,record and VM_TIMEOUT=3600)
host_arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
foreign=
[ "$arch" != "$host_arch" ] && foreign=1
# another arch: the record path (page faults from the perf event, CFI
# unwinding of arm64 code) is what differs there
suites=${VM_SUITES:-${foreign:+unit,bpf,record}}
# record-perf: the record BPF test on the perf-event fault rung (guest.sh)
suites=${suites:-bpf,top,record-perf}
# rungs (guest.sh): every hook took the best rung that kernel offers; costs nothing
case ,$suites, in *,rungs,*) ;; *) suites=rungs,$suites ;; esac
# emulated arm64 runs unit,bpf,record in 20 to 40 minutes here
timeout=${VM_TIMEOUT:-$([ -n "$foreign" ] && echo 3600 || echo 900)}
mem=${VM_MEM:-2048}

case $arch in
x86)
	darch=amd64 qemu=qemu-system-x86_64 console=ttyS0
	machine=(-machine q35) cpu=max ;;
arm64)
	# pauth-impdef: TCG's QARMA pointer authentication is several times slower
	darch=arm64 qemu=qemu-system-aarch64 console=ttyAMA0
	machine=(-machine virt) cpu=max,pauth-impdef=on ;;
*)
	echo "vmtest: unsupported ARCH '$arch' (x86 or arm64)" >&2
	exit 2 ;;
esac

# Another architecture runs its own userland (tests/vm/userland.sh, which
# make vmtest ARCH=... runs before the cross build) with this build in it.
rootfs=$build/vm/cache-$darch/sysroot
if [ -n "$foreign" ] && [ -z "${VM_DUMP_BTF:-}" ]; then
	[ -f "$rootfs/.unpacked" ] || {
		echo "vmtest: no $arch userland in $rootfs (make vmtest ARCH=$arch makes it)" >&2
		exit 1
	}
	elf=$([ "$arch" = arm64 ] && echo aarch64)
	file -b "$build/memtrace" 2>/dev/null | grep -q "$elf" || {
		echo "vmtest: $build/memtrace is not an $arch build (make vmtest ARCH=$arch builds one)" >&2
		exit 1
	}
fi

# The one case that skips: no emulator for this architecture at all.
if ! command -v "$qemu" >/dev/null; then
	echo "skip vmtest: $qemu not found (scripts/setup-deps.sh installs qemu-system-${arch/x86/x86})"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
for tool in dpkg-deb cpio depmod xz zstd; do
	command -v "$tool" >/dev/null || {
		echo "vmtest: $tool not found (run scripts/setup-deps.sh)" >&2
		exit 1
	}
done

# KVM only where this machine's arch is the guest's and /dev/kvm opens;
# single-threaded TCG otherwise (multi-threaded TCG locked guests up, see
# tests/vm/README.md).
accel=(-accel tcg,thread=single)
if [ -z "$foreign" ] && [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; then
	accel=(-accel kvm) cpu=host
fi
if [ -n "${VM_ICOUNT:-}" ]; then
	[ "${accel[1]}" = kvm ] && accel=(-accel tcg,thread=single) cpu=max
	accel+=(-icount "$VM_ICOUNT")
fi

cache=$build/vm/cache-$darch
mkdir -p "$cache/lists/partial" "$cache/archives/partial" "$cache/debs"
cat >"$cache/sources.list" <<EOF
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-backports main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
# a private apt state: the host's sources and package lists stay untouched
apt_opts=(-o Dir::Etc::SourceList="$cache/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o Dir::State::Lists="$cache/lists" -o Dir::Cache="$cache"
	-o Dir::State::Status=/dev/null -o Debug::NoLocking=1
	-o APT::Architectures::="$darch" -o Acquire::Languages=none -o APT::Sandbox::User=root)
if [ -z "$(find "$cache/lists" -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null)" ]; then
	echo "vmtest: fetching Debian's package lists (bookworm, -security, -backports)"
	apt-get "${apt_opts[@]}" update -q >"$cache/update.log" 2>&1 || {
		echo "vmtest: apt-get update failed: $(tail -1 "$cache/update.log")" >&2
		exit 1
	}
fi

# fetch PKG: the .deb of PKG (name[:arch][/suite] or name=version) in $cache/debs;
# prints its path
fetch() {
	local spec=$1 deb
	(cd "$cache/debs" && apt-get "${apt_opts[@]}" download -q "$spec" >"$cache/download.log" 2>&1) || {
		echo "vmtest: cannot download $spec: $(tail -1 "$cache/download.log")" >&2
		return 1
	}
	deb=$(ls -t "$cache"/debs/"${spec%%[:/=]*}"_*.deb 2>/dev/null | head -1)
	[ -n "$deb" ] && echo "$deb"
}

# kernel_package SUITE: the versioned image package behind linux-image-ARCH in SUITE
kernel_package() {
	local spec=linux-image-$darch
	[ "$darch" != "$(dpkg --print-architecture)" ] && spec=$spec:$darch
	[ "$1" != bookworm ] && spec=$spec/$1
	apt-cache "${apt_opts[@]}" depends "$spec" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { sub(/:.*/, "", $2); print $2; exit }'
}

# The busybox of the guest's architecture, unpacked once.
bbdir=$cache/busybox-$darch
if [ ! -x "$bbdir/bin/busybox" ]; then
	spec=busybox-static
	[ "$darch" != "$(dpkg --print-architecture)" ] && spec=$spec:$darch
	deb=$(fetch "$spec") || exit 1
	rm -rf "$bbdir" && dpkg-deb -x "$deb" "$bbdir" || exit 1
fi

# modules_in_order KDIR VERSION MOD...: MODs and what they depend on, dependencies first
modules_in_order() {
	local kdir=$1 ver=$2
	shift 2
	awk -v want="$*" '
		function base(p) { sub(/.*\//, "", p); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", p); gsub(/-/, "_", p); return p }
		function visit(m,   n, i, d) {
			if (m in done || !(m in path)) return
			done[m] = 1
			n = split(deps[m], d, " ")
			for (i = 1; i <= n; i++) visit(base(d[i]))
			print path[m]
		}
		{ sub(/:$/, "", $1); m = base($1); path[m] = $1; $1 = ""; deps[m] = $0 }
		END { n = split(want, w, " "); for (i = 1; i <= n; i++) visit(w[i]) }
	' "$kdir/lib/modules/$ver/modules.dep"
}

# prepare SUITE: unpacks that suite's kernel and builds its initramfs; sets kver, kimage, initrd
prepare() {
	local pkg deb kdir mod stage
	pkg=$(kernel_package "$1")
	[ -n "$pkg" ] || {
		echo "vmtest: no linux-image-$darch in Debian $1" >&2
		return 1
	}
	kver=${pkg#linux-image-}
	kdir=$cache/kernels/$kver
	if [ ! -f "$kdir/.unpacked" ]; then
		echo "vmtest: fetching $pkg ($1)"
		deb=$(fetch "$pkg") || return 1
		rm -rf "$kdir" && mkdir -p "$kdir" && dpkg-deb -x "$deb" "$kdir" || return 1
		depmod -b "$kdir" "$kver" || return 1
		: >"$kdir/.unpacked"
	fi
	kimage=$(ls "$kdir"/boot/vmlinu[xz]-"$kver" 2>/dev/null | head -1)
	[ -n "$kimage" ] || {
		echo "vmtest: $pkg has no kernel image" >&2
		return 1
	}
	initrd=$cache/initrd-$kver.cpio.gz
	if [ ! -s "$initrd" ] || [ "$initrd" -ot tests/vm/init ]; then
		stage=$(mktemp -d)
		mkdir -p "$stage/bin" "$stage/modules"
		cp "$bbdir/bin/busybox" "$stage/bin/busybox"
		cp tests/vm/init "$stage/init"
		: >"$stage/modules.order"
		# built in on some kernels: those are simply not in modules.dep
		for mod in $(modules_in_order "$kdir" "$kver" virtio_pci 9pnet_virtio 9p); do
			local name=${mod##*/}
			case $name in
			*.xz) xz -dc "$kdir/lib/modules/$kver/$mod" >"$stage/modules/${name%.xz}" ;;
			*.zst) zstd -qdc "$kdir/lib/modules/$kver/$mod" >"$stage/modules/${name%.zst}" ;;
			*) cp "$kdir/lib/modules/$kver/$mod" "$stage/modules/$name" ;;
			esac
			name=${name%.xz}
			echo "${name%.zst}" >>"$stage/modules.order"
		done
		(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp" &&
			mv "$initrd.tmp" "$initrd"
		rm -rf "$stage"
	fi
}

# boot KIMAGE INITRD OUTDIR: runs one guest, its console in OUTDIR/console.log,
# its exit status and wall time in OUTDIR/rc and OUTDIR/seconds
boot() {
	local out=$3 start rc shares extra=
	start=$(date +%s)
	shares=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
	if [ -n "$foreign" ] && [ -z "${VM_DUMP_BTF:-}" ]; then
		shares=(-virtfs "local,path=$rootfs,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
			-virtfs "local,path=$root,mount_tag=tree,security_model=none,readonly=on,multidevs=remap")
		extra=" mt.tree=1"
		mkdir -p "$rootfs$root"
	fi
	timeout -k 10 "$timeout" "$qemu" "${accel[@]}" "${machine[@]}" -cpu "$cpu" \
		-smp "${VM_SMP:-2}" -m "$mem" -display none -no-reboot -serial "file:$out/console.log" \
		-monitor none -nic none \
		-kernel "$1" -initrd "$2" \
		-append "console=$console panic=-1 loglevel=4 mt.dir=$root mt.build=$rel_build mt.out=$out mt.suites=$suites${VM_DUMP_BTF:+ mt.btf=1}$extra" \
		"${shares[@]}" \
		-virtfs local,path="$out",mount_tag=out,security_model=none,multidevs=remap \
		>"$out/qemu.log" 2>&1
	rc=$?
	echo $rc >"$out/rc"
	echo $(($(date +%s) - start)) >"$out/seconds"
}

passed=0 failed=0 skipped=0
rows=() outs=()
IFS=, read -r -a suite_list <<<"$suites"
# Fetch and build first, then boot every kernel at once: TCG runs a guest
# on one host thread, so on a machine with a core per guest the matrix
# takes as long as its slowest kernel.
for ksuite in $kernels; do
	prepare "$ksuite" || {
		failed=$((failed + 1))
		rows+=("| $ksuite |$(printf ' not run |%.0s' "${suite_list[@]}")")
		continue
	}
	out=$build/vm/$arch/$kver
	rm -rf "$out" && mkdir -p "$out"
	echo "$kver" >"$out/kernel"
	echo "vmtest: booting $kver (${accel[*]}), suites $suites"
	boot "$kimage" "$initrd" "$out" &
	outs+=("$out")
done
wait
wall=$(cat "${outs[@]/%//seconds}" 2>/dev/null | sort -n | tail -1)

for out in "${outs[@]}"; do
	kver=$(basename "$out")
	rc=$(cat "$out/rc" 2>/dev/null || echo 1)
	secs=$(cat "$out/seconds" 2>/dev/null || echo "?")
	if [ -n "${VM_DUMP_BTF:-}" ]; then
		[ -s "$out/vmlinux.btf" ] || { echo "vmtest: no BTF from $kver" >&2; exit 1; }
		echo "vmtest: $kver's BTF in $out/vmlinux.btf ($secs s)"
		continue
	fi
	row="| $kver ($secs s) |"
	for s in "${suite_list[@]}"; do
		if [ "$s" = bench ]; then # figures, not checks: guest.sh's syscall_bench
			row+=" $out/bench |"
			continue
		fi
		res=$(awk -v s="$s" '$1 == s' "$out/results" 2>/dev/null)
		if [ -z "$res" ]; then
			row+=" not run |"
			failed=$((failed + 1))
			continue
		fi
		read -r _ p f sk t <<<"$res"
		passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + sk))
		row+=" $p/$((p + f))$([ "$sk" -gt 0 ] && echo " ($sk skip)") ${t}s |"
		if [ "$f" -gt 0 ]; then
			grep -a '^not ok\|^\[  FAILED  \]\|^\[  ERROR   \]' "$out/$s.log" | sed "s/^/  $kver $s: /"
		fi
	done
	rows+=("$row")
	[ "$rc" -eq 124 ] && echo "vmtest: $kver timed out after $timeout s (console: $out/console.log)"
	if [ ! -s "$out/results" ]; then
		echo "vmtest: $kver produced no results (exit $rc), last console lines:"
		tail -5 "$out/console.log" 2>/dev/null | sed 's/^/  /'
	fi
	[ -s "$out/attach" ] && sed -n 's/^.*attach: /  attach: /p' "$out/attach" | sed "s/^/  $kver/"
done
[ -n "${VM_DUMP_BTF:-}" ] && exit 0

echo
printf '| kernel (%s) |' "$arch"
printf ' %s |' "${suite_list[@]}"
printf '\n|---|'
printf -- '---|%.0s' "${suite_list[@]}"
printf '\n'
printf '%s\n' "${rows[@]}"
echo "(guests ran side by side: the matrix took ${wall:-?} s of wall time)"
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
