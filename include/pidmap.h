/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A map from a PID (any non-zero u32) to a pointer, for the loader's
 * per-process state: a typed face of the one hash table (hashmap.h).
 */
#ifndef MEMTRACE_PIDMAP_H
#define MEMTRACE_PIDMAP_H

#include <stddef.h>
#include <stdint.h>

struct pidmap;

struct pidmap *pidmap__new(size_t capacity_hint);
void pidmap__free(struct pidmap *map); /* NULL is fine; values are not freed */

/* The value for pid, or NULL. */
void *pidmap__get(const struct pidmap *map, uint32_t pid);
/* Insert or replace; 0, -EINVAL for pid 0 or NULL value, -ENOMEM. */
int pidmap__set(struct pidmap *map, uint32_t pid, void *value);
/* Remove and return the old value (NULL when absent). */
void *pidmap__delete(struct pidmap *map, uint32_t pid);
size_t pidmap__count(const struct pidmap *map);

/*
 * Iteration: *cursor starts at 0; returns the next value and its pid in
 * *pid, or NULL at the end. Do not delete while walking: deletion
 * during a walk may move later entries backwards: collect PIDs first.
 */
void *pidmap__next(const struct pidmap *map, size_t *cursor, uint32_t *pid);

#endif /* MEMTRACE_PIDMAP_H */
