// SPDX-License-Identifier: GPL-2.0
/*
 * A workload whose memory answers are known in advance, for the tracer's
 * tests, the demo and the benchmarks.
 *
 *   memload [--pages N] [--map BYTES] [--unmap BYTES] [--mremap BYTES]
 *           [--brk BYTES] [--brk-early] [--thp-mib M] [--name COMM] [--wait] [--hold]
 *           [--loops K] [--sleep-ms MS]
 *
 * In order: set comm (--name, any bytes, via prctl), then with --wait print
 * "ready <pid>" and wait for one byte on stdin; then mmap an anonymous region
 * of N pages and touch every page once; mmap BYTES more without touching and
 * munmap the first --unmap BYTES of that; grow the rest of it by --mremap
 * BYTES with one mremap (MREMAP_MAYMOVE); grow the break by --brk BYTES with
 * one brk(); with --thp-mib map M MiB aligned to 2 MiB, madvise it
 * MADV_HUGEPAGE and touch one byte per 2 MiB (a THP fault each where the
 * kernel grants a huge page); print "done"; with --hold wait until stdin
 * closes. --loops
 * repeats the map-touch-unmap cycle K times (the page-fault benchmark), with
 * the last region kept. --brk-early asks for the break (brk(0)) before
 * "ready", so that after it the brk that grows the break is the only one. No malloc and no stdio
 * after start, so that no hidden brk or mmap changes the answers. main() is
 * over 120 lines: the workload's steps in the order they run, one after another.
 */
#define _GNU_SOURCE /* mremap */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static void say(const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = write(STDOUT_FILENO, s, len);

		if (n <= 0)
			return;
		s += n;
		len -= n;
	}
}

static void say_num(const char *prefix, unsigned long v)
{
	char buf[64], digits[24];
	int n = 0;

	do {
		digits[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	strcpy(buf, prefix);
	for (int i = 0, len = strlen(buf); n > 0; i++)
		buf[len + i] = digits[--n], buf[len + i + 1] = '\0';
	strcat(buf, "\n");
	say(buf);
}

static int parse_ulong(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 0);
	return errno || end == s || *end || s[0] == '-' ? -1 : 0;
}

static void wait_byte(void)
{
	char c;

	while (read(STDIN_FILENO, &c, 1) < 0 && errno == EINTR)
		;
}

static void wait_eof(void)
{
	char c;

	while (read(STDIN_FILENO, &c, 1) > 0 || errno == EINTR)
		errno = 0;
}

/* Touch one byte per page: exactly one first-touch fault per page. */
static void __attribute__((noinline)) touch_pages(volatile char *p, unsigned long pages, long page)
{
	for (unsigned long i = 0; i < pages; i++)
		p[i * page] = 1;
}

int main(int argc, char **argv)
{
	unsigned long pages = 0, map_bytes = 0, unmap_bytes = 0, brk_bytes = 0, loops = 1;
	unsigned long mremap_bytes = 0;
	unsigned long sleep_ms = 0, thp_mib = 0;
	int wait_go = 0, hold = 0, brk_early = 0;
	uintptr_t cur_brk = 0;
	long page = sysconf(_SC_PAGESIZE);
	const char *name = NULL;
	char *region = NULL;

	for (int i = 1; i < argc; i++) {
		unsigned long *dst = NULL;

		if (!strcmp(argv[i], "--wait")) {
			wait_go = 1;
			continue;
		}
		if (!strcmp(argv[i], "--hold")) {
			hold = 1;
			continue;
		}
		if (!strcmp(argv[i], "--brk-early")) {
			brk_early = 1;
			continue;
		}
		if (i + 1 >= argc)
			goto usage;
		if (!strcmp(argv[i], "--name")) {
			name = argv[++i];
			continue;
		}
		if (!strcmp(argv[i], "--pages"))
			dst = &pages;
		else if (!strcmp(argv[i], "--map"))
			dst = &map_bytes;
		else if (!strcmp(argv[i], "--unmap"))
			dst = &unmap_bytes;
		else if (!strcmp(argv[i], "--brk"))
			dst = &brk_bytes;
		else if (!strcmp(argv[i], "--mremap"))
			dst = &mremap_bytes;
		else if (!strcmp(argv[i], "--loops"))
			dst = &loops;
		else if (!strcmp(argv[i], "--sleep-ms"))
			dst = &sleep_ms;
		else if (!strcmp(argv[i], "--thp-mib"))
			dst = &thp_mib;
		if (!dst || parse_ulong(argv[++i], dst))
			goto usage;
	}
	if (unmap_bytes > map_bytes || !loops || (mremap_bytes && unmap_bytes >= map_bytes))
		goto usage;

	if (name)
		prctl(PR_SET_NAME, name, 0, 0, 0);
	if (brk_early)
		cur_brk = syscall(SYS_brk, 0);
	if (wait_go) {
		say_num("ready ", (unsigned long)getpid());
		wait_byte();
	}

	for (unsigned long l = 0; pages && l < loops; l++) {
		if (region)
			munmap(region, pages * page);
		region = mmap(NULL, pages * page, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (region == MAP_FAILED)
			return 1;
		/* one fault per page whatever the THP policy: the expected counts stay exact */
		madvise(region, pages * page, MADV_NOHUGEPAGE);
		touch_pages(region, pages, page);
	}
	if (map_bytes) {
		char *extra = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (extra == MAP_FAILED)
			return 1;
		if (unmap_bytes && munmap(extra, unmap_bytes))
			return 1;
		if (mremap_bytes &&
		    mremap(extra + unmap_bytes, map_bytes - unmap_bytes,
			   map_bytes - unmap_bytes + mremap_bytes, MREMAP_MAYMOVE) == MAP_FAILED)
			return 1;
	}
	if (brk_bytes) {
		/* raw syscalls: glibc's sbrk may add a brk(0) query, which moves nothing */
		uintptr_t cur = brk_early ? cur_brk : (uintptr_t)syscall(SYS_brk, 0);

		if (syscall(SYS_brk, cur + brk_bytes) != (long)(cur + brk_bytes))
			return 1;
	}
	if (thp_mib) {
		const unsigned long huge = 2UL << 20;
		unsigned long len = (thp_mib << 20) + huge;
		char *raw =
		    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *aligned;

		if (raw == MAP_FAILED)
			return 1;
		aligned = (char *)(((uintptr_t)raw + huge - 1) & ~(huge - 1));
		madvise(aligned, thp_mib << 20, MADV_HUGEPAGE);
		for (unsigned long off = 0; off < (thp_mib << 20); off += huge)
			((volatile char *)aligned)[off] = 1;
	}
	if (sleep_ms) {
		struct timespec ts = { sleep_ms / 1000, (sleep_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	say("done\n");
	if (hold)
		wait_eof();
	return 0;

usage:
	say("usage: memload [--pages N] [--map BYTES] [--unmap BYTES] [--mremap BYTES] [--brk "
	    "BYTES] "
	    "[--brk-early] "
	    "[--thp-mib M] [--name COMM] [--wait] [--hold] [--loops K] [--sleep-ms MS]\n");
	return 2;
}
