// SPDX-License-Identifier: GPL-2.0
/*
 * include/hashmap.h against a plain array model: every operation is
 * mirrored on the model and the invariant (same size, every model entry
 * found with its value, every walked entry in the model) is checked after
 * each one.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "hashmap.h"
#include "pidmap.h"

#define MODEL_MAX 4096

struct model {
	uintptr_t keys[MODEL_MAX], values[MODEL_MAX];
	size_t n;
};

static ssize_t model_find(const struct model *m, uintptr_t key)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->keys[i] == key)
			return i;
	return -1;
}

static void check_invariant(const struct hashmap *map, const struct model *m)
{
	size_t cursor = 0, walked = 0;
	uintptr_t k, v;

	assert_int_equal(hashmap__size(map), m->n);
	for (size_t i = 0; i < m->n; i++) {
		if (!hashmap__find(map, m->keys[i], &v))
			fail_msg("key %lu in the model (%zu entries) not found",
				 (unsigned long)m->keys[i], m->n);
		assert_int_equal(v, m->values[i]);
	}
	while (hashmap__next(map, &cursor, &k, &v)) {
		ssize_t at = model_find(m, k);

		if (at < 0)
			fail_msg("walk gave key %lu that the model lacks", (unsigned long)k);
		assert_int_equal(v, m->values[at]);
		walked++;
	}
	assert_int_equal(walked, m->n);
}

/* Keys that collide into few home slots make long probe runs to delete from. */
static uint64_t bad_hash(uintptr_t key, void *ctx)
{
	return key % 7;
}

static void random_ops(hashmap_hash_fn hash, unsigned seed, uintptr_t key_range)
{
	struct hashmap *map = hashmap__new(hash, hashmap_equal_u64, NULL, 0);
	struct model *m = calloc(1, sizeof(*m));

	assert_non_null(map);
	assert_non_null(m);
	srand(seed);
	for (int op = 0; op < 20000; op++) {
		uintptr_t key = 1 + rand() % key_range, value = rand(), old_k = 0, old_v = 0;
		ssize_t at = model_find(m, key);

		switch (rand() % 3) {
		case 0: /* set */
			assert_int_equal(hashmap__set(map, key, value, &old_k, &old_v), 0);
			if (at >= 0) {
				assert_int_equal(old_k, key);
				assert_int_equal(old_v, m->values[at]);
				m->values[at] = value;
			} else {
				m->keys[m->n] = key;
				m->values[m->n++] = value;
			}
			break;
		case 1: /* add */
			assert_int_equal(hashmap__add(map, key, value), at >= 0 ? -EEXIST : 0);
			if (at < 0) {
				m->keys[m->n] = key;
				m->values[m->n++] = value;
			}
			break;
		default: /* delete */
			assert_int_equal(hashmap__delete(map, key, &old_k, &old_v), at >= 0);
			if (at >= 0) {
				assert_int_equal(old_v, m->values[at]);
				m->keys[at] = m->keys[m->n - 1];
				m->values[at] = m->values[--m->n];
			}
			break;
		}
		if (op % 97 == 0 || m->n < 40)
			check_invariant(map, m);
	}
	check_invariant(map, m);
	hashmap__free(map);
	free(m);
}

static void test_hashmap__random_against_model(void **state)
{
	random_ops(hashmap_hash_u64, 1, 3000);
}

static void test_hashmap__collisions_and_deletes(void **state)
{
	/* every key in 7 home slots: deletion must keep the probe runs whole */
	random_ops(bad_hash, 2, 200);
}

static void test_hashmap__grows_past_hint(void **state)
{
	struct hashmap *map = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 4);
	uintptr_t v;

	assert_non_null(map);
	for (uintptr_t k = 1; k <= 100000; k++)
		assert_int_equal(hashmap__add(map, k, k * 3), 0);
	assert_int_equal(hashmap__size(map), 100000);
	for (uintptr_t k = 1; k <= 100000; k++) {
		assert_true(hashmap__find(map, k, &v));
		assert_int_equal(v, k * 3);
	}
	assert_false(hashmap__find(map, 100001, NULL));
	hashmap__free(map);
}

static void test_hashmap__string_keys(void **state)
{
	struct hashmap *map = hashmap__new(hashmap_hash_str, hashmap_equal_str, NULL, 0);
	char a[] = "malloc", b[] = "malloc"; /* equal strings at different addresses */
	uintptr_t old_k = 0, v;

	assert_non_null(map);
	assert_int_equal(hashmap__set(map, (uintptr_t)a, 1, NULL, NULL), 0);
	assert_int_equal(hashmap__set(map, (uintptr_t)b, 2, &old_k, NULL), 0);
	assert_int_equal(old_k, (uintptr_t)a); /* handed back to be freed */
	assert_int_equal(hashmap__size(map), 1);
	assert_true(hashmap__find(map, (uintptr_t) "malloc", &v));
	assert_int_equal(v, 2);
	assert_false(hashmap__find(map, (uintptr_t) "free", NULL));
	hashmap__free(map);
	hashmap__free(NULL);
}

static void test_hashmap__fnv_known_values(void **state)
{
	/* the FNV-1a reference values (Fowler, Noll, Vo test suite) */
	assert_true(mt_fnv1a("", 0, MT_FNV_SEED) == 0xcbf29ce484222325ULL);
	assert_true(mt_fnv1a_str("a", MT_FNV_SEED) == 0xaf63dc4c8601ec8cULL);
	assert_true(mt_fnv1a_str("foobar", MT_FNV_SEED) == 0x85944171f73967e8ULL);
	/* chaining equals hashing the concatenation */
	assert_true(mt_fnv1a_str("bar", mt_fnv1a_str("foo", MT_FNV_SEED)) ==
		    mt_fnv1a_str("foobar", MT_FNV_SEED));
}

static void test_hashmap__pidmap_face(void **state)
{
	struct pidmap *pm = pidmap__new(2);
	int x = 1, y = 2;
	size_t cursor = 0, n = 0;
	uint32_t pid;

	assert_non_null(pm);
	assert_int_equal(pidmap__set(pm, 0, &x), -EINVAL);
	assert_int_equal(pidmap__set(pm, 5, NULL), -EINVAL);
	assert_int_equal(pidmap__set(pm, 5, &x), 0);
	assert_int_equal(pidmap__set(pm, 6, &y), 0);
	assert_ptr_equal(pidmap__get(pm, 5), &x);
	assert_null(pidmap__get(pm, 0));
	while (pidmap__next(pm, &cursor, &pid))
		n += pid == 5 || pid == 6;
	assert_int_equal(n, 2);
	assert_ptr_equal(pidmap__delete(pm, 5), &x);
	assert_null(pidmap__delete(pm, 5));
	assert_int_equal(pidmap__count(pm), 1);
	pidmap__free(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hashmap__random_against_model),
		cmocka_unit_test(test_hashmap__collisions_and_deletes),
		cmocka_unit_test(test_hashmap__grows_past_hint),
		cmocka_unit_test(test_hashmap__string_keys),
		cmocka_unit_test(test_hashmap__fnv_known_values),
		cmocka_unit_test(test_hashmap__pidmap_face),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
