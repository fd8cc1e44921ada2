// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark population for memtrace snapshot: N child processes, each
 * writing PRIVATE_KIB of its own anonymous memory and touching all of a
 * SHARED_MIB MAP_SHARED region made by the parent (so every child's page
 * tables map it and smaps_rollup has that many pages to walk). Prints
 * "ready" once every child is set up, then waits; the children die with
 * the parent (kill it with SIGTERM).
 *   snapshot_spawn N PRIVATE_KIB [SHARED_MIB]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static unsigned long num(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "snapshot_spawn: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned long n, priv_kib, shared_mib = 0;
	volatile char *shared = NULL;
	int ready[2];

	if (argc < 3) {
		fprintf(stderr, "usage: snapshot_spawn N PRIVATE_KIB [SHARED_MIB]\n");
		return 2;
	}
	n = num(argv[1]);
	priv_kib = num(argv[2]);
	if (argc > 3)
		shared_mib = num(argv[3]);
	if (shared_mib) {
		shared = mmap(NULL, shared_mib << 20, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (shared == MAP_FAILED) {
			perror("snapshot_spawn: mmap shared");
			return 1;
		}
		for (unsigned long off = 0; off < shared_mib << 20; off += 4096)
			shared[off] = 1;
	}
	if (pipe(ready)) {
		perror("snapshot_spawn: pipe");
		return 1;
	}
	for (unsigned long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("snapshot_spawn: fork");
			return 1;
		}
		if (pid == 0) {
			volatile char *p = NULL;
			unsigned long sum = 0;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() == 1)
				_exit(0);
			if (priv_kib) {
				p = mmap(NULL, priv_kib << 10, PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				if (p == MAP_FAILED)
					_exit(1);
				for (unsigned long off = 0; off < priv_kib << 10; off += 4096)
					p[off] = 1;
			}
			for (unsigned long off = 0; shared && off < shared_mib << 20; off += 4096)
				sum += (unsigned long)shared[off];
			if (write(ready[1], &sum, 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
	}
	for (unsigned long i = 0; i < n; i++) {
		char c;

		if (read(ready[0], &c, 1) != 1) {
			perror("snapshot_spawn: read");
			return 1;
		}
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}
