/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A table of fixed-size elements keyed by C strings: each key interned
 * once (the table copies and owns it), key -> index by hashmap.h, the
 * elements in one array in the order they were added. report.c's call
 * sites and report_peak.c's sites at a peak are its users.
 *
 * The array may move when an element is added: a pointer from
 * keytab__get() or keytab__at() is valid until the next keytab__get() that
 * adds a key. Indexes stay valid for the table's life.
 */
#ifndef MEMTRACE_KEYTAB_H
#define MEMTRACE_KEYTAB_H

#include <stdbool.h>
#include <stddef.h>

struct keytab;

/* NULL with errno set; elem_size > 0 bytes; capacity_hint keys fit without growing. */
struct keytab *keytab__new(size_t elem_size, size_t capacity_hint);
void keytab__free(struct keytab *t); /* NULL is fine */

/*
 * key's element; a new one, zeroed, when key was not there (*added set to
 * whether it was new, when added is not NULL). NULL with errno ENOMEM, the
 * table unchanged.
 */
void *keytab__get(struct keytab *t, const char *key, bool *added);
/* Whether key is there, its index in *idx when idx is not NULL. */
bool keytab__find(const struct keytab *t, const char *key, size_t *idx);
size_t keytab__size(const struct keytab *t);
/* The element and the key at idx < keytab__size(t), in the order added. */
void *keytab__at(const struct keytab *t, size_t idx);
const char *keytab__key(const struct keytab *t, size_t idx);

#endif /* MEMTRACE_KEYTAB_H */
