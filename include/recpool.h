/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fixed-size records handed out by index, for what only some of many
 * processes need (proc_poll.c: the deltas of the processes that moved,
 * the smaps figures of those reconciled). Address space for max records
 * is reserved at start, so records never move; a freed record is handed
 * out again before any new one, so memory is touched only up to the most
 * records in use at once.
 */
#ifndef MEMTRACE_RECPOOL_H
#define MEMTRACE_RECPOOL_H

#include <stddef.h>
#include <stdint.h>

struct recpool;

/* Room for max records of size bytes (size >= 4); NULL + errno. */
struct recpool *recpool__new(size_t size, uint32_t max);
void recpool__free(struct recpool *rp); /* NULL is fine */

/* A zeroed record's index (1..max), or 0 when all max are in use. */
uint32_t recpool__get(struct recpool *rp);
/* Gives back the record at index (1..max, from recpool__get); 0 is ignored. */
void recpool__put(struct recpool *rp, uint32_t index);
/* The record at index (1..max, handed out): valid until the pool is freed. */
void *recpool__at(const struct recpool *rp, uint32_t index);
/* Records handed out now, and the most at once so far (the memory touched). */
uint32_t recpool__in_use(const struct recpool *rp);
uint32_t recpool__high_water(const struct recpool *rp);

#endif /* MEMTRACE_RECPOOL_H */
