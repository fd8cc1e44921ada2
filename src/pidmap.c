// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include "pidmap.h"

struct pidmap_slot {
	uint32_t pid; /* 0 = empty */
	void *value;
};

struct pidmap {
	struct pidmap_slot *slots;
	size_t cap; /* power of two */
	size_t count;
};

static size_t slot_of(uint32_t pid, size_t cap)
{
	/* Fibonacci hashing: PIDs are sequential, spread them */
	return (size_t)(((uint64_t)pid * 0x9E3779B97F4A7C15ULL) >> 32) & (cap - 1);
}

struct pidmap *pidmap__new(size_t capacity_hint)
{
	struct pidmap *map = calloc(1, sizeof(*map));
	size_t cap = 16;

	if (!map)
		return NULL;
	while (cap < capacity_hint * 2)
		cap *= 2;
	map->slots = calloc(cap, sizeof(*map->slots));
	if (!map->slots) {
		free(map);
		errno = ENOMEM;
		return NULL;
	}
	map->cap = cap;
	return map;
}

void pidmap__free(struct pidmap *map)
{
	if (!map)
		return;
	free(map->slots);
	free(map);
}

static struct pidmap_slot *find(const struct pidmap *map, uint32_t pid)
{
	size_t i = slot_of(pid, map->cap);

	for (;;) {
		struct pidmap_slot *slot = &map->slots[i];

		if (slot->pid == pid)
			return slot;
		if (slot->pid == 0)
			return NULL;
		i = (i + 1) & (map->cap - 1);
	}
}

void *pidmap__get(const struct pidmap *map, uint32_t pid)
{
	struct pidmap_slot *slot;

	if (!pid)
		return NULL;
	slot = find(map, pid);
	return slot ? slot->value : NULL;
}

static void insert_new(struct pidmap_slot *slots, size_t cap, uint32_t pid, void *value)
{
	size_t i = slot_of(pid, cap);

	while (slots[i].pid)
		i = (i + 1) & (cap - 1);
	slots[i].pid = pid;
	slots[i].value = value;
}

static int grow(struct pidmap *map)
{
	size_t new_cap = map->cap * 2;
	struct pidmap_slot *slots = calloc(new_cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < map->cap; i++)
		if (map->slots[i].pid)
			insert_new(slots, new_cap, map->slots[i].pid, map->slots[i].value);
	free(map->slots);
	map->slots = slots;
	map->cap = new_cap;
	return 0;
}

int pidmap__set(struct pidmap *map, uint32_t pid, void *value)
{
	struct pidmap_slot *slot;
	int err;

	if (!pid || !value)
		return -EINVAL;
	slot = find(map, pid);
	if (slot) {
		slot->value = value;
		return 0;
	}
	if ((map->count + 1) * 10 > map->cap * 7) {
		err = grow(map);
		if (err)
			return err;
	}
	insert_new(map->slots, map->cap, pid, value);
	map->count++;
	return 0;
}

void *pidmap__delete(struct pidmap *map, uint32_t pid)
{
	struct pidmap_slot *slot = pid ? find(map, pid) : NULL;
	size_t hole, i;
	void *old;

	if (!slot)
		return NULL;
	old = slot->value;
	hole = (size_t)(slot - map->slots);
	map->slots[hole].pid = 0;
	map->slots[hole].value = NULL;
	map->count--;
	/* backward shift: move later members of the probe run into the hole */
	i = (hole + 1) & (map->cap - 1);
	while (map->slots[i].pid) {
		size_t home = slot_of(map->slots[i].pid, map->cap);
		/* can slot i move to hole? yes if home is not in (hole, i] cyclically */
		if (((i - home) & (map->cap - 1)) >= ((i - hole) & (map->cap - 1))) {
			map->slots[hole] = map->slots[i];
			map->slots[i].pid = 0;
			map->slots[i].value = NULL;
			hole = i;
		}
		i = (i + 1) & (map->cap - 1);
	}
	return old;
}

size_t pidmap__count(const struct pidmap *map)
{
	return map->count;
}

void *pidmap__next(const struct pidmap *map, size_t *cursor, uint32_t *pid)
{
	while (*cursor < map->cap) {
		struct pidmap_slot *slot = &map->slots[(*cursor)++];

		if (slot->pid) {
			if (pid)
				*pid = slot->pid;
			return slot->value;
		}
	}
	return NULL;
}
