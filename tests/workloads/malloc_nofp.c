// SPDX-License-Identifier: GPL-2.0
/*
 * Known answers for record --malloc without frame pointers (built -O2
 * -fomit-frame-pointer, as most binaries are):
 *   callers     keep_big 24 MiB and keep_small 8 MiB (3:1) in 64 KiB blocks,
 *               interleaved, held to the end; churn_temp allocates 32 MiB
 *               more and frees each block at once (outstanding: nothing)
 *   churn N     N malloc/free pairs of 16..4095 bytes from two sites,
 *               churn_a and churn_b (3:1 by calls); a window of 4096
 *               blocks stays live, so frees are of older blocks
 *   spin        churn until killed (a process outside the recording)
 *   forks N     N children, each holding 16 blocks from keep_big made at
 *               once after fork, left with _exit (no exit handlers); the
 *               parent holds nothing of its own from keep_big
 * Prints what it holds at the end, one "site bytes" line per site, and
 * for churn the bytes each site allocated and the loop's elapsed_ns: the
 * answers a test or bench/bench_malloc.sh compares.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#define KIB 1024UL
#define MIB (1024UL * 1024)
#define NOINLINE __attribute__((noinline, noclone))
#define BLOCK (64 * KIB) /* below glibc's mmap threshold; >> --sample-bytes 4K */
#define WINDOW 4096

static void *volatile kept[512];    /* volatile: the compiler may not drop the mallocs */
static volatile unsigned long sink; /* distinct constants: no identical-code folding */
static void *volatile window[WINDOW];
static size_t window_bytes[WINDOW];

static NOINLINE void *keep_big(void)
{
	void *p = malloc(BLOCK);

	sink += 1;
	__asm__ volatile("" ::: "memory"); /* no tail call */
	return p;
}

static NOINLINE void *keep_small(void)
{
	void *p = malloc(BLOCK);

	sink += 2;
	__asm__ volatile("" ::: "memory");
	return p;
}

static NOINLINE void churn_temp(void)
{
	void *volatile p = malloc(BLOCK);

	free(p);
	__asm__ volatile("" ::: "memory");
}

static int callers(void)
{
	size_t n = 0;

	/* 512 blocks of 64 KiB: one in four from keep_small, small first */
	for (size_t i = 0; i < 512; i++) {
		kept[n] = i % 4 == 0 ? keep_small() : keep_big();
		if (!kept[n++])
			return 1;
		churn_temp();
	}
	printf("keep_big %lu\nkeep_small %lu\nchurn_temp 0\n", 24 * MIB, 8 * MIB);
	return 0;
}

static NOINLINE void *churn_a(size_t n)
{
	void *p = malloc(n);

	sink += 3;
	__asm__ volatile("" ::: "memory");
	return p;
}

static NOINLINE void *churn_b(size_t n)
{
	void *p = calloc(1, n);

	sink += 4;
	__asm__ volatile("" ::: "memory");
	return p;
}

static int churn(unsigned long ops, int forever)
{
	unsigned long long a = 0, b = 0, live = 0, live_bytes = 0;
	unsigned int seed = 12345;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long i = 0; forever || i < ops; i++) {
		size_t slot = i % WINDOW, n;

		seed = seed * 1103515245u + 12345u;
		n = 16 + (seed >> 8) % 4080;
		free(window[slot]);
		window_bytes[slot] = n;
		if (i % 4 == 3) {
			window[slot] = churn_b(n);
			b += n;
		} else {
			window[slot] = churn_a(n);
			a += n;
		}
		if (!window[slot])
			return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (size_t i = 0; i < WINDOW; i++) {
		live += window[i] ? 1 : 0;
		live_bytes += window[i] ? window_bytes[i] : 0;
	}
	printf("churn_a %llu\nchurn_b %llu\nlive_blocks %llu\nlive_bytes %llu\nelapsed_ns %lld\n",
	       a, b, live, live_bytes,
	       (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
	return 0;
}

/* Children that allocate from their first instruction after fork and skip exit handlers. */
static int forks(unsigned long n)
{
	int status, failed = 0;

	for (unsigned long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (pid == 0) {
			for (size_t k = 0; k < 16; k++)
				kept[k] = keep_big();
			_exit(0);
		}
	}
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status);
	printf("keep_big %lu\n", n * 16 * BLOCK);
	return failed;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	char *end;

	if (strcmp(mode, "callers") == 0)
		return callers();
	if (strcmp(mode, "spin") == 0)
		return churn(0, 1);
	if (strcmp(mode, "churn") == 0 && argc > 2) {
		unsigned long ops = strtoul(argv[2], &end, 10);

		if (*end == '\0' && ops > 0)
			return churn(ops, 0);
	}
	if (strcmp(mode, "forks") == 0 && argc > 2) {
		unsigned long n = strtoul(argv[2], &end, 10);

		if (*end == '\0' && n > 0 && n <= 1000)
			return forks(n);
	}
	fprintf(stderr, "usage: malloc_nofp callers|churn N|spin|forks N\n");
	return 2;
}
