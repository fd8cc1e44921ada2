// SPDX-License-Identifier: GPL-2.0
/*
 * include/maps_index.h against a linear scan of the same maps: maps of
 * two pids and two generations added out of order, each address looked up
 * by both, at every map's edges and in the gaps between them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "maps_index.h"

static const struct mt_rec_map maps[] = {
	{ .pid = 7, .gen = 1, .start = 0x5000, .end = 0x6000, .path = "/b" },
	{ .pid = 3, .gen = 0, .start = 0x2000, .end = 0x3000, .path = "/a" },
	{ .pid = 7, .gen = 0, .start = 0x1000, .end = 0x2000, .path = "/c" },
	{ .pid = 3, .gen = 0, .start = 0x1000, .end = 0x1800, .path = "/d" },
	{ .pid = 7, .gen = 1, .start = 0x1000, .end = 0x4000, .path = "/e" },
};
#define NMAPS (sizeof(maps) / sizeof(maps[0]))

/* The model: the map of (pid, gen) holding addr, by a scan; NULL if none. */
static const struct mt_rec_map *scan(uint32_t pid, uint32_t gen, uint64_t addr)
{
	for (size_t i = 0; i < NMAPS; i++)
		if (maps[i].pid == pid && maps[i].gen == gen && addr >= maps[i].start &&
		    addr < maps[i].end)
			return &maps[i];
	return NULL;
}

static struct recording *make(void)
{
	struct recording *rec = recording__new();

	assert_non_null(rec);
	for (size_t i = 0; i < NMAPS; i++)
		assert_int_equal(recording__add_map(rec, &maps[i]), 0);
	return rec;
}

static void test_maps_index__find_matches_scan(void **state)
{
	struct recording *rec = make();
	struct maps_index *ix = maps_index__new(rec);
	static const uint32_t pids[] = { 1, 3, 7, 9 };

	assert_non_null(ix);
	assert_int_equal(maps_index__count(ix), NMAPS);
	for (size_t p = 0; p < 4; p++)
		for (uint32_t gen = 0; gen < 3; gen++)
			for (uint64_t addr = 0; addr < 0x7000; addr += 0x400) {
				for (int d = -1; d <= 0; d++) {
					uint64_t a = addr + d;
					const struct mt_rec_map *want = scan(pids[p], gen, a);
					ssize_t got = maps_index__find(ix, pids[p], gen, a);
					const struct mt_rec_map *m =
					    got >= 0 ? maps_index__at(ix, got) : NULL;

					if ((want == NULL) != (m == NULL) ||
					    (want && strcmp(want->path, m->path)))
						fail_msg(
						    "pid %u gen %u addr %#llx: %s by scan, %s by "
						    "index",
						    pids[p], gen, (unsigned long long)a,
						    want ? want->path : "none",
						    m ? m->path : "none");
				}
			}
	maps_index__free(ix);
	recording__free(rec);
}

static void test_maps_index__image_range(void **state)
{
	struct recording *rec = make();
	struct maps_index *ix = maps_index__new(rec);
	size_t first = 99;

	assert_non_null(ix);
	assert_int_equal(maps_index__image(ix, 7, 1, &first), 2);
	/* sorted by start within the image */
	assert_string_equal(maps_index__at(ix, first)->path, "/e");
	assert_string_equal(maps_index__at(ix, first + 1)->path, "/b");
	assert_int_equal(maps_index__image(ix, 3, 0, &first), 2);
	assert_string_equal(maps_index__at(ix, first)->path, "/d");
	assert_int_equal(maps_index__image(ix, 7, 0, &first), 1);
	assert_int_equal(maps_index__image(ix, 5, 0, &first), 0);
	assert_int_equal(maps_index__image(ix, 9, 0, &first), 0);
	assert_int_equal(first, NMAPS);
	maps_index__free(ix);
	maps_index__free(NULL);
	recording__free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maps_index__find_matches_scan),
		cmocka_unit_test(test_maps_index__image_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
