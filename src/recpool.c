// SPDX-License-Identifier: GPL-2.0
/*
 * Records by index in one reservation; free ones are a stack threaded
 * through their first four bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "recpool.h"

struct recpool {
	char *base; /* record i at base + (i - 1) * size */
	size_t size, bytes;
	uint32_t max;
	uint32_t high; /* records 1..high have been handed out at some time */
	uint32_t free; /* the last freed record, 0 = none; each holds the next */
	uint32_t in_use;
};

struct recpool *recpool__new(size_t size, uint32_t max)
{
	struct recpool *rp;

	if (size < sizeof(uint32_t) || !max) {
		errno = EINVAL;
		return NULL;
	}
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return NULL;
	rp->size = size;
	rp->max = max;
	rp->bytes = size * max;
	rp->base = mmap(NULL, rp->bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (rp->base == MAP_FAILED) {
		int err = errno;

		free(rp);
		errno = err;
		return NULL;
	}
	return rp;
}

void recpool__free(struct recpool *rp)
{
	if (!rp)
		return;
	munmap(rp->base, rp->bytes);
	free(rp);
}

void *recpool__at(const struct recpool *rp, uint32_t index)
{
	return rp->base + (size_t)(index - 1) * rp->size;
}

uint32_t recpool__get(struct recpool *rp)
{
	uint32_t index;

	if (rp->free) {
		index = rp->free;
		memcpy(&rp->free, recpool__at(rp, index), sizeof(rp->free));
	} else if (rp->high < rp->max) {
		index = ++rp->high;
	} else {
		return 0;
	}
	memset(recpool__at(rp, index), 0, rp->size);
	rp->in_use++;
	return index;
}

void recpool__put(struct recpool *rp, uint32_t index)
{
	if (!index)
		return;
	memcpy(recpool__at(rp, index), &rp->free, sizeof(rp->free));
	rp->free = index;
	rp->in_use--;
}

uint32_t recpool__in_use(const struct recpool *rp)
{
	return rp->in_use;
}

uint32_t recpool__high_water(const struct recpool *rp)
{
	return rp->high;
}
