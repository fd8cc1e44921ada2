// SPDX-License-Identifier: GPL-2.0
/*
 * include/keytab.h against a plain array model: every get is mirrored on
 * the model and the invariant (same size, every model key found at its
 * index with its element, insertion order kept, keys owned by the table)
 * is checked after each one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "keytab.h"

#define MODEL_MAX 2048

/* An element larger than a pointer and of odd size, to catch stride mistakes. */
struct elem {
	uint64_t sum;
	uint32_t hits;
	char tag[13];
};

struct model {
	char keys[MODEL_MAX][24];
	uint64_t sum[MODEL_MAX];
	uint32_t hits[MODEL_MAX];
	size_t n;
};

static void check_invariant(const struct keytab *t, const struct model *m)
{
	assert_int_equal(keytab__size(t), m->n);
	for (size_t i = 0; i < m->n; i++) {
		const struct elem *e = keytab__at(t, i);
		size_t idx = SIZE_MAX;

		assert_true(keytab__find(t, m->keys[i], &idx));
		assert_int_equal(idx, i);
		assert_string_equal(keytab__key(t, i), m->keys[i]);
		assert_int_equal(e->sum, m->sum[i]);
		assert_int_equal(e->hits, m->hits[i]);
		assert_string_equal(e->tag, m->keys[i] + strlen(m->keys[i]) - 1);
	}
}

static void test_keytab__random_against_model(void **state)
{
	struct keytab *t = keytab__new(sizeof(struct elem), 4);
	struct model *m = calloc(1, sizeof(*m));
	char key[24];

	(void)state;
	assert_non_null(t);
	assert_non_null(m);
	srand(7);
	for (int op = 0; op < 20000; op++) {
		unsigned int k = rand() % 1500;
		bool added;
		struct elem *e;
		size_t i;

		snprintf(key, sizeof(key), "site|%u", k);
		for (i = 0; i < m->n && strcmp(m->keys[i], key); i++)
			;
		e = keytab__get(t, key, &added);
		assert_non_null(e);
		assert_int_equal(added, i == m->n);
		if (added) {
			/* new elements come zeroed */
			assert_int_equal(e->sum, 0);
			assert_int_equal(e->hits, 0);
			assert_int_equal(e->tag[0], 0);
			snprintf(m->keys[m->n++], sizeof(m->keys[0]), "%s", key);
			snprintf(e->tag, sizeof(e->tag), "%s", key + strlen(key) - 1);
		}
		e->sum += k;
		e->hits++;
		m->sum[i] += k;
		m->hits[i]++;
		/* the table owns its copy: the caller's buffer may change */
		memset(key, 'x', sizeof(key) - 1);
		if (op % 97 == 0)
			check_invariant(t, m);
	}
	check_invariant(t, m);
	assert_false(keytab__find(t, "site|1500", NULL));
	assert_false(keytab__find(t, "", NULL));
	keytab__free(t);
	free(m);
}

static void test_keytab__grows_and_keeps_order(void **state)
{
	struct keytab *t = keytab__new(sizeof(uint32_t), 1);
	char key[16];

	(void)state;
	assert_non_null(t);
	for (uint32_t i = 0; i < 1000; i++) {
		uint32_t *v;

		snprintf(key, sizeof(key), "%u", 999 - i);
		v = keytab__get(t, key, NULL);
		assert_non_null(v);
		*v = i;
	}
	assert_int_equal(keytab__size(t), 1000);
	for (uint32_t i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "%u", 999 - i);
		assert_int_equal(*(uint32_t *)keytab__at(t, i), i);
		assert_string_equal(keytab__key(t, i), key);
		/* an existing key gives its element back, not a new one */
		assert_ptr_equal(keytab__get(t, key, NULL), keytab__at(t, i));
	}
	assert_int_equal(keytab__size(t), 1000);
	keytab__free(t);
}

static void test_keytab__empty_and_bad_size(void **state)
{
	struct keytab *t;

	(void)state;
	errno = 0;
	assert_null(keytab__new(0, 8));
	assert_int_equal(errno, EINVAL);
	keytab__free(NULL);
	t = keytab__new(1, 0);
	assert_non_null(t);
	assert_int_equal(keytab__size(t), 0);
	assert_false(keytab__find(t, "a", NULL));
	/* the empty string is a key like any other */
	assert_non_null(keytab__get(t, "", NULL));
	assert_true(keytab__find(t, "", NULL));
	assert_int_equal(keytab__size(t), 1);
	keytab__free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keytab__random_against_model),
		cmocka_unit_test(test_keytab__grows_and_keeps_order),
		cmocka_unit_test(test_keytab__empty_and_bad_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
