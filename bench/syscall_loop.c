// SPDX-License-Identifier: GPL-2.0
/*
 * A syscall-heavy workload for the tracer's sys_enter/sys_exit cost: N
 * getppid() calls (none of them tracked), then "ns_per_syscall X".
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
	struct timespec a, b;

	if (n <= 0) {
		fprintf(stderr, "usage: syscall_loop [N > 0]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("ns_per_syscall %.1f\n",
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n);
	return 0;
}
