// SPDX-License-Identifier: GPL-2.0
/* The recording's maps by (pid, gen, start): one sort, binary searches. */
#include <errno.h>
#include <stdlib.h>
#include "maps_index.h"

struct maps_index {
	const struct mt_rec_map **maps; /* sorted by pid, gen, start */
	size_t n;
};

static int map_cmp(const void *a, const void *b)
{
	const struct mt_rec_map *x = *(const struct mt_rec_map *const *)a;
	const struct mt_rec_map *y = *(const struct mt_rec_map *const *)b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->gen != y->gen)
		return x->gen < y->gen ? -1 : 1;
	return (x->start > y->start) - (x->start < y->start);
}

struct maps_index *maps_index__new(const struct recording *rec)
{
	struct maps_index *ix = calloc(1, sizeof(*ix));
	const struct mt_rec_map *maps;
	size_t n;

	if (!ix)
		return NULL;
	maps = recording__maps(rec, &n);
	ix->maps = calloc(n ? n : 1, sizeof(*ix->maps));
	if (!ix->maps) {
		free(ix);
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		ix->maps[i] = &maps[i];
	ix->n = n;
	qsort(ix->maps, n, sizeof(*ix->maps), map_cmp);
	return ix;
}

void maps_index__free(struct maps_index *ix)
{
	if (!ix)
		return;
	free(ix->maps);
	free(ix);
}

size_t maps_index__count(const struct maps_index *ix)
{
	return ix->n;
}

const struct mt_rec_map *maps_index__at(const struct maps_index *ix, size_t i)
{
	return ix->maps[i];
}

/* The first position whose (pid, gen, start) is above (pid, gen, addr). */
static size_t upper(const struct maps_index *ix, uint32_t pid, uint32_t gen, uint64_t addr)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mt_rec_map *m = ix->maps[mid];

		if (m->pid < pid ||
		    (m->pid == pid && (m->gen < gen || (m->gen == gen && m->start <= addr))))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t maps_index__image(const struct maps_index *ix, uint32_t pid, uint32_t gen, size_t *first)
{
	size_t lo = 0, hi = ix->n, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mt_rec_map *m = ix->maps[mid];

		if (m->pid < pid || (m->pid == pid && m->gen < gen))
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (lo + n < ix->n && ix->maps[lo + n]->pid == pid && ix->maps[lo + n]->gen == gen)
		n++;
	return n;
}

ssize_t maps_index__find(const struct maps_index *ix, uint32_t pid, uint32_t gen, uint64_t addr)
{
	size_t i = upper(ix, pid, gen, addr);
	const struct mt_rec_map *m;

	if (!i)
		return -1;
	m = ix->maps[i - 1];
	if (m->pid != pid || m->gen != gen || addr >= m->end)
		return -1;
	return (ssize_t)(i - 1);
}
