/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A recording's maps sorted by (pid, gen, start), for the two readers that
 * look addresses up in them: the unwinder (src/unwind.c) and the
 * symbolizer (src/symbolize.c). Positions in the index are stable for its
 * life, so a reader can keep side arrays by position (its module of each
 * map). The index points into the recording, which must outlive it.
 */
#ifndef MEMTRACE_MAPS_INDEX_H
#define MEMTRACE_MAPS_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "recording.h"

struct maps_index;

/* NULL with errno set (ENOMEM). */
struct maps_index *maps_index__new(const struct recording *rec);
void maps_index__free(struct maps_index *ix);

/* How many maps there are, and the one at position i (< that count). */
size_t maps_index__count(const struct maps_index *ix);
const struct mt_rec_map *maps_index__at(const struct maps_index *ix, size_t i);

/* The maps of (pid, gen): [*first, *first + count) of the index; count may be 0. */
size_t maps_index__image(const struct maps_index *ix, uint32_t pid, uint32_t gen, size_t *first);

/* The position of the map of (pid, gen) that holds addr, or -1. */
ssize_t maps_index__find(const struct maps_index *ix, uint32_t pid, uint32_t gen, uint64_t addr);

#endif /* MEMTRACE_MAPS_INDEX_H */
