// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "reconcile.h"
#include "tracer_api.h"

struct reconciler {
	struct tracer *tracer;
	struct smaps_reader *reader; /* used by the worker only */
	pthread_t worker;
	bool worker_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	/* pending PIDs: a ring */
	uint32_t *queue;
	size_t queue_len, head, pending;
	/* finished results: a growing array drained by the caller */
	struct reconcile_result *done;
	size_t nr_done, cap_done;
	struct reconciler_stats stats;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

uint64_t reconcile_interval_ns(uint64_t period_ns, uint64_t rss_bytes)
{
	const uint64_t big = 4ULL << 30;

	if (rss_bytes <= big)
		return period_ns;
	return period_ns * (1 + (rss_bytes - big + big - 1) / big);
}

static void read_one(struct reconciler *r, uint32_t pid, struct reconcile_result *res)
{
	long page = sysconf(_SC_PAGESIZE);
	struct mt_proc_stats stats;
	uint64_t start = now_ns();

	memset(res, 0, sizeof(*res));
	res->pid = pid;
	res->err = smaps_reader__read(r->reader, pid, &res->smaps);
	res->done_ns = now_ns();
	res->read_ns = res->done_ns - start;
	if (!res->err && r->tracer && tracer__lookup(r->tracer, pid, &stats) == 0 &&
	    (stats.flags & MT_PROC_RSS_SEEN)) {
		res->counter_rss_bytes = (stats.rss_pages[MT_RSS_FILE] + stats.rss_pages[MT_RSS_ANON] +
					  stats.rss_pages[MT_RSS_SHMEM]) * (uint64_t)page;
		res->counter_ok = 1;
	}
}

static void *worker_main(void *arg)
{
	struct reconciler *r = arg;
	struct reconcile_result res;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		uint32_t pid;

		while (!r->stop && !r->pending)
			pthread_cond_wait(&r->wake, &r->lock);
		if (r->stop)
			break;
		pid = r->queue[r->head];
		r->head = (r->head + 1) % r->queue_len;
		r->pending--;
		pthread_mutex_unlock(&r->lock);

		read_one(r, pid, &res);

		pthread_mutex_lock(&r->lock);
		r->stats.reads++;
		r->stats.read_time_ns += res.read_ns;
		if (res.read_ns > r->stats.max_read_ns)
			r->stats.max_read_ns = res.read_ns;
		if (r->nr_done == r->cap_done) {
			size_t cap = r->cap_done ? r->cap_done * 2 : 64;
			struct reconcile_result *grown = realloc(r->done, cap * sizeof(*grown));

			if (!grown)
				continue; /* result lost to ENOMEM; the PID is resubmitted when due */
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
	if (!r->queue || !r->reader) {
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
		r->queue[(r->head + r->pending) % r->queue_len] = pid;
		r->pending++;
		pthread_cond_signal(&r->wake);
	}
	pthread_mutex_unlock(&r->lock);
	return err;
}

size_t reconciler__drain(struct reconciler *r, struct reconcile_result *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	n = r->nr_done < max ? r->nr_done : max;
	if (n) { /* r->done may be NULL while nothing is done: no memcpy(NULL, 0) */
		memcpy(out, r->done, n * sizeof(*out));
		memmove(r->done, r->done + n, (r->nr_done - n) * sizeof(*out));
		r->nr_done -= n;
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

void reconciler__stats(struct reconciler *r, struct reconciler_stats *out)
{
	pthread_mutex_lock(&r->lock);
	*out = r->stats;
	pthread_mutex_unlock(&r->lock);
}
