/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reconciliation of the kernel counters with /proc/PID/smaps_rollup, on a
 * background thread. Reading smaps_rollup walks the process's page tables
 * under its mmap lock and costs time in proportion to its RSS (hundreds of
 * ms for tens of GiB), so reads never run on the display path: the caller
 * submits PIDs that are due and drains finished results at each poll.
 */
#ifndef MEMTRACE_RECONCILE_H
#define MEMTRACE_RECONCILE_H

#include <stddef.h>
#include <stdint.h>
#include "smaps.h"

struct tracer;

struct reconcile_result {
	uint32_t pid;
	int err;		/* 0, or -errno of the read (-ENOENT: process gone) */
	struct smaps_rollup smaps;
	uint64_t counter_rss_bytes; /* kernel counters read just after smaps */
	int counter_ok;		/* counter_rss_bytes is valid */
	uint64_t read_ns;	/* wall time the smaps read took */
	uint64_t done_ns;	/* CLOCK_MONOTONIC when it finished */
};

struct reconciler_stats {
	uint64_t reads;		/* smaps_rollup reads completed */
	uint64_t read_time_ns;	/* total wall time in those reads */
	uint64_t max_read_ns;	/* slowest single read */
	uint64_t queue_full;	/* submissions refused because the queue was full */
};

struct reconciler;

/* Starts the worker; tracer (may be NULL) supplies counter readings. NULL + errno. */
struct reconciler *reconciler__new(struct tracer *tracer, size_t queue_len);
void reconciler__free(struct reconciler *r); /* stops and joins the worker; NULL is fine */

/* Queue a read of pid; 0, -EAGAIN when the queue is full (counted). Never blocks on a read. */
int reconciler__submit(struct reconciler *r, uint32_t pid);

/* Move up to max finished results into out; returns how many. */
size_t reconciler__drain(struct reconciler *r, struct reconcile_result *out, size_t max);

void reconciler__stats(struct reconciler *r, struct reconciler_stats *out);

/*
 * How long until a process of rss_bytes is read again: period_ns, stretched
 * for big processes (one extra period per 4 GiB beyond the first 4 GiB),
 * whose RSS the counters already give and whose walk is costly.
 */
uint64_t reconcile_interval_ns(uint64_t period_ns, uint64_t rss_bytes);

#endif /* MEMTRACE_RECONCILE_H */
