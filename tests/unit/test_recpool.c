// SPDX-License-Identifier: GPL-2.0
/*
 * include/recpool.h against a model of the records handed out: every get
 * and put is mirrored, and after each one the records in use are distinct,
 * in 1..max, unmoved and hold what was written to them; the memory the
 * kernel counts for the pool (smaps Rss of its reservation) stays within
 * the most records in use at once. Also the smaps packing of proc_poll.h
 * at its edges.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <cmocka.h>
#include "proc_poll.h"
#include "recpool.h"

#define REC_SIZE 72
#define MAX_RECS 4096

/* smaps Rss in kB of the mapping starting at addr, UINT64_MAX when not found */
/*
 * The kernel's count of resident pages in the pool's own range, in kB
 * (mincore). Not the smaps Rss of the mapping: an adjacent anonymous
 * mapping with the same flags (ASan's, another allocator's) may merge with
 * the pool's into one VMA and bring its pages along.
 */
static uint64_t resident_kb(const struct recpool *rp, uint32_t max)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = ((size_t)max * REC_SIZE + page - 1) / page * page;
	unsigned char *vec = calloc(len / page, 1);
	uint64_t pages = 0;

	assert_non_null(vec);
	assert_int_equal(mincore(recpool__at(rp, 1), len, vec), 0);
	for (size_t i = 0; i < len / page; i++)
		pages += vec[i] & 1;
	free(vec);
	return pages * page / 1024;
}

static void fill(struct recpool *rp, uint32_t index)
{
	memset(recpool__at(rp, index), (int)(index & 0xff), REC_SIZE);
	memcpy(recpool__at(rp, index), &index, sizeof(index));
}

static void check_record(const struct recpool *rp, uint32_t index)
{
	const unsigned char *r = recpool__at(rp, index);
	uint32_t stored;

	memcpy(&stored, r, sizeof(stored));
	if (stored != index)
		fail_msg("record %u holds %u", index, stored);
	for (size_t i = sizeof(stored); i < REC_SIZE; i++)
		if (r[i] != (index & 0xff))
			fail_msg("record %u byte %zu is %u, wrote %u", index, i, r[i],
				 index & 0xff);
}

static void test_recpool__edges(void **state)
{
	struct recpool *rp;
	uint32_t a;

	(void)state;
	errno = 0;
	assert_null(recpool__new(2, 8)); /* too small to thread the free list */
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(recpool__new(16, 0));
	assert_int_equal(errno, EINVAL);

	rp = recpool__new(REC_SIZE, 1);
	assert_non_null(rp);
	a = recpool__get(rp);
	assert_int_equal(a, 1);
	fill(rp, a);
	assert_int_equal(recpool__get(rp), 0); /* full: 0, never another's record */
	assert_int_equal(recpool__in_use(rp), 1);
	recpool__put(rp, 0); /* "none" is ignored */
	assert_int_equal(recpool__in_use(rp), 1);
	check_record(rp, a);
	recpool__put(rp, a);
	assert_int_equal(recpool__in_use(rp), 0);
	a = recpool__get(rp);
	assert_int_equal(a, 1);
	for (size_t i = 0; i < REC_SIZE; i++) /* handed out zeroed, the free link gone */
		assert_int_equal(((unsigned char *)recpool__at(rp, a))[i], 0);
	assert_int_equal(recpool__high_water(rp), 1);
	recpool__free(rp);
	recpool__free(NULL);
}

