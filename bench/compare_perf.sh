#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memtrace record/report beside perf's DWARF answer on real Debian binaries:
#   perf record -e page-faults -c 1 --call-graph dwarf -- CMD
#   memtrace record -- CMD ; memtrace report
# For each workload, prints the top-5 call sites by share of fault bytes on
# both sides (a call site is the innermost frame outside libc, the loader,
# libstdc++ and the vdso; kernel frames are dropped, so a fault the kernel
# took on user memory goes to the caller of the syscall), the median stack
# depth (user frames, weighted by bytes), and the bytes without a call site.
# Needs root, linux-perf (MEMTRACE_BENCH=1 scripts/setup-deps.sh), a build.
# Ends with one table over the workloads: the largest gap between the two
# tools' shares of perf's top-5 sites, the median depths, the bytes without a
# call site, and what perf lost (its ring buffer). Sites in stripped code are
# compared by function (the FDE around them, see by_function), the raw-PC gap
# beside in parentheses, and the gap between two perf runs (PERF_TWICE=0: one).
#   bench/compare_perf.sh [WORKLOAD...]     (sort python cc1 git; default all)
# ROUNDS=N runs every workload N times (one perf reference per round) and ends
# with the largest and the median gap of each workload over the rounds;
# MT_BEFORE=path/memtrace records each round with that build too, against the
# same perf run (main's build beside this one). A perf run that lost samples
# is taken again (PERF_TRIES, default 3): a reference with holes moves shares.
# cc1 compiles a generated 23k-line C file (no headers: cc1 runs without the
# driver); git runs `git log -p` on a clone of this repository (REPO=PATH for
# another one).
set -u
OUTPUT=${OUTPUT:-build}
MEMTRACE=${MEMTRACE:-$OUTPUT/memtrace}
SIZE_MB=${SIZE_MB:-40}
PERF_MMAP=${PERF_MMAP:-128M}
CC1_FUNCS=${CC1_FUNCS:-1050} # 23 lines each
REPO=${REPO:-$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null)}
tmp=$(mktemp -d /tmp/mt-compare.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

command -v perf >/dev/null || { echo "perf not found: apt-get install linux-perf" >&2; exit 1; }
[ -x "$MEMTRACE" ] || { echo "no $MEMTRACE: run make first" >&2; exit 1; }

awk_hex='function hex(h,   i, v) { sub(/^0x/, "", h); v = 0
	for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
	return v }'
system_dso='libc\.so|libc-|ld-linux|libstdc\+\+|libpthread|\[vdso\]|libm\.so'

# N functions of 23 lines: a struct, loops, a switch, calls to the one before,
# so that cc1 builds, optimizes and emits a real amount of trees and RTL
gen_c() { # gen_c N
	awk -v n="$1" 'BEGIN {
		for (i = 0; i < n; i++) {
			printf "struct s%d { int a[%d]; double b; const char *name; struct s%d *next; };\n", i, i % 13 + 3, i
			printf "static int f%d(struct s%d *p, int n, int k)\n{\n\tint acc = %d;\n\n", i, i, i
			printf "\tfor (int i = 0; i < n; i++) {\n\t\tswitch ((i + k) %% 5) {\n"
			printf "\t\tcase 0:\n\t\t\tacc += p->a[i %% %d] * %d;\n\t\t\tbreak;\n", i % 13 + 3, i % 7 + 2
			printf "\t\tcase 1:\n\t\t\tacc ^= (int)(p->b * %d.5);\n\t\t\tbreak;\n", i % 11
			printf "\t\tcase 2:\n\t\t\tacc -= p->name ? p->name[i %% 4] : %d;\n\t\t\tbreak;\n", i % 17
			printf "\t\tdefault:\n\t\t\tacc += p->next ? p->next->a[0] : k;\n\t\t}\n\t}\n"
			if (i > 0)
				printf "\treturn acc + (n > 1 ? f%d((struct s%d *)p, n / 2, acc) : 0);\n}\n", i - 1, i - 1
			else
				printf "\treturn acc;\n}\n"
		}
		printf "int entry(void *p, int n);\nint entry(void *p, int n)\n{\n\treturn f%d(p, n, 1);\n}\n", n - 1
	}'
}

