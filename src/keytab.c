// SPDX-License-Identifier: GPL-2.0
/* Elements keyed by interned strings (include/keytab.h), over hashmap.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "keytab.h"

struct keytab {
	char *elems; /* n elements of elem_size bytes */
	char **keys; /* keys[i] is elems[i]'s key, owned */
	size_t elem_size, n, cap;
	struct hashmap *index; /* key string (keys[i]) -> i */
};

struct keytab *keytab__new(size_t elem_size, size_t capacity_hint)
{
	struct keytab *t;

	if (!elem_size) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->elem_size = elem_size;
	t->index = hashmap__new(hashmap_hash_str, hashmap_equal_str, NULL, capacity_hint);
	if (!t->index) {
		free(t);
		return NULL;
	}
	return t;
}

void keytab__free(struct keytab *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->keys[i]);
	free(t->keys);
	free(t->elems);
	hashmap__free(t->index);
	free(t);
}

static int grow(struct keytab *t)
{
	size_t cap = t->cap ? t->cap * 2 : 32;
	char *e;
	char **k;

	if (cap > SIZE_MAX / t->elem_size)
		return -ENOMEM;
	e = realloc(t->elems, cap * t->elem_size);
	if (!e)
		return -ENOMEM;
	t->elems = e;
	k = realloc(t->keys, cap * sizeof(*k));
	if (!k)
		return -ENOMEM;
	t->keys = k;
	t->cap = cap;
	return 0;
}

void *keytab__get(struct keytab *t, const char *key, bool *added)
{
	size_t idx;
	char *copy;

	if (added)
		*added = false;
	if (keytab__find(t, key, &idx))
		return keytab__at(t, idx);
	if (t->n == t->cap && grow(t)) {
		errno = ENOMEM;
		return NULL;
	}
	copy = strdup(key);
	if (!copy || hashmap__add(t->index, (uintptr_t)copy, t->n)) {
		free(copy);
		errno = ENOMEM;
		return NULL;
	}
	t->keys[t->n] = copy;
	memset(t->elems + t->n * t->elem_size, 0, t->elem_size);
	if (added)
		*added = true;
	return keytab__at(t, t->n++);
}

bool keytab__find(const struct keytab *t, const char *key, size_t *idx)
{
	uintptr_t v;

	if (!hashmap__find(t->index, (uintptr_t)key, &v))
		return false;
	if (idx)
		*idx = v;
	return true;
}

size_t keytab__size(const struct keytab *t)
{
	return t->n;
}

void *keytab__at(const struct keytab *t, size_t idx)
{
	return t->elems + idx * t->elem_size;
}

const char *keytab__key(const struct keytab *t, size_t idx)
{
	return t->keys[idx];
}
