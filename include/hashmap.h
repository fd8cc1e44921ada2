/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One hash table for the whole program, keyed and valued by uintptr_t
 * (a number, or a pointer to a key the caller owns), with the hash and
 * equality the caller gives: libbpf's own hashmap has this shape, but
 * Debian's libbpf does not install its internal hashmap.h, and glib is a
 * large dependency for a few tables.
 *
 * Open addressing, linear probing, backward-shift deletion (no tombstones),
 * grown at 70% load; capacity is a power of two. Iteration order is the
 * slot order: callers that print sort first.
 */
#ifndef MEMTRACE_HASHMAP_H
#define MEMTRACE_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t (*hashmap_hash_fn)(uintptr_t key, void *ctx);
typedef bool (*hashmap_equal_fn)(uintptr_t a, uintptr_t b, void *ctx);

struct hashmap;

/* NULL with errno set; capacity_hint entries fit without growing. */
struct hashmap *hashmap__new(hashmap_hash_fn hash, hashmap_equal_fn equal, void *ctx,
			     size_t capacity_hint);
void hashmap__free(struct hashmap *map); /* NULL is fine; keys and values are not freed */

/* Whether key is present; its value in *value when value is not NULL. */
bool hashmap__find(const struct hashmap *map, uintptr_t key, uintptr_t *value);
/*
 * Insert or replace. *old_key / *old_value (when not NULL) get the replaced
 * pair, so the caller can free them; they are left alone when key is new.
 * 0, -ENOMEM (the map is unchanged then).
 */
int hashmap__set(struct hashmap *map, uintptr_t key, uintptr_t value, uintptr_t *old_key,
		 uintptr_t *old_value);
/* Insert only: 0, -EEXIST (present, unchanged), -ENOMEM. */
int hashmap__add(struct hashmap *map, uintptr_t key, uintptr_t value);
/* Remove key: true with the removed pair in *old_key / *old_value, false when absent. */
bool hashmap__delete(struct hashmap *map, uintptr_t key, uintptr_t *old_key, uintptr_t *old_value);
size_t hashmap__size(const struct hashmap *map);

/*
 * Iteration: *cursor starts at 0; true with the next pair, false at the
 * end. Deleting during a walk may move later entries backwards: collect
 * the keys first, then delete.
 */
bool hashmap__next(const struct hashmap *map, size_t *cursor, uintptr_t *key, uintptr_t *value);

/* Ready-made keys: the number itself (PIDs, addresses, 64-bit ids) and C strings. */
uint64_t hashmap_hash_u64(uintptr_t key, void *ctx);
bool hashmap_equal_u64(uintptr_t a, uintptr_t b, void *ctx);
uint64_t hashmap_hash_str(uintptr_t key, void *ctx);
bool hashmap_equal_str(uintptr_t a, uintptr_t b, void *ctx);

/* The one FNV-1a (64-bit) of the program: mt_fnv1a(data, len, MT_FNV_SEED), chainable. */
#define MT_FNV_SEED 0xcbf29ce484222325ULL
uint64_t mt_fnv1a(const void *data, size_t len, uint64_t seed);
uint64_t mt_fnv1a_str(const char *s, uint64_t seed);

#endif /* MEMTRACE_HASHMAP_H */
