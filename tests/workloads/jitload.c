// SPDX-License-Identifier: GPL-2.0
/*
 * A tiny JIT for the perf-map tests: copies a four-byte function into an
 * anonymous page made executable (W^X: written, then mprotect'ed), calls
 * it on every page of an N-page region, so that the page faults happen in
 * JIT code, and unless --no-map writes /tmp/perf-PID.map naming it, as JIT
 * runtimes do for perf. Prints "pid PID" first, "done" last. x86-64 only
 * (exit 2 elsewhere).
 *
 *   jitload [--pages N] [--no-map]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	/* movb $1, (%rdi); ret */
	static const unsigned char code[] = { 0xc6, 0x07, 0x01, 0xc3 };
	unsigned long pages = 4096;
	long page = sysconf(_SC_PAGESIZE);
	int write_map = 1;
	void (*touch)(char *);
	char *region, *jit;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pages") && i + 1 < argc)
			pages = strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--no-map"))
			write_map = 0;
		else {
			fprintf(stderr, "usage: jitload [--pages N] [--no-map]\n");
			return 2;
		}
	}
#ifndef __x86_64__
	fprintf(stderr, "jitload: x86-64 only\n");
	return 2;
#endif
	printf("pid %d\n", getpid());
	fflush(stdout);
	jit = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	region =
	    mmap(NULL, pages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (jit == MAP_FAILED || region == MAP_FAILED)
		return 1;
	memcpy(jit, code, sizeof(code));
	if (mprotect(jit, page, PROT_READ | PROT_EXEC))
		return 1;
	if (write_map) {
		char path[64];
		FILE *f;

		snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
		f = fopen(path, "w");
		if (!f)
			return 1;
		fprintf(f, "%lx %zx jit_touch\n", (unsigned long)jit, sizeof(code));
		fclose(f);
	}
	touch = (void (*)(char *))jit;
	for (unsigned long i = 0; i < pages; i++)
		touch(region + i * page);
	printf("done\n");
	return 0;
}
