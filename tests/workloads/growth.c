// SPDX-License-Identifier: GPL-2.0
/*
 * Known growth for memtrace record/report: grow_64() touches 64 MiB with
 * the C library's memset, grow_16() touches 16 MiB in a frameless helper,
 * map_32() maps 32 MiB and never touches it. Both touchers fault inside a
 * leaf without a frame (gcc sets none up in a leaf even with
 * -fno-omit-frame-pointer; glibc's memset has none), which is exactly where
 * frame-pointer unwinding loses the caller.
 *
 *   growth [--pause] [--half]
 *     --pause  wait for a byte on stdin before growing
 *     --half   grow_64 touches 32 MiB (a "before" for report --diff)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1024UL * 1024)

/* global on purpose: named in reports, never cloned or renamed by gcc */
void touch_pages(char *p, size_t len);
char *grow_64(void);
char *grow_16(void);
char *map_32(void);

/* volatile: keeps gcc from expanding memset inline */
static volatile size_t sizes[3] = { 64 * MIB, 16 * MIB, 32 * MIB };

static char *map_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("growth: mmap");
		exit(1);
	}
	/* 4 KiB faults whatever the THP policy: the expected counts stay exact */
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

__attribute__((noinline)) void touch_pages(char *p, size_t len)
{
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
}

__attribute__((noinline)) char *grow_64(void)
{
	char *p = map_anon(sizes[0]);

	memset(p, 1, sizes[0]);
	return p;
}

__attribute__((noinline)) char *grow_16(void)
{
	char *p = map_anon(sizes[1]);

	touch_pages(p, sizes[1]);
	return p;
}

__attribute__((noinline)) char *map_32(void)
{
	char *p = mmap(NULL, sizes[2], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("growth: mmap");
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	char *a, *b, *c;

	for (int i = 1; i < argc; i++) {
		char go;

		if (strcmp(argv[i], "--pause") == 0) {
			if (read(STDIN_FILENO, &go, 1) != 1)
				return 1;
		} else if (strcmp(argv[i], "--half") == 0) {
			sizes[0] /= 2;
		} else {
			fprintf(stderr, "usage: growth [--pause] [--half]\n");
			return 2;
		}
	}
	a = grow_64();
	b = grow_16();
	c = map_32();
	printf("done %p %p %p\n", (void *)a, (void *)b, (void *)c);
	return 0;
}
