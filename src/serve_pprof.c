// SPDX-License-Identifier: GPL-2.0
/*
 * serve's /debug/pprof/memory: page-fault call sites for N seconds, taken
 * by the record code (stacks.c behind stacks_api.h) and turned into a pprof
 * profile by the report code (profile.c, pprof.c), on a worker thread so
 * that neither the HTTP thread nor the poll waits for it. One at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "profile.h"
#include "recording.h"
#include "serve.h"
#include "snapshot.h"
#include "stacks_api.h"
#include "symbolize.h"
#include "units.h"

enum job_state { JOB_IDLE, JOB_RUNNING, JOB_DONE };

struct serve_profiler {
	pthread_mutex_t lock;
	enum job_state state;
	bool thread_live; /* a worker to join */
	pthread_t thread;
	volatile bool cancel;
	volatile bool tracing; /* the processes are traced: the window is open */
	/* the job */
	uint32_t seconds;
	int pids[SERVE_PPROF_MAX_PIDS];
	size_t npids;
	void (*done)(void *arg);
	void *done_arg;
	/* its result */
	char *buf;
	size_t len;
	int err;
};

struct serve_profiler *serve_profiler__new(void)
{
	struct serve_profiler *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

/* Track the job's processes, or every process there is; 0 or -errno. */
static int track(struct serve_profiler *p, struct stacks *s)
{
	int *all = NULL, err = 0;
	const int *pids = p->pids;
	size_t n = p->npids, tracked = 0;

	if (!n) {
		err = snapshot_list_pids(&all, &n, getpid());
		if (err)
			return err;
		pids = all;
	}
	for (size_t i = 0; i < n; i++) {
		err = stacks__track(s, (uint32_t)pids[i]);
		if (err == -ESRCH) /* exited meanwhile */
			continue;
		if (err == -ENOSPC) {
			mt_warn(
			    "pprof: the stacks' process table is full: %zu of %zu processes traced",
			    tracked, n);
			err = 0;
			break;
		}
		if (err)
			break;
		tracked++;
	}
	free(all);
	if (!err && !tracked && p->npids)
		err = -ESRCH;
	return err;
}

static int take_profile(struct serve_profiler *p, char **buf, size_t *len, const char **what)
{
	/* as `memtrace record` by default: user-stack captures unwound with CFI */
	const struct stacks_opts so = {
		.events = MT_EVMASK(MT_EV_FAULT),
		.follow_forks = true,
		.unwind = MT_UNWIND_DWARF,
	};
	struct profile_opts popts = { .events = MT_EVMASK(MT_EV_FAULT) };
	struct mt_rec_meta meta = { .sample_every = 1, .events = MT_EVMASK(MT_EV_FAULT) };
	struct recording *rec = recording__new();
	struct symbolizer *sym = NULL;
	struct profile *prof = NULL;
	struct stacks *s = NULL;
	uint64_t counters[MT_SC_NR], start, deadline;
	FILE *out = NULL;
	int err;

	if (!rec)
		return -ENOMEM;
	*what = "load the stacks programs";
	s = stacks__new(&so, rec);
	if (!s) {
		err = -errno;
		goto cleanup;
	}
	*what = "trace the processes";
	err = track(p, s);
	if (err)
		goto cleanup;
	meta.start_ns = mt_clock_ns(CLOCK_REALTIME);
	start = mt_clock_ns(CLOCK_MONOTONIC);
	deadline = start + p->seconds * 1000000000ULL;
	*what = "follow the processes";
	p->tracing = true;
	while (!p->cancel && mt_clock_ns(CLOCK_MONOTONIC) < deadline) {
		err = stacks__poll(s, 100 /* ms */);
		if (err)
			goto cleanup;
	}
	meta.duration_ns = mt_clock_ns(CLOCK_MONOTONIC) - start;
	p->tracing = false;
	*what = "collect the stacks";
	err = stacks__harvest(s);
	if (!err)
		err = stacks__counters(s, counters);
	if (err)
		goto cleanup;
	meta.ncounters = MT_SC_NR;
	memcpy(meta.counters, counters, sizeof(counters));
	err = recording__set_meta(rec, &meta);
	if (err)
		goto cleanup;
	/* the programs go before the symbolization, which takes a while */
	stacks__free(s);
	s = NULL;
	*what = "symbolize the stacks";
	sym = symbolizer__new(rec);
	if (!sym) {
		err = -errno;
		goto cleanup;
	}
	popts.pids = p->pids;
	popts.npids = p->npids;
	prof = profile__build(rec, sym, &popts);
	if (!prof) {
		err = -errno;
		goto cleanup;
	}
	*what = "write the profile";
	out = open_memstream(buf, len);
	if (!out) {
		err = -errno;
		goto cleanup;
	}
	err = pprof__write(prof, rec, out);
	if (fclose(out) && !err)
		err = -EIO;
	if (err) {
		free(*buf);
		*buf = NULL;
	}
cleanup:
	p->tracing = false;
	profile__free(prof);
	symbolizer__free(sym);
	stacks__free(s);
	recording__free(rec);
	return err;
}

static void *worker(void *arg)
{
	struct serve_profiler *p = arg;
	char *buf = NULL;
	size_t len = 0;
	const char *what = "start";
	int err = take_profile(p, &buf, &len, &what);

	if (err)
		mt_warn("pprof: cannot %s: %s", what, strerror(-err));
	pthread_mutex_lock(&p->lock);
	p->buf = buf;
	p->len = len;
	p->err = err;
	p->state = JOB_DONE;
	pthread_mutex_unlock(&p->lock);
	p->done(p->done_arg);
	return NULL;
}

int serve_profiler__start(struct serve_profiler *p, uint32_t seconds, const int *pids, size_t npids,
			  void (*done)(void *arg), void *arg)
{
	int err;

	if (npids > SERVE_PPROF_MAX_PIDS)
		return -E2BIG;
	pthread_mutex_lock(&p->lock);
	if (p->state != JOB_IDLE) {
		pthread_mutex_unlock(&p->lock);
		return -EBUSY;
	}
	if (p->thread_live) {
		pthread_join(p->thread, NULL); /* the previous job's, long finished */
		p->thread_live = false;
	}
	p->seconds = seconds;
	memcpy(p->pids, pids, npids * sizeof(*pids));
	p->npids = npids;
	p->done = done;
	p->done_arg = arg;
	p->state = JOB_RUNNING;
	err = -pthread_create(&p->thread, NULL, worker, p);
	if (err)
		p->state = JOB_IDLE;
	else
		p->thread_live = true;
	pthread_mutex_unlock(&p->lock);
	return err;
}

bool serve_profiler__tracing(const struct serve_profiler *p)
{
	return p && p->tracing;
}

bool serve_profiler__busy(struct serve_profiler *p)
{
	bool busy;

	pthread_mutex_lock(&p->lock);
	busy = p->state != JOB_IDLE;
	pthread_mutex_unlock(&p->lock);
	return busy;
}

int serve_profiler__take(struct serve_profiler *p, char **buf, size_t *len)
{
	int err;

	pthread_mutex_lock(&p->lock);
	if (p->state != JOB_DONE) {
		pthread_mutex_unlock(&p->lock);
		return -EAGAIN;
	}
	*buf = p->buf;
	*len = p->len;
	err = p->err;
	p->buf = NULL;
	p->state = JOB_IDLE;
	pthread_mutex_unlock(&p->lock);
	return err;
}

void serve_profiler__free(struct serve_profiler *p)
{
	if (!p)
		return;
	p->cancel = true;
	if (p->thread_live)
		pthread_join(p->thread, NULL);
	free(p->buf);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
