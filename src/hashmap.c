// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"

struct slot {
	uintptr_t key, value;
	bool used;
};

struct hashmap {
	hashmap_hash_fn hash;
	hashmap_equal_fn equal;
	void *ctx;
	struct slot *slots;
	size_t cap; /* power of two */
	size_t count;
};

uint64_t mt_fnv1a(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

uint64_t mt_fnv1a_str(const char *s, uint64_t seed)
{
	return mt_fnv1a(s, strlen(s), seed);
}

uint64_t hashmap_hash_u64(uintptr_t key, void *ctx)
{
	/* Fibonacci hashing: sequential numbers (PIDs) spread over the high bits */
	return (uint64_t)key * 0x9E3779B97F4A7C15ULL;
}

bool hashmap_equal_u64(uintptr_t a, uintptr_t b, void *ctx)
{
	return a == b;
}

uint64_t hashmap_hash_str(uintptr_t key, void *ctx)
{
	return mt_fnv1a_str((const char *)key, MT_FNV_SEED);
}

bool hashmap_equal_str(uintptr_t a, uintptr_t b, void *ctx)
{
	return strcmp((const char *)a, (const char *)b) == 0;
}

static size_t home_of(const struct hashmap *map, uintptr_t key)
{
	uint64_t h = map->hash(key, map->ctx);

	/* the high bits are the well-mixed ones for multiplicative hashes */
	return (size_t)(h ^ (h >> 32)) & (map->cap - 1);
}

struct hashmap *hashmap__new(hashmap_hash_fn hash, hashmap_equal_fn equal, void *ctx,
			     size_t capacity_hint)
{
	struct hashmap *map;
	size_t cap = 16;

	if (!hash || !equal) {
		errno = EINVAL;
		return NULL;
	}
	map = calloc(1, sizeof(*map));
	if (!map)
		return NULL;
	while (cap * 7 < capacity_hint * 10)
		cap *= 2;
	map->slots = calloc(cap, sizeof(*map->slots));
	if (!map->slots) {
		free(map);
		errno = ENOMEM;
		return NULL;
	}
	map->hash = hash;
	map->equal = equal;
	map->ctx = ctx;
	map->cap = cap;
	return map;
}

void hashmap__free(struct hashmap *map)
{
	if (!map)
		return;
	free(map->slots);
	free(map);
}

static struct slot *find(const struct hashmap *map, uintptr_t key)
{
	size_t i = home_of(map, key);

	while (map->slots[i].used) {
		if (map->equal(map->slots[i].key, key, map->ctx))
			return &map->slots[i];
		i = (i + 1) & (map->cap - 1);
	}
	return NULL;
}

bool hashmap__find(const struct hashmap *map, uintptr_t key, uintptr_t *value)
{
	struct slot *s = map ? find(map, key) : NULL;

	if (s && value)
		*value = s->value;
	return s != NULL;
}

static void insert_new(struct hashmap *map, uintptr_t key, uintptr_t value)
{
	size_t i = home_of(map, key);

	while (map->slots[i].used)
		i = (i + 1) & (map->cap - 1);
	map->slots[i] = (struct slot){ .key = key, .value = value, .used = true };
	map->count++;
}

static int grow(struct hashmap *map)
{
	struct slot *old = map->slots;
	size_t old_cap = map->cap;

	map->slots = calloc(old_cap * 2, sizeof(*map->slots));
	if (!map->slots) {
		map->slots = old;
		return -ENOMEM;
	}
	map->cap = old_cap * 2;
	map->count = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].used)
			insert_new(map, old[i].key, old[i].value);
	free(old);
	return 0;
}

int hashmap__set(struct hashmap *map, uintptr_t key, uintptr_t value, uintptr_t *old_key,
		 uintptr_t *old_value)
{
	struct slot *s = find(map, key);
	int err;

	if (s) {
		if (old_key)
			*old_key = s->key;
		if (old_value)
			*old_value = s->value;
		s->key = key;
		s->value = value;
		return 0;
	}
	if ((map->count + 1) * 10 > map->cap * 7) {
		err = grow(map);
		if (err)
			return err;
	}
	insert_new(map, key, value);
	return 0;
}

int hashmap__add(struct hashmap *map, uintptr_t key, uintptr_t value)
{
	if (find(map, key))
		return -EEXIST;
	return hashmap__set(map, key, value, NULL, NULL);
}

bool hashmap__delete(struct hashmap *map, uintptr_t key, uintptr_t *old_key, uintptr_t *old_value)
{
	struct slot *s = find(map, key);
	size_t hole, i, mask = map->cap - 1;

	if (!s)
		return false;
	if (old_key)
		*old_key = s->key;
	if (old_value)
		*old_value = s->value;
	hole = (size_t)(s - map->slots);
	map->slots[hole].used = false;
	map->count--;
	/* backward shift: pull later members of the probe run into the hole */
	for (i = (hole + 1) & mask; map->slots[i].used; i = (i + 1) & mask) {
		size_t home = home_of(map, map->slots[i].key);

		/* slot i may move to hole unless its home lies cyclically in (hole, i] */
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			map->slots[hole] = map->slots[i];
			map->slots[i].used = false;
			hole = i;
		}
	}
	return true;
}

size_t hashmap__size(const struct hashmap *map)
{
	return map ? map->count : 0;
}

bool hashmap__next(const struct hashmap *map, size_t *cursor, uintptr_t *key, uintptr_t *value)
{
	while (map && *cursor < map->cap) {
		const struct slot *s = &map->slots[(*cursor)++];

		if (!s->used)
			continue;
		if (key)
			*key = s->key;
		if (value)
			*value = s->value;
		return true;
	}
	return false;
}