workload() { # workload NAME: sets cmd=(the command line)
	case $1 in
	sort)
		[ -f "$tmp/in.txt" ] ||
			awk -v n=$((SIZE_MB * 1024 * 1024 / 40)) 'BEGIN { srand(7);
				for (i = 0; i < n; i++) printf "%08x %s %d\n", int(rand() * 2^31),
					"payload-text-for-sorting", i }' >"$tmp/in.txt"
		cmd=(sort -o "$tmp/out.txt" "$tmp/in.txt")
		;;
	python)
		cmd=(/usr/bin/python3 -c 'l = [str(i) * 3 for i in range(1500000)]; d = {i: i * 2 for i in range(800000)}')
		;;
	cc1)
		[ -f "$tmp/big.c" ] || gen_c "$CC1_FUNCS" >"$tmp/big.c"
		cmd=("$(gcc -print-prog-name=cc1)" -quiet -O2 "$tmp/big.c" -o "$tmp/big.s")
		;;
	git)
		[ -d "$tmp/repo" ] || git clone -q --no-local "$REPO" "$tmp/repo" ||
			{ echo "cannot clone $REPO" >&2; return 1; }
		cmd=(git -C "$tmp/repo" --no-pager log -p)
		;;
	*)
		echo "unknown workload '$1' (sort, python, cc1, git)" >&2
		return 1
		;;
	esac
}

