// SPDX-License-Identifier: GPL-2.0
/*
 * A heap with a known peak for the peak view (built -O2 without frame
 * pointers, as most binaries are): site_a allocates A = 24 MiB and site_b
 * B = 8 MiB in 64 KiB blocks, interleaved; everything of site_a is freed;
 * site_c then allocates C = 16 MiB (C < A, so the heap never again reaches
 * A + B). The peak holds A + B, from site_a and site_b only; the end holds
 * B + C. Prints the answers, after the peak (stdio's buffer comes later):
 * "peak BYTES", then "SITE BYTES_AT_PEAK BYTES_AT_END" per site.
 */
#include <stdio.h>
#include <stdlib.h>

#define KIB 1024UL
#define MIB (1024UL * 1024)
#define NOINLINE __attribute__((noinline, noclone))
#define BLOCK (64 * KIB) /* below glibc's mmap threshold; >> --sample-bytes 4K */
#define NA (24 * MIB / BLOCK)
#define NB (8 * MIB / BLOCK)
#define NC (16 * MIB / BLOCK)

static void *volatile a[NA], *volatile b[NB], *volatile c[NC];
static volatile unsigned long sink; /* distinct bodies: no identical-code folding */

static NOINLINE void *site_a(void)
{
	void *p = malloc(BLOCK);

	sink += 1;
	__asm__ volatile("" ::: "memory"); /* no tail call */
	return p;
}

static NOINLINE void *site_b(void)
{
	void *p = malloc(BLOCK);

	sink += 2;
	__asm__ volatile("" ::: "memory");
	return p;
}

static NOINLINE void *site_c(void)
{
	void *p = malloc(BLOCK);

	sink += 3;
	__asm__ volatile("" ::: "memory");
	return p;
}

int main(void)
{
	size_t ia = 0, ib = 0;

	/* three of site_a to one of site_b */
	while (ia < NA || ib < NB) {
		if (ia < NA && (ia % 3 != 0 || ib >= NB)) {
			if (!(a[ia++] = site_a()))
				return 1;
		} else if (!(b[ib++] = site_b())) {
			return 1;
		}
	}
	for (size_t i = 0; i < NA; i++)
		free(a[i]);
	for (size_t i = 0; i < NC; i++)
		if (!(c[i] = site_c()))
			return 1;
	printf("peak %lu\nsite_a %lu 0\nsite_b %lu %lu\nsite_c 0 %lu\n", (NA + NB) * BLOCK,
	       NA * BLOCK, NB * BLOCK, NB * BLOCK, NC * BLOCK);
	return 0;
}
