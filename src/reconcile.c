// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pidmap.h"
#include "procfs.h"
#include "reconcile.h"
#include "tracer_api.h"
#include "units.h"

/*
 * A process's exact - counter offsets, in pages, from its latest reconcile,
 * and the counters they were measured against.
 */
struct correction {
	uint64_t start_ns;
	int64_t pages[MT_RSS_NR];
	uint64_t counter[MT_RSS_NR];
};

struct reconciler {
	struct tracer *tracer;
	struct smaps_reader *reader; /* used by the worker only */
	pthread_t worker;
	bool worker_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	/* pending reads: a ring */
	struct queued {
		uint32_t pid, tag;
	} * queue;
	size_t queue_len, head, pending;
	/*
	 * finished results: a growing array drained by the caller from
	 * done_head on (a drain in batches moves nothing; the worker moves
	 * the rest down only when it runs out of room)
	 */
	struct reconcile_result *done;
	size_t done_head, nr_done, cap_done;
	struct reconciler_stats stats;
	struct pidmap *corrections; /* pid -> struct correction; the draining thread's */
	bool skip_corrections;	    /* drain does not fill corrections */
};

uint64_t reconcile_interval_ns(uint64_t period_ns, uint64_t rss_bytes)
{
	const uint64_t big = 4ULL << 30;

	if (rss_bytes <= big)
		return period_ns;
	return period_ns * (1 + (rss_bytes - big + big - 1) / big);
}

/*
 * The exact figures with the counters read on both sides: equal readings
 * mean no rss_stat event came in between, so exact - counter is the
 * correction of that very moment. A process that keeps changing gets a few
 * tries, then no correction this time.
 */
static void read_exact(struct reconciler *r, uint32_t pid, struct reconcile_result *res, long page)
{
	struct mt_proc_stats before, after;
	struct proc_status status;

	for (int attempt = 0; attempt < 4; attempt++) {
		if (tracer__lookup(r->tracer, pid, &before) || !(before.flags & MT_PROC_RSS_SEEN) ||
		    proc_status__read(pid, &status) ||
		    (status.present & (STATUS_HAS_SPLIT | STATUS_HAS_SWAP)) !=
			(STATUS_HAS_SPLIT | STATUS_HAS_SWAP) ||
		    tracer__lookup(r->tracer, pid, &after))
			return;
		if (before.start_ns != after.start_ns ||
		    memcmp(before.rss_pages, after.rss_pages, sizeof(before.rss_pages)))
			continue;
		res->exact_pages[MT_RSS_FILE] = status.rss_file / page;
		res->exact_pages[MT_RSS_ANON] = status.rss_anon / page;
		res->exact_pages[MT_RSS_SHMEM] = status.rss_shmem / page;
		res->exact_pages[MT_RSS_SWAP] = status.vm_swap / page;
		memcpy(res->counter_pages, after.rss_pages, sizeof(res->counter_pages));
		res->counter_start_ns = after.start_ns;
		res->exact_ns = mt_clock_ns(CLOCK_MONOTONIC);
		res->exact_ok = 1;
		return;
	}
}

static void read_one(struct reconciler *r, struct queued q, struct reconcile_result *res)
{
	uint32_t pid = q.pid;
	long page = sysconf(_SC_PAGESIZE);
	struct mt_proc_stats stats;
	struct smaps_rollup s;
	uint64_t start = mt_clock_ns(CLOCK_MONOTONIC);

	memset(res, 0, sizeof(*res));
	res->pid = pid;
	res->tag = q.tag;
	res->err = smaps_reader__read(r->reader, pid, &s);
	res->done_ns = mt_clock_ns(CLOCK_MONOTONIC);
	res->read_ns = res->done_ns - start;
	if (!res->err) {
		res->rss_bytes = s.rss;
		res->pss_bytes = s.pss + s.shared_hugetlb + s.private_hugetlb;
		res->private_bytes = smaps_private(&s) + s.private_hugetlb;
		res->swap_pss_bytes = (s.present & SMAPS_HAS_SWAP_PSS) ? s.swap_pss : s.swap;
	}
	if (!res->err && r->tracer && tracer__lookup(r->tracer, pid, &stats) == 0 &&
	    (stats.flags & MT_PROC_RSS_SEEN)) {
		res->counter_rss_bytes =
		    (stats.rss_pages[MT_RSS_FILE] + stats.rss_pages[MT_RSS_ANON] +
		     stats.rss_pages[MT_RSS_SHMEM]) *
		    (uint64_t)page;
		res->counter_ok = 1;
	}
	if (!res->err && r->tracer)
		read_exact(r, pid, res, page);
}