# perf script -F ip,sym,dso: one sample per block of frames, innermost first;
# names raw (mangled) on both sides, as the two demanglers print them differently;
# --no-inline, since memtrace names functions, not inlined call sites.
perf_summary() { # perf_summary PERF.DATA -> "site share" lines, then "depth N", "nosite PCT"
	perf script --no-inline --no-demangle -i "$1" -F ip,sym,dso 2>/dev/null | awk -v sys="$system_dso" '
	function hexinc(h,   i, v, d, out) { # h + 1, in hex (mawk has no strtonum)
		v = 0
		for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
		v++
		out = ""
		do { d = v % 16; out = substr("0123456789abcdef", d + 1, 1) out; v = int(v / 16) } while (v > 0)
		return out
	}
	function flush() {
		if (!insample) return
		n++
		# as memtrace: all frames in system code, the innermost one is the site
		if (site == "") site = first
		if (site == "" || site == "[unknown]") nosite++; else w[site]++
		print "D", nf
		insample = 0; site = ""; first = ""; nf = 0
	}
	/^[ \t]*$/ { flush(); next }
	{
		insample = 1
		line = $0
		dso = line; sub(/.*\(/, "", dso); sub(/\)[ \t]*$/, "", dso)
		if (dso ~ /kernel\.kallsyms|^\[unknown\]$/ && nf == 0 && line ~ /kallsyms/) next
		if (line ~ /kallsyms/) next
		nf++
		sym = $2
		# unnamed (a stripped binary): module+offset, as memtrace labels it;
		# perf gives a caller frame as its return address - 1, memtrace as is
		if (sym == "[unknown]" && dso != "[unknown]") {
			base = dso; sub(/.*\//, "", base)
			sym = base "+0x" (nf > 1 ? hexinc($1) : $1)
		}
		if (dso ~ /^\//) dsos[dso] = 1
		if (nf == 1) first = sym
		if (site == "" && dso !~ sys) site = sym
	}
	END {
		flush()
		for (s in w) printf "%s %.2f\n", s, 100 * w[s] / n
		printf "nosite %.2f\n", n ? 100 * nosite / n : 0
		printf "samples %d\n", n
		for (d in dsos) print d >DSOS
	}' DSOS="$tmp/dsos" >"$tmp/perf.raw"
	grep -v '^D ' "$tmp/perf.raw"
	# every sample weighs one page: the plain median of the depths
	grep '^D ' "$tmp/perf.raw" | cut -d' ' -f2 | sort -n |
		awk '{ d[NR] = $1 } END { printf "depth %d\n", NR ? d[int((NR + 1) / 2)] : 0 }'
}

# Sites from memtrace's JSON (its own call-site rule, by module), depth from folded stacks.
memtrace_summary() { # memtrace_summary DATA
	"$MEMTRACE" report -i "$1" --no-demangle --event fault --format json --top 100000 2>/dev/null |
		jq -r 'def hex: [recurse(if . >= 16 then (. / 16 | floor) else empty end) | . % 16] |
				reverse | map("0123456789abcdef"[.:(. + 1)]) | join("");
			def site_name: if .function == null then "\(.module)+0x\(.module_offset | hex)"
				else .function end;
			.events[] | select(.event == "fault") | .total_bytes as $t |
			(.sites[] | select((.function // "") | startswith("[") | not) |
				"\(site_name) \(100 * .bytes / $t)"),
			"nosite \(100 * ([.sites[] | select((.function // "") | startswith("[")) | .bytes] | add // 0) / $t)"'
	# the median depth of the bytes: stacks by depth, then the one at half the bytes
	"$MEMTRACE" report -i "$1" --event fault --format folded 2>/dev/null |
		awk '{ print split($0, f, ";") - 1, $NF }' | sort -n |
		awk '{ d[NR] = $1; b[NR] = $2; tot += $2 }
		END { for (i = 1; i <= NR; i++) { acc += b[i]
			if (acc * 2 >= tot) { printf "depth %d\n", d[i]; exit } } }'
}

# A stripped binary's site is an address (module+0xOFF, a file offset on both
# sides), and which PC of a loop faults first moves with ASLR between two runs:
# both sides' unnamed sites are named by the function around them, the start of
# the .eh_frame FDE that covers the address ("module:fde@0xVADDR"), and their
# shares summed, as a user reads a stripped binary's profile (functions, not
# PCs). Named sites stay as they are. Modules are found by basename among the
# files perf saw.
by_function() { # by_function SUMMARY > SUMMARY (site share lines; others pass)
	local base path
	awk '$1 ~ /\+0x[0-9a-f]+$/ { b = $1; sub(/\+0x[0-9a-f]+$/, "", b); print b }' "$1" |
		sort -u | while read -r base; do
		path=$(grep -m1 "/$base\$" "$tmp/dsos" 2>/dev/null)
		[ -n "$path" ] && [ -f "$path" ] || continue
		[ -s "$tmp/fde.$base" ] || {
			readelf -lW "$path" 2>/dev/null | awk '$1 == "LOAD" { print "L", $2, $3, $5 }'
			readelf --debug-dump=frames "$path" 2>/dev/null |
				awk '$4 == "FDE" { sub(/^pc=/, "", $6); split($6, r, /\.\./); print "F", r[1], r[2] }'
		} | awk "$awk_hex"' { printf "%s %.0f %.0f %.0f\n", $1, hex($2), hex($3), hex($4) }' |
			sort -k1,1 -k2,2n >"$tmp/fde.$base"
		echo "$base $tmp/fde.$base"
	done >"$tmp/fde.list"
	awk -v LIST="$tmp/fde.list" "$awk_hex"'
	function tohex(v,   d, out) { out = ""
		do { d = v % 16; out = substr("0123456789abcdef", d + 1, 1) out; v = int(v / 16) } while (v > 0)
		return out }
	BEGIN {
		while ((getline l < LIST) > 0) {
			split(l, a, " "); m = a[1]
			while ((getline t < a[2]) > 0) {
				split(t, f, " ")
				if (f[1] == "L") { nl[m]++; lo[m, nl[m]] = f[2]; lv[m, nl[m]] = f[3]; ls[m, nl[m]] = f[4] }
				else { nf[m]++; fs[m, nf[m]] = f[2]; fe[m, nf[m]] = f[3] }
			}
		}
	}
	$1 !~ /\+0x[0-9a-f]+$/ { print; next }
	{
		b = $1; sub(/\+0x[0-9a-f]+$/, "", b); o = $1; sub(/.*\+0x/, "", o); off = hex(o)
		name = $1; va = -1
		for (i = 1; i <= nl[b]; i++)
			if (off >= lo[b, i] && off < lo[b, i] + ls[b, i]) { va = off - lo[b, i] + lv[b, i]; break }
		if (va >= 0 && nf[b]) { # the last FDE starting at or below va, if it covers va
			l = 1; h = nf[b]; k = 0
			while (l <= h) {
				mid = int((l + h) / 2)
				if (fs[b, mid] <= va) { k = mid; l = mid + 1 } else h = mid - 1
			}
			if (k && va < fe[b, k]) name = b ":fde@0x" tohex(fs[b, k])
		}
		w[name] += $2
	}
	END { for (s in w) printf "%s %.2f\n", s, w[s] }' "$1"
}

# the largest gap over perf's top 5, each site's share on both sides (0 if absent)
top5_gap() { # top5_gap PERF_SUMMARY MEMTRACE_SUMMARY
	awk 'NR == FNR { m[$1] += $2; next } { d = $2 - m[$1]; if (d < 0) d = -d
		if (d > g) g = d } END { printf "%.2f", g }' <(grep -vE '^(depth|nosite|samples) ' "$2") \
		<(grep -vE '^(depth|nosite|samples) ' "$1" | sort -t' ' -k2 -nr | head -5)
}

side_by_side() { # side_by_side PERF_SUMMARY MEMTRACE_SUMMARY
	printf "  %-40s %7s   %-40s %7s\n" "perf --call-graph dwarf" "share" "memtrace" "share"
	grep -vE '^(depth|nosite|samples) ' "$1" | sort -t' ' -k2 -nr | head -5 >"$tmp/p5"
	grep -vE '^(depth|nosite|samples) ' "$2" | sort -t' ' -k2 -nr | head -5 >"$tmp/m5"
	gap=$(top5_gap "$1" "$2")
	paste "$tmp/p5" "$tmp/m5" | awk -F'\t' '{ split($1, a, " "); split($2, b, " ");
		printf "  %-40s %6.2f%%   %-40s %6.2f%%\n", substr(a[1], 1, 40), a[2], substr(b[1], 1, 40), b[2] }'
	printf "  median stack depth (user frames)  perf %s   memtrace %s\n" \
		"$(awk '$1 == "depth" { print $2 }' "$1")" "$(awk '$1 == "depth" { print $2 }' "$2")"
	printf "  fault bytes without a call site   perf %.2f%%   memtrace %.2f%%\n" \
		"$(awk '$1 == "nosite" { print $2 }' "$1")" "$(awk '$1 == "nosite" { print $2 }' "$2")"
}

[ $# -eq 0 ] && set -- sort python cc1 git
MT_BEFORE=${MT_BEFORE:-}
ROUNDS=${ROUNDS:-1}
PERF_TRIES=${PERF_TRIES:-3}
printf "| workload | top-5 sites (perf) | largest share gap, pp (by PC) | perf vs perf, pp | median depth perf / memtrace | bytes without a site perf / memtrace | perf samples lost | MT_BEFORE: gap, pp (by PC) / depth / without a site |\n|---|---|---|---|---|---|---|---|\n" >"$tmp/table"
: >"$tmp/gaps"
perf_run() { # perf_run OUT: records cmd, prints its samples and losses, OUT.pc and OUT.sum
	# perf's default buffer (516 KiB) drops a fifth of the 8 KiB dwarf samples of a
	# fault-heavy run, in bursts, which moves its shares by points: a large one, and
	# whatever it still lost is printed with the figures
	local try
	for try in $(seq "$PERF_TRIES"); do
		perf record -q -m "$PERF_MMAP" -e page-faults -c 1 --call-graph dwarf -o "$tmp/perf.data" \
			-- "${cmd[@]}" >/dev/null 2>"$tmp/perf.err" || { cat "$tmp/perf.err"; exit 1; }
		perf report -i "$tmp/perf.data" --stats 2>/dev/null |
			awk '$1 == "SAMPLE" { s = $3 } $1 == "LOST_SAMPLES" { l = $3 }
			END { printf "  perf: %d samples, %d lost\n", s, l }' | tee "$1.lost"
		[ "$(awk '{ print $4 }' "$1.lost")" = 0 ] && break
	done
	perf_summary "$tmp/perf.data" >"$1.pc"
	by_function "$1.pc" >"$1.sum"
	rm -f "$tmp/perf.data"
}

for round in $(seq "$ROUNDS"); do
for w in "$@"; do
	workload "$w" || exit 2
	[ "$ROUNDS" -gt 1 ] && echo "== round $round"
	echo "== $w: ${cmd[*]}"
	perf_run "$tmp/perf"
	"$MEMTRACE" record ${RECORD_ARGS:-} -f -o "$tmp/mt.data" -- "${cmd[@]}" >/dev/null 2>"$tmp/mt.err" ||
		{ cat "$tmp/mt.err"; exit 1; }
	memtrace_summary "$tmp/mt.data" >"$tmp/mt.pc"
	by_function "$tmp/mt.pc" >"$tmp/mt.sum"
	"$MEMTRACE" report -i "$tmp/mt.data" 2>/dev/null | sed -n '1,3p' | sed 's/^/  /'
	side_by_side "$tmp/perf.sum" "$tmp/mt.sum"
	# how far perf's own answer moves between two runs of the same command
	# (ASLR, allocation order): the floor under any gap to memtrace
	if [ "${PERF_TWICE:-1}" = 1 ]; then
		perf_run "$tmp/perf2" >/dev/null
		noise=$(top5_gap "$tmp/perf.sum" "$tmp/perf2.sum")
		echo "  perf against a second perf run: largest gap over its top 5 $noise pp"
	else
		noise=-
	fi
	before=-
	if [ -n "$MT_BEFORE" ]; then
		"$MT_BEFORE" record -f -o "$tmp/mb.data" -- "${cmd[@]}" >/dev/null 2>"$tmp/mb.err" ||
			{ cat "$tmp/mb.err"; exit 1; }
		MEMTRACE=$MT_BEFORE memtrace_summary "$tmp/mb.data" >"$tmp/mb.pc"
		by_function "$tmp/mb.pc" >"$tmp/mb.sum"
		bgap=$(top5_gap "$tmp/perf.sum" "$tmp/mb.sum")
		before="$bgap ($(top5_gap "$tmp/perf.pc" "$tmp/mb.pc")) / $(awk '$1 == "depth" { print $2 }' "$tmp/mb.sum") / $(awk '$1 == "nosite" { printf "%.2f%%", $2 }' "$tmp/mb.sum")"
		echo "  MT_BEFORE ($MT_BEFORE): largest gap over perf's top 5 $before"
		rm -f "$tmp/mb.data"
	fi
	echo "$w $gap ${bgap:--}" >>"$tmp/gaps"
	printf "| %s | %s | %s (%s) | %s | %s / %s | %s%% / %.2f%% | %s | %s |\n" "$w" \
		"$(cut -d' ' -f1 "$tmp/p5" | paste -sd, | sed 's/,/, /g')" "$gap" \
		"$(top5_gap "$tmp/perf.pc" "$tmp/mt.pc")" "$noise" \
		"$(awk '$1 == "depth" { print $2 }' "$tmp/perf.sum")" \
		"$(awk '$1 == "depth" { print $2 }' "$tmp/mt.sum")" \
		"$(awk '$1 == "nosite" { print $2 }' "$tmp/perf.sum")" \
		"$(awk '$1 == "nosite" { print $2 }' "$tmp/mt.sum")" \
		"$(awk '{ print $4 }' "$tmp/perf.lost")" "$before" >>"$tmp/table"
	rm -f "$tmp/mt.data"
done
done
echo
cat "$tmp/table"
[ "$ROUNDS" -gt 1 ] || exit 0
echo
echo "| workload | rounds | largest gap, pp: max / median | MT_BEFORE: max / median |"
echo "|---|---|---|---|"
for w in "$@"; do
	awk -v w="$w" '$1 == w { n++; a[n] = $2; b[n] = $3 }
	function med(v, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
	END { if (!n) exit; ma = mb = 0
		for (i = 1; i <= n; i++) { if (a[i] + 0 > ma) ma = a[i] + 0; if (b[i] + 0 > mb) mb = b[i] + 0 }
		ra = sprintf("%.2f / %.2f", ma, med(a, n))
		rb = b[1] == "-" ? "-" : sprintf("%.2f / %.2f", mb, med(b, n))
		printf "| %s | %d | %s | %s |\n", w, n, ra, rb }' "$tmp/gaps"
done
