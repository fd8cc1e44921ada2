// SPDX-License-Identifier: GPL-2.0
/*
 * libchain_nofp.so for tests/workloads/unwind_nofp: three levels of a
 * shared library built -O2 -fomit-frame-pointer, the innermost touching
 * the pages with memset (a frameless leaf in libc).
 */
#include <string.h>

#define NOINLINE __attribute__((noinline, noclone))

void lib_level1(char *p, size_t n);
void lib_level2(char *p, size_t n);
void lib_level3(char *p, size_t n);

NOINLINE void lib_level3(char *p, size_t n)
{
	memset(p, 1, n);
	__asm__ volatile("" ::: "memory");
}

NOINLINE void lib_level2(char *p, size_t n)
{
	lib_level3(p, n);
	__asm__ volatile("" ::: "memory");
}

NOINLINE void lib_level1(char *p, size_t n)
{
	lib_level2(p, n);
	__asm__ volatile("" ::: "memory");
}
