// SPDX-License-Identifier: GPL-2.0
/*
 * A syscall-heavy workload for the tracer's syscall hooks: N getppid() calls
 * (none of them tracked), or with "mmap" N pairs of an anonymous one-page
 * mmap() and its munmap() (both counted, the page never touched), then
 * "ns_per_syscall X cpu_ns_per_syscall Y" (wall time, and this process's
 * CPU time, per syscall).
 *   syscall_loop [N] [getppid|mmap]   (default 2,000,000 getppid)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
	int mmaps = argc > 2 && strcmp(argv[2], "mmap") == 0;
	struct timespec a, b, ca, cb;
	long calls = mmaps ? 2 * n : n;

	if (n <= 0 || (argc > 2 && !mmaps && strcmp(argv[2], "getppid") != 0)) {
		fprintf(stderr, "usage: syscall_loop [N > 0] [getppid|mmap]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
	for (long i = 0; i < n; i++) {
		if (mmaps) {
			void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED || munmap(p, 4096))
				return 1;
		} else {
			syscall(SYS_getppid);
		}
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
	clock_gettime(CLOCK_MONOTONIC, &b);
	/* CPU time too: on a loaded machine wall time is mostly waiting for a CPU */
	printf("ns_per_syscall %.1f cpu_ns_per_syscall %.1f\n",
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)calls,
	       ((cb.tv_sec - ca.tv_sec) * 1e9 + (cb.tv_nsec - ca.tv_nsec)) / (double)calls);
	return 0;
}
