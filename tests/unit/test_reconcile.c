// SPDX-License-Identifier: GPL-2.0
/*
 * The reconciler without a tracer: real smaps_rollup reads of this process
 * on the worker thread, queued in one batch the way proc_poll.c submits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>
#include "reconcile.h"
#include "smaps.h"

#define GONE_PID (1U << 23) /* above PID_MAX_LIMIT: cannot exist */

/* Drains until want results came in (the worker reads them in turn); how many did. */
static size_t drain_until(struct reconciler *r, struct reconcile_result *out, size_t want)
{
	size_t got = 0;

	for (int tries = 0; got < want && tries < 10000; tries++) {
		got += reconciler__drain(r, out + got, want - got);
		if (got < want)
			usleep(1000); /* a condition waited for, 10 s at most */
	}
	return got;
}

static void test_reconcile__submit_many_in_order_counts_full(void **state)
{
	uint32_t self = (uint32_t)getpid();
	uint32_t pids[6] = { self, GONE_PID, self, self, self, self };
	uint32_t tags[6] = { 10, 11, 12, 13, 14, 15 };
	struct reconciler *r = reconciler__new(NULL, 4);
	struct smaps_reader *reader = smaps_reader__new();
	struct reconcile_result out[4];
	struct reconciler_stats stats;
	struct smaps_rollup now;

	assert_non_null(r);
	assert_non_null(reader);
	/* one lock for the batch: the worker cannot take any before room is known */
	assert_int_equal(reconciler__submit_many(r, pids, tags, 6), 4);
	assert_int_equal(reconciler__submit_many(r, pids, tags, 0), 0);
	reconciler__stats(r, &stats);
	assert_int_equal(stats.queue_full, 2);

	assert_int_equal(drain_until(r, out, 4), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(out[i].pid, pids[i]);
		assert_int_equal(out[i].tag, tags[i]);
	}
	assert_int_equal(out[0].err, 0);
	assert_int_equal(out[1].err, -ENOENT);
	assert_int_equal(out[2].err, 0);
	/* against the kernel's own rollup, read again now: the same process, little moved */
	assert_int_equal(smaps_reader__read(reader, (int)self, &now), 0);
	if (out[0].rss_bytes > now.rss + (4 << 20) || now.rss > out[0].rss_bytes + (4 << 20))
		fail_msg("rss read by the worker = %llu, smaps_rollup now = %llu (more than 4 MiB "
			 "apart)",
			 (unsigned long long)out[0].rss_bytes, (unsigned long long)now.rss);
	reconciler__stats(r, &stats);
	assert_int_equal(stats.reads, 4);

	/* the queue has room again */
	assert_int_equal(reconciler__submit_many(r, pids, NULL, 1), 1);
	assert_int_equal(drain_until(r, out, 1), 1);
	assert_int_equal(out[0].pid, self);
	assert_int_equal(out[0].tag, 0);
	smaps_reader__free(reader);
	reconciler__free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reconcile__submit_many_in_order_counts_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
