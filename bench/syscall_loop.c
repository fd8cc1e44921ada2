// SPDX-License-Identifier: GPL-2.0
/*
 * A syscall-heavy workload for the tracer's sys_enter/sys_exit cost: N
 * getppid() calls (none of them tracked), then "ns_per_syscall X
 * cpu_ns_per_syscall Y" (wall time, and this process's CPU time).
 *   syscall_loop [N]   (default 2,000,000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000000;
	struct timespec a, b, ca, cb;

	if (n <= 0) {
		fprintf(stderr, "usage: syscall_loop [N > 0]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
	clock_gettime(CLOCK_MONOTONIC, &b);
	/* CPU time too: on a loaded machine wall time is mostly waiting for a CPU */
	printf("ns_per_syscall %.1f cpu_ns_per_syscall %.1f\n",
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n,
	       ((cb.tv_sec - ca.tv_sec) * 1e9 + (cb.tv_nsec - ca.tv_nsec)) / (double)n);
	return 0;
}
