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
#include <stdbool.h>
#include "smaps.h"
#include "tracer.h"

struct tracer;
struct mt_proc_stats;

struct reconcile_result {
	uint32_t pid;
	uint32_t tag; /* given with the PID at submission (reconciler__submit_many), else 0 */
	int err;      /* 0, or -errno of the read (-ENOENT: process gone) */
	/*
	 * What the callers use of the smaps_rollup read, in bytes (not the
	 * whole rollup: a poll of 10,000 processes holds thousands of these):
	 * Rss; Pss and Private_Clean + Private_Dirty, each with the hugetlb
	 * pages that rollup keeps apart; SwapPss where the kernel has it, else
	 * Swap
	 */
	uint64_t rss_bytes, pss_bytes, private_bytes, swap_pss_bytes;
	uint64_t counter_rss_bytes; /* kernel counters read just after smaps */
	int counter_ok;		    /* counter_rss_bytes is valid */
	/*
	 * The exact figures (/proc/PID/status RssFile, RssAnon, VmSwap,
	 * RssShmem: summed over CPUs since Linux 6.2's per-CPU counters, where
	 * rss_stat carries the cheap read) and the kernel counters read on both
	 * sides of them, unchanged in between, in pages by enum mt_rss_member.
	 */
	int exact_ok; /* exact_pages and counter_pages are valid */
	uint64_t exact_pages[MT_RSS_NR];
	uint64_t counter_pages[MT_RSS_NR];
	uint64_t counter_start_ns; /* the process's start_ns: identifies it beyond its PID */
	uint64_t exact_ns;	   /* CLOCK_MONOTONIC just after that status read */
	uint64_t read_ns;	   /* wall time the smaps read took */
	uint64_t done_ns;	   /* CLOCK_MONOTONIC when it finished */
};

struct reconciler_stats {
	uint64_t reads;	       /* smaps_rollup reads completed */
	uint64_t read_time_ns; /* total wall time in those reads */
	uint64_t max_read_ns;  /* slowest single read */
	uint64_t queue_full;   /* submissions refused because the queue was full */
};

struct reconciler;

/* Starts the worker; tracer (may be NULL) supplies counter readings. NULL + errno. */
struct reconciler *reconciler__new(struct tracer *tracer, size_t queue_len);
void reconciler__free(struct reconciler *r); /* stops and joins the worker; NULL is fine */

/* Queue a read of pid; 0, -EAGAIN when the queue is full (counted). Never blocks on a read. */
int reconciler__submit(struct reconciler *r, uint32_t pid);

/*
 * Queue reads of pids[0..n) under one lock (a poll submits thousands: one
 * lock each would contend with the worker); returns how many were queued,
 * from the first on; the rest found the queue full (counted). tags[i]
 * (tags may be NULL: 0) comes back in the result of pids[i]: the caller's
 * own index, so that it finds its state without a PID lookup.
 */
size_t reconciler__submit_many(struct reconciler *r, const uint32_t *pids, const uint32_t *tags,
			       size_t n);

/*
 * Whether drain keeps each exact result as its process's correction for
 * reconciler__correct*() (the default). A caller that keeps corrections of
 * its own (proc_poll.c, by slot) turns it off: no hash insert per result.
 */
void reconciler__keep_corrections(struct reconciler *r, bool keep);

/*
 * Move up to max finished results into out; returns how many. Each result
 * with exact_ok also becomes its process's correction (below).
 */
size_t reconciler__drain(struct reconciler *r, struct reconcile_result *out, size_t max);

/*
 * The kernel's counters corrected by the latest reconcile of (pid,
 * cur->start_ns): out[m] = cur->rss_pages[m] + (exact - counter at that
 * reconcile), never below 0. The offset is kept, not the exact values,
 * because rss_stat keeps delivering the counter's cheap read: the part of
 * the count still held in per-CPU deltas (what the offset measured) mostly
 * stays there, so counter + offset is exact until a CPU folds its delta,
 * and off by at most the per-CPU batch times the CPUs after that, the same
 * bound as the raw counter. Without a correction out is cur's. Returns
 * whether one was applied. Call from the thread that drains.
 */
bool reconciler__correct(struct reconciler *r, uint32_t pid, const struct mt_proc_stats *cur,
			 uint64_t out[MT_RSS_NR]);

/*
 * As reconciler__correct, member by member, but only while the counter is
 * still the one the offset was measured against: then no CPU has folded its
 * delta since, and out[m] is exact as of that reconcile; a counter that
 * moved is left raw. For figures kept as a maximum (run's peaks and tree
 * sums): an offset that outlived a fold counts that CPU's delta twice, and
 * a maximum would keep the error, while the raw counter is off by at most
 * the per-CPU batch. An exec, which keeps the PID and start time but not
 * the mm, changes the counters too (in practice), so its offset goes. Returns whether any member
 * was corrected.
 */
bool reconciler__correct_fresh(struct reconciler *r, uint32_t pid, const struct mt_proc_stats *cur,
			       uint64_t out[MT_RSS_NR]);

/* Drop pid's correction (the process was reaped); drain also replaces stale ones. */
void reconciler__forget(struct reconciler *r, uint32_t pid);

void reconciler__stats(struct reconciler *r, struct reconciler_stats *out);

/*
 * How long until a process of rss_bytes is read again: period_ns, stretched
 * for big processes (one extra period per 4 GiB beyond the first 4 GiB),
 * whose RSS the counters already give and whose walk is costly.
 */
uint64_t reconcile_interval_ns(uint64_t period_ns, uint64_t rss_bytes);

#endif /* MEMTRACE_RECONCILE_H */
