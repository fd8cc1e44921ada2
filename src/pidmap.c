// SPDX-License-Identifier: GPL-2.0
/* pidmap is a typed face of the program's one hash table (hashmap.h). */
#include <errno.h>
#include <stdlib.h>
#include "hashmap.h"
#include "pidmap.h"

struct pidmap *pidmap__new(size_t capacity_hint)
{
	return (struct pidmap *)hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL,
					     capacity_hint);
}

void pidmap__free(struct pidmap *map)
{
	hashmap__free((struct hashmap *)map);
}

void *pidmap__get(const struct pidmap *map, uint32_t pid)
{
	uintptr_t v;

	if (!pid || !hashmap__find((const struct hashmap *)map, pid, &v))
		return NULL;
	return (void *)v;
}

int pidmap__set(struct pidmap *map, uint32_t pid, void *value)
{
	if (!pid || !value)
		return -EINVAL;
	return hashmap__set((struct hashmap *)map, pid, (uintptr_t)value, NULL, NULL);
}

void *pidmap__delete(struct pidmap *map, uint32_t pid)
{
	uintptr_t v;

	if (!pid || !hashmap__delete((struct hashmap *)map, pid, NULL, &v))
		return NULL;
	return (void *)v;
}

size_t pidmap__count(const struct pidmap *map)
{
	return hashmap__size((const struct hashmap *)map);
}

void *pidmap__next(const struct pidmap *map, size_t *cursor, uint32_t *pid)
{
	uintptr_t k, v;

	if (!hashmap__next((const struct hashmap *)map, cursor, &k, &v))
		return NULL;
	if (pid)
		*pid = (uint32_t)k;
	return (void *)v;
}
