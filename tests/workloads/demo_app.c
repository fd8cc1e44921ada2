// SPDX-License-Identifier: GPL-2.0
/*
 * The bundled demo: a small "service" whose memory does something worth
 * watching for a few seconds. The parent grows its heap by 4 MiB every
 * 100 ms (malloc + memset: brk and mmap, anon RSS), frees a quarter of it
 * now and then, and maps a shared memfd that a forked worker also touches
 * (shmem). Runs for --seconds S (default 8), then exits.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define CHUNK (4UL << 20)
#define MAX_CHUNKS 64
#define SHARED_BYTES (16UL << 20)

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	long seconds = argc > 2 && !strcmp(argv[1], "--seconds") ? atol(argv[2]) : 8;
	char *chunks[MAX_CHUNKS] = {};
	int fd = memfd_create("demo-shared", 0);
	char *shared;
	pid_t worker;

	if (seconds <= 0 || fd < 0 || ftruncate(fd, SHARED_BYTES))
		return 1;
	shared = mmap(NULL, SHARED_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (shared == MAP_FAILED)
		return 1;

	worker = fork();
	if (worker == 0) {
		/* the worker fills the shared region slowly: shmem RSS in both */
		for (unsigned long off = 0; off < SHARED_BYTES; off += 1UL << 20) {
			memset(shared + off, 1, 1UL << 20);
			nap_ms(seconds * 1000 / 20);
		}
		nap_ms(seconds * 1000 / 4);
		_exit(0);
	}

	for (long tick = 0; tick < seconds * 10; tick++) {
		int slot = tick % MAX_CHUNKS;

		if (tick % 16 == 15) {
			/* release a quarter: RSS goes down as well as up */
			for (int i = 0; i < MAX_CHUNKS / 4; i++) {
				free(chunks[i]);
				chunks[i] = NULL;
			}
		}
		if (!chunks[slot]) {
			chunks[slot] = malloc(CHUNK);
			if (chunks[slot])
				memset(chunks[slot], 0x5a, CHUNK);
		}
		shared[(tick * 4096) % SHARED_BYTES] += 1;
		nap_ms(100);
	}
	waitpid(worker, NULL, 0);
	return 0;
}