static void *worker_main(void *arg)
{
	struct reconciler *r = arg;
	struct reconcile_result res;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		struct queued q;

		while (!r->stop && !r->pending)
			pthread_cond_wait(&r->wake, &r->lock);
		if (r->stop)
			break;
		q = r->queue[r->head];
		r->head = (r->head + 1) % r->queue_len;
		r->pending--;
		pthread_mutex_unlock(&r->lock);

		read_one(r, q, &res);

		pthread_mutex_lock(&r->lock);
		r->stats.reads++;
		r->stats.read_time_ns += res.read_ns;
		if (res.read_ns > r->stats.max_read_ns)
			r->stats.max_read_ns = res.read_ns;
		if (r->nr_done == r->cap_done && r->done_head) {
			memmove(r->done, r->done + r->done_head,
				(r->nr_done - r->done_head) * sizeof(*r->done));
			r->nr_done -= r->done_head;
			r->done_head = 0;
		}
		if (r->nr_done == r->cap_done) {
			size_t cap = r->cap_done ? r->cap_done * 2 : 64;
			struct reconcile_result *grown = realloc(r->done, cap * sizeof(*grown));

			if (!grown)
				continue; /* result lost to ENOMEM; the PID is resubmitted when due
					   */
			r->done = grown;
			r->cap_done = cap;
		}
		r->done[r->nr_done++] = res;
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

struct reconciler *reconciler__new(struct tracer *tracer, size_t queue_len)
{
	struct reconciler *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	r->tracer = tracer;
	r->queue_len = queue_len ? queue_len : 1024;
	r->queue = calloc(r->queue_len, sizeof(*r->queue));
	r->reader = smaps_reader__new();
	r->corrections = pidmap__new(64);
	if (!r->queue || !r->reader || !r->corrections) {
		err = ENOMEM;
		goto fail;
	}
	err = pthread_create(&r->worker, NULL, worker_main, r);
	if (err)
		goto fail;
	r->worker_started = true;
	return r;
fail:
	reconciler__free(r);
	errno = err;
	return NULL;
}

void reconciler__free(struct reconciler *r)
{
	if (!r)
		return;
	if (r->worker_started) {
		pthread_mutex_lock(&r->lock);
		r->stop = true;
		pthread_cond_signal(&r->wake);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->worker, NULL);
	}
	if (r->corrections) {
		size_t cursor = 0;
		struct correction *c;

		while ((c = pidmap__next(r->corrections, &cursor, NULL)))
			free(c);
		pidmap__free(r->corrections);
	}
	smaps_reader__free(r->reader);
	free(r->queue);
	free(r->done);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
	free(r);
}

int reconciler__submit(struct reconciler *r, uint32_t pid)
{
	int err = 0;

	pthread_mutex_lock(&r->lock);
	if (r->pending == r->queue_len) {
		r->stats.queue_full++;
		err = -EAGAIN;
	} else {
		r->queue[(r->head + r->pending) % r->queue_len] = (struct queued){ pid, 0 };
		r->pending++;
		pthread_cond_signal(&r->wake);
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

size_t reconciler__submit_many(struct reconciler *r, const uint32_t *pids, const uint32_t *tags,
			       size_t n)
{
	size_t room, k;

	if (!n)
		return 0;
	pthread_mutex_lock(&r->lock);
	room = r->queue_len - r->pending;
	k = n < room ? n : room;
	for (size_t i = 0; i < k; i++)
		r->queue[(r->head + r->pending + i) % r->queue_len] =
		    (struct queued){ pids[i], tags ? tags[i] : 0 };
	r->pending += k;
	r->stats.queue_full += n - k;
	if (k)
		pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	return k;
}

void reconciler__keep_corrections(struct reconciler *r, bool keep)
{
	r->skip_corrections = !keep;
}

static void remember_correction(struct reconciler *r, const struct reconcile_result *res)
{
	struct correction *c = pidmap__get(r->corrections, res->pid);

	if (!c) {
		c = malloc(sizeof(*c));
		if (!c || pidmap__set(r->corrections, res->pid, c)) {
			free(c); /* ENOMEM: the figures stay the raw counters' */
			return;
		}
	}
	c->start_ns = res->counter_start_ns;
	for (int m = 0; m < MT_RSS_NR; m++) {
		c->pages[m] = (int64_t)res->exact_pages[m] - (int64_t)res->counter_pages[m];
		c->counter[m] = res->counter_pages[m];
	}
}

size_t reconciler__drain(struct reconciler *r, struct reconcile_result *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->nr_done - r->done_head < max ? r->nr_done - r->done_head : max;
	if (n) { /* r->done may be NULL while nothing is done: no memcpy(NULL, 0) */
		memcpy(out, r->done + r->done_head, n * sizeof(*out));
		r->done_head += n;
		if (r->done_head == r->nr_done)
			r->done_head = r->nr_done = 0;
	}
	pthread_mutex_unlock(&r->lock);
	for (size_t i = 0; i < n && !r->skip_corrections; i++)
		if (out[i].exact_ok)
			remember_correction(r, &out[i]);
	return n;
}

bool reconciler__correct(struct reconciler *r, uint32_t pid, const struct mt_proc_stats *cur,
			 uint64_t out[MT_RSS_NR])
{
	const struct correction *c = r ? pidmap__get(r->corrections, pid) : NULL;

	memcpy(out, cur->rss_pages, sizeof(cur->rss_pages));
	if (!c || c->start_ns != cur->start_ns)
		return false;
	for (int m = 0; m < MT_RSS_NR; m++) {
		int64_t v = (int64_t)cur->rss_pages[m] + c->pages[m];

		out[m] = v > 0 ? (uint64_t)v : 0;
	}
	return true;
}

bool reconciler__correct_fresh(struct reconciler *r, uint32_t pid, const struct mt_proc_stats *cur,
			       uint64_t out[MT_RSS_NR])
{
	const struct correction *c = r ? pidmap__get(r->corrections, pid) : NULL;
	bool applied = false;

	memcpy(out, cur->rss_pages, sizeof(cur->rss_pages));
	if (!c || c->start_ns != cur->start_ns)
		return false;
	for (int m = 0; m < MT_RSS_NR; m++) {
		int64_t v = (int64_t)cur->rss_pages[m] + c->pages[m];

		if (cur->rss_pages[m] != c->counter[m])
			continue;
		out[m] = v > 0 ? (uint64_t)v : 0;
		applied = true;
	}
	return applied;
}

void reconciler__forget(struct reconciler *r, uint32_t pid)
{
	if (r)
		free(pidmap__delete(r->corrections, pid));
}

void reconciler__stats(struct reconciler *r, struct reconciler_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->stats;
	pthread_mutex_unlock(&r->lock);
}