static void test_recpool__random_against_model(void **state)
{
	static uint32_t held[MAX_RECS];
	static void *where[MAX_RECS + 1];
	struct recpool *rp = recpool__new(REC_SIZE, MAX_RECS);
	uint32_t n = 0, most = 0;
	unsigned int seed = 14;
	uint64_t rss_kb, bound_kb;

	(void)state;
	assert_non_null(rp);
	for (int step = 0; step < 200000; step++) {
		/* phases that grow towards full, then shrink, then churn */
		int grow_pct = step < 60000 ? 70 : step < 120000 ? 30 : 50;

		if (n < MAX_RECS && (n == 0 || (int)(rand_r(&seed) % 100) < grow_pct)) {
			uint32_t i = recpool__get(rp);

			if (i < 1 || i > MAX_RECS)
				fail_msg("get gave %u with %u of %u in use", i, n, MAX_RECS);
			if (where[i])
				fail_msg("get gave %u, already held", i);
			fill(rp, i);
			where[i] = recpool__at(rp, i);
			held[n++] = i;
		} else if (n == MAX_RECS && step % 7 == 0) {
			assert_int_equal(recpool__get(rp), 0);
			continue;
		} else {
			uint32_t k = rand_r(&seed) % n, i = held[k];

			check_record(rp, i);
			assert_ptr_equal(recpool__at(rp, i), where[i]); /* never moved */
			recpool__put(rp, i);
			where[i] = NULL;
			held[k] = held[--n];
		}
		if (n > most)
			most = n;
		assert_int_equal(recpool__in_use(rp), n);
		assert_int_equal(recpool__high_water(rp), most);
		if (step % 10000 == 0)
			for (uint32_t k = 0; k < n; k++)
				check_record(rp, held[k]);
	}
	/* the kernel's count of the pool's pages: no more than the most held at once */
	rss_kb = resident_kb(rp, MAX_RECS);
	bound_kb = ((uint64_t)most * REC_SIZE + (uint64_t)sysconf(_SC_PAGESIZE) - 1) /
		   (uint64_t)sysconf(_SC_PAGESIZE) * (uint64_t)sysconf(_SC_PAGESIZE) / 1024;
	if (rss_kb == UINT64_MAX || rss_kb > bound_kb)
		fail_msg("pool Rss %" PRIu64 " kB (mincore), most records held %u: bound %" PRIu64
			 " kB",
			 rss_kb, most, bound_kb);
	recpool__free(rp);
}

/* A pool that never held more than a few records touches only their pages. */
static void test_recpool__touches_only_what_was_held(void **state)
{
	struct recpool *rp = recpool__new(REC_SIZE, 1 << 20);
	uint32_t a[8];
	uint64_t rss_kb;

	(void)state;
	assert_non_null(rp);
	for (int round = 0; round < 1000; round++) {
		for (int k = 0; k < 8; k++) {
			a[k] = recpool__get(rp);
			assert_in_range(a[k], 1, 8); /* reused, not new ones further on */
			fill(rp, a[k]);
		}
		for (int k = 0; k < 8; k++)
			recpool__put(rp, a[k]);
	}
	assert_int_equal(recpool__high_water(rp), 8);
	rss_kb = resident_kb(rp, 1 << 20);
	if (rss_kb > (uint64_t)sysconf(_SC_PAGESIZE) / 1024)
		fail_msg("pool of 2^20 records, 8 held at most: Rss %" PRIu64
			 " kB (mincore), expected one page",
			 rss_kb);
	recpool__free(rp);
}

/* smaps figures kept in 32-bit KiB: exact or not kept (shown unknown), never cut */
static void test_recpool__smaps_kb_edges(void **state)
{
	uint32_t kb = 7;

	(void)state;
	assert_true(proc_kb_keep(&kb, 0));
	assert_int_equal(kb, 0);
	assert_true(proc_kb_keep(&kb, 1024));
	assert_int_equal(proc_kb_bytes(kb), 1024);
	kb = 7;
	assert_false(proc_kb_keep(&kb, 1023)); /* not whole KiB: not what the kernel gives */
	assert_int_equal(kb, 7);
	assert_false(proc_kb_keep(&kb, 1025));
	assert_int_equal(kb, 7);
	assert_true(proc_kb_keep(&kb, (uint64_t)UINT32_MAX * 1024));
	assert_int_equal(kb, UINT32_MAX);
	assert_true(proc_kb_bytes(kb) == (uint64_t)UINT32_MAX * 1024);
	kb = 7;
	assert_false(proc_kb_keep(&kb, ((uint64_t)UINT32_MAX + 1) * 1024)); /* 4 TiB */
	assert_int_equal(kb, 7);
	assert_false(proc_kb_keep(&kb, UINT64_MAX & ~1023ULL));
	assert_int_equal(kb, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recpool__edges),
		cmocka_unit_test(test_recpool__random_against_model),
		cmocka_unit_test(test_recpool__touches_only_what_was_held),
		cmocka_unit_test(test_recpool__smaps_kb_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
