// SPDX-License-Identifier: GPL-2.0
/*
 * What turning the kernel's BPF run-time statistics on and off costs: each
 * BPF_ENABLE_STATS and the close of its fd flip the static key
 * bpf_stats_enabled_key, which patches kernel text on every CPU. Times N
 * on/off pairs and prints "us_per_flip_pair X" (root only).
 *   stats_flip [N]   (default 2,000)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

int main(int argc, char **argv)
{
	char *end;
	long n = argc > 1 ? strtol(argv[1], &end, 10) : 2000;
	struct timespec a, b;

	if (argc > 1 && (*end || n <= 0)) {
		fprintf(stderr, "usage: stats_flip [N > 0]\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);

		if (fd < 0) {
			fprintf(stderr, "stats_flip: BPF_ENABLE_STATS: %s\n", strerror(errno));
			return 1;
		}
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("us_per_flip_pair %.1f\n",
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / (double)n);
	return 0;
}
