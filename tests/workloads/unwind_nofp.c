// SPDX-License-Identifier: GPL-2.0
/*
 * Known answers for unwinding without frame pointers (built -O2
 * -fomit-frame-pointer, as most binaries are). Each mode touches fresh
 * anonymous memory from known call sites:
 *   callers  small_caller 2 MiB, then big_caller 32 MiB, both through memset
 *   chains   chain_a1..chain_a8 24 MiB, chain_b1..chain_b8 8 MiB (3:1)
 *   lib      lib_caller -> lib_level1..3 (libchain_nofp.so) 16 MiB
 *   read     read_caller: read() of an 8 MiB file into a fresh buffer
 *   stack    stack_grower, 128 levels of 16 KiB frames under grow_stack:
 *            2 MiB of stack growth, each new page first touched where the
 *            stack pointer's own page is not there yet
 * Prints nothing; exits 0.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1024UL * 1024)
#define NOINLINE static __attribute__((noinline, noclone))

void lib_level1(char *p, size_t n);

static char *fresh(size_t n)
{
	char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	madvise(p, n, MADV_NOHUGEPAGE); /* 4 KiB faults whatever the THP setting */
	return p;
}

NOINLINE void small_caller(void)
{
	memset(fresh(2 * MIB), 1, 2 * MIB);
	__asm__ volatile("" ::: "memory");
}

NOINLINE void big_caller(void)
{
	memset(fresh(32 * MIB), 2, 32 * MIB);
	__asm__ volatile("" ::: "memory");
}

/*
 * Eight levels each. The asm after each call keeps it from becoming a tail
 * call; the distinct constant keeps the compiler from folding the two
 * chains into one (identical code folding).
 */
static volatile unsigned long level_sink;

#define LEVEL(name, next, k)                                                                       \
	NOINLINE void name(char *p, size_t n)                                                      \
	{                                                                                          \
		next(p, n);                                                                        \
		level_sink += k;                                                                   \
		__asm__ volatile("" ::: "memory");                                                 \
	}

NOINLINE void touch(char *p, size_t n)
{
	memset(p, 3, n);
	__asm__ volatile("" ::: "memory");
}

LEVEL(chain_a8, touch, 8)
LEVEL(chain_a7, chain_a8, 7)
LEVEL(chain_a6, chain_a7, 6)
LEVEL(chain_a5, chain_a6, 5)
LEVEL(chain_a4, chain_a5, 4)
LEVEL(chain_a3, chain_a4, 3)
LEVEL(chain_a2, chain_a3, 2)
LEVEL(chain_a1, chain_a2, 1)
LEVEL(chain_b8, touch, 18)
LEVEL(chain_b7, chain_b8, 17)
LEVEL(chain_b6, chain_b7, 16)
LEVEL(chain_b5, chain_b6, 15)
LEVEL(chain_b4, chain_b5, 14)
LEVEL(chain_b3, chain_b4, 13)
LEVEL(chain_b2, chain_b3, 12)
LEVEL(chain_b1, chain_b2, 11)

NOINLINE void lib_caller(void)
{
	lib_level1(fresh(16 * MIB), 16 * MIB);
	__asm__ volatile("" ::: "memory");
}

/* An 8 MiB file read into a fresh buffer: the kernel takes the faults, in read(). */
NOINLINE ssize_t read_caller(int fd, size_t n)
{
	char *buf = fresh(n);
	ssize_t got = 0, r;

	while ((size_t)got < n && (r = read(fd, buf + got, n - got)) > 0)
		got += r;
	__asm__ volatile("" ::: "memory");
	return got;
}

static int read_mode(void)
{
	static char block[65536];
	char path[] = "/tmp/unwind_nofp.XXXXXX";
	int fd = mkstemp(path);
	size_t n = 8 * MIB;

	if (fd < 0) {
		perror("mkstemp");
		return 1;
	}
	unlink(path);
	memset(block, 7, sizeof(block)); /* 64 KiB of ours: not the buffer read() fills */
	for (size_t off = 0; off < n; off += sizeof(block))
		if (write(fd, block, sizeof(block)) != (ssize_t)sizeof(block))
			return 1;
	lseek(fd, 0, SEEK_SET);
	return read_caller(fd, n) == (ssize_t)n ? 0 : 1;
}

/*
 * Each level moves the stack pointer 16 KiB down at once and then calls
 * memset on its array: the call's return address is the first write to
 * the new pages, so the stack pointer's page is absent at that fault, and
 * the caller's frame (with the return address of this level) is 16 KiB
 * higher. memset then fills the pages above it, from the bottom.
 */
#define GROW_FRAME 16384
#define GROW_LEVELS 128

NOINLINE int stack_grower(int depth)
{
	char buf[GROW_FRAME];
	int r;

	memset(buf, depth, sizeof(buf));
	__asm__ volatile("" : : "r"(buf) : "memory");
	r = depth > 1 ? stack_grower(depth - 1) : 0;
	__asm__ volatile("" ::: "memory");
	return r + buf[depth % GROW_FRAME];
}

/* memset's PLT slot bound here first: ld.so's lazy binding is not in the chains above */
static volatile size_t warm_len = 64;

NOINLINE int grow_stack(void)
{
	char warm[64];
	int r;

	memset(warm, 0, warm_len);
	__asm__ volatile("" : : "r"(warm) : "memory");
	r = stack_grower(GROW_LEVELS);

	__asm__ volatile("" ::: "memory");
	return r;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "callers") == 0) {
		small_caller();
		big_caller();
	} else if (strcmp(mode, "chains") == 0) {
		chain_a1(fresh(24 * MIB), 24 * MIB);
		chain_b1(fresh(8 * MIB), 8 * MIB);
	} else if (strcmp(mode, "lib") == 0) {
		lib_caller();
	} else if (strcmp(mode, "read") == 0) {
		return read_mode();
	} else if (strcmp(mode, "stack") == 0) {
		return grow_stack() == -1;
	} else {
		fprintf(stderr, "usage: unwind_nofp callers|chains|lib|read|stack\n");
		return 2;
	}
	return 0;
}
