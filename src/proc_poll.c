// SPDX-License-Identifier: GPL-2.0
/*
 * The poll of the kernel's process table, shared by top and serve (moved
 * out of top.c unchanged but for the forget callback).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pidmap.h"
#include "proc_poll.h"
#include "units.h"

#define RESULTS_BATCH 256

struct proc_poll {
	struct proc_poll_opts opts;
	struct tracer *tracer;
	struct reconciler *reconciler;
	struct pidmap *states;
	struct proc_state **view_states; /* cap entries: the state behind each row */
	uint32_t *gone;			 /* PIDs to forget, cap entries */
	size_t cap;
	struct reconcile_result *results;
	uint64_t iteration;
	long page_size;
};

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct proc_poll *proc_poll__new(struct tracer *tracer, const struct proc_poll_opts *opts)
{
	struct proc_poll *p = calloc(1, sizeof(*p));
	int err;

	if (!p)
		return NULL;
	p->opts = *opts;
	p->tracer = tracer;
	p->page_size = sysconf(_SC_PAGESIZE);
	p->states = pidmap__new(1024);
	p->results = calloc(RESULTS_BATCH, sizeof(*p->results));
	if (!p->states || !p->results) {
		err = -ENOMEM;
		goto fail;
	}
	if (opts->reconcile_ns) {
		p->reconciler = reconciler__new(tracer, tracer__max_procs(tracer));
		if (!p->reconciler) {
			err = -errno;
			goto fail;
		}
	}
	return p;
fail:
	proc_poll__free(p);
	errno = -err;
	return NULL;
}

static void forget(struct proc_poll *p, uint32_t pid, struct proc_state *st)
{
	reconciler__forget(p->reconciler, pid);
	if (p->opts.forget)
		p->opts.forget(p->opts.ctx, pid, st);
	free(st);
}

void proc_poll__free(struct proc_poll *p)
{
	size_t cursor = 0;
	struct proc_state *st;
	uint32_t pid;

	if (!p)
		return;
	if (p->states)
		while ((st = pidmap__next(p->states, &cursor, &pid)))
			forget(p, pid, st);
	reconciler__free(p->reconciler);
	pidmap__free(p->states);
	free(p->view_states);
	free(p->gone);
	free(p->results);
	free(p);
}

struct reconciler *proc_poll__reconciler(const struct proc_poll *p)
{
	return p->reconciler;
}

/*
 * Growth over the window (since first seen while the window fills), and
 * the key the growth sort ranks by: it follows the growth only when that
 * moved out of a band of an eighth of the key or PROC_GROWTH_BAND_BYTES,
 * or fell to 0.
 */
static void advance_growth(struct proc_state *st, uint64_t resident, uint64_t page)
{
	uint64_t oldest = st->window_len == PROC_GROWTH_WINDOW ? st->window_pages[st->window_pos]
			  : st->window_len		       ? st->window_pages[0]
							       : resident;
	int64_t band, diff;

	st->growth_bytes = ((int64_t)resident - (int64_t)oldest) * (int64_t)page;
	st->window_pages[st->window_pos] = resident;
	st->window_pos = (st->window_pos + 1) % PROC_GROWTH_WINDOW;
	if (st->window_len < PROC_GROWTH_WINDOW)
		st->window_len++;
	band = (st->growth_key < 0 ? -st->growth_key : st->growth_key) / 8;
	if (band < PROC_GROWTH_BAND_BYTES)
		band = PROC_GROWTH_BAND_BYTES;
	diff = st->growth_bytes - st->growth_key;
	if (diff > band || diff < -band || (st->growth_bytes == 0 && st->growth_key != 0))
		st->growth_key = st->growth_bytes;
}

/* Move the state on to cur: this poll's deltas, and cur becomes prev. */
static void advance_state(struct proc_state *st, const struct mt_proc_stats *cur, uint64_t page)
{
	uint64_t resident = proc_state_resident_pages(st);

	/*
	 * Cumulative counters start at zero when tracing starts or the process
	 * is born, so zero is the right first baseline; RSS has none (a seeded
	 * process was already resident), so its first change reads 0.
	 */
	if (st->have_prev)
		st->rss_delta_bytes =
		    ((int64_t)resident - (int64_t)st->prev_resident_pages) * (int64_t)page;
	st->faults_delta = counter_delta(st->prev_faults, cur->faults);
	st->mapped_delta_bytes = counter_delta(st->prev_mmap_bytes, cur->mmap_bytes);
	st->unmapped_delta_bytes = counter_delta(st->prev_munmap_bytes, cur->munmap_bytes);
	advance_growth(st, resident, page);
	st->prev_resident_pages = resident;
	st->prev_faults = cur->faults;
	st->prev_mmap_bytes = cur->mmap_bytes;
	st->prev_munmap_bytes = cur->munmap_bytes;
	st->have_prev = true;
	st->exited = cur->flags & MT_PROC_EXITED;
}

static void apply_reconcile_results(struct proc_poll *p)
{
	size_t n;

	while ((n = reconciler__drain(p->reconciler, p->results, RESULTS_BATCH)) > 0) {
		for (size_t i = 0; i < n; i++) {
			const struct reconcile_result *res = &p->results[i];
			const struct smaps_rollup *s = &res->smaps;
			struct proc_state *st = pidmap__get(p->states, res->pid);

			if (!st)
				continue;
			st->queued = false;
			/* gone between poll and read: its row goes when the kernel says so */
			if (res->err)
				continue;
			st->have_smaps = true;
			st->pss = s->pss + s->shared_hugetlb + s->private_hugetlb;
			st->private_bytes = smaps_private(s) + s->private_hugetlb;
			st->swap_pss = (s->present & SMAPS_HAS_SWAP_PSS) ? s->swap_pss : s->swap;
			st->smaps_rss = s->rss;
			if (res->exact_ok) {
				/* the correction reconciler__correct applies from now on */
				int64_t d = 0;

				for (int m = 0; m < MT_RSS_NR; m++)
					if (m != MT_RSS_SWAP)
						d += (int64_t)res->exact_pages[m] -
						     (int64_t)res->counter_pages[m];
				st->drift = (uint64_t)(d < 0 ? -d : d) * p->page_size;
				st->correction_ns = res->exact_ns;
			} else
				st->drift = !res->counter_ok ? 0
					    : res->counter_rss_bytes > s->rss
						? res->counter_rss_bytes - s->rss
						: s->rss - res->counter_rss_bytes;
			st->smaps_done_ns = res->done_ns;
		}
	}
}

/*
 * Reads are spread over the period: each poll submits about the share of
 * processes that a period needs (plus slack for newcomers), oldest due
 * first by virtue of next_reconcile_ns, so a host with 10,000 processes
 * never queues them all at once.
 */
static void schedule_reconcile(struct proc_poll *p, uint32_t pid, struct proc_state *st,
			       uint64_t rss_bytes, uint64_t now, size_t *budget)
{
	if (!p->reconciler || st->queued || st->exited || now < st->next_reconcile_ns || !*budget)
		return;
	if (reconciler__submit(p->reconciler, pid) == 0) {
		st->queued = true;
		st->next_reconcile_ns =
		    now + reconcile_interval_ns(p->opts.reconcile_ns, rss_bytes);
		(*budget)--;
	}
}

static size_t reconcile_budget(const struct proc_poll_opts *opts, size_t nr_procs)
{
	uint64_t share;

	if (!opts->reconcile_ns)
		return 0;
	share = (uint64_t)nr_procs * opts->interval_ns / opts->reconcile_ns;
	return share + 64;
}

static int grow(struct proc_poll *p, size_t n)
{
	size_t cap = p->cap ? p->cap : 256;
	struct proc_state **view_states;
	uint32_t *gone;

	if (n <= p->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	view_states = realloc(p->view_states, cap * sizeof(*view_states));
	if (!view_states)
		return -ENOMEM;
	p->view_states = view_states;
	gone = realloc(p->gone, cap * sizeof(*gone));
	if (!gone)
		return -ENOMEM;
	p->gone = gone;
	p->cap = cap;
	return 0;
}

int proc_poll__once(struct proc_poll *p, struct proc_poll_view *view)
{
	size_t count, exited = 0, nr_gone = 0, cursor = 0, budget;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	const uint32_t *tgids;
	const struct mt_proc_stats *stats;
	struct proc_state *st;
	uint32_t pid;
	int err;

	p->iteration++;
	if (p->reconciler)
		apply_reconcile_results(p);
	err = tracer__read(p->tracer, &tgids, &stats, &count);
	if (err)
		return err;
	/* gone[] must hold every state too: states never outnumber last poll's rows */
	err = grow(p, count > pidmap__count(p->states) ? count : pidmap__count(p->states));
	if (err)
		return err;
	budget = reconcile_budget(&p->opts, count);

	for (size_t i = 0; i < count; i++) {
		const struct mt_proc_stats *cur = &stats[i];
		uint32_t tgid = tgids[i];

		st = pidmap__get(p->states, tgid);
		if (st && st->start_ns != cur->start_ns) {
			/* the PID now names another process */
			forget(p, tgid, pidmap__delete(p->states, tgid));
			st = NULL;
		}
		if (!st) {
			st = calloc(1, sizeof(*st));
			if (!st || pidmap__set(p->states, tgid, st)) {
				free(st);
				return -ENOMEM;
			}
			st->start_ns = cur->start_ns;
		}
		st->seen_iter = p->iteration;
		st->corrected = reconciler__correct(p->reconciler, tgid, cur, st->pages);
		advance_state(st, cur, p->page_size);
		p->view_states[i] = st;
		schedule_reconcile(p, tgid, st, proc_state_resident_pages(st) * p->page_size, now,
				   &budget);
		if (st->exited) {
			exited++;
			/* reported once with its final figures, then forgotten */
			tracer__reap(p->tracer, tgid);
		}
	}

	/* states of processes reaped last time or gone from the map */
	while ((st = pidmap__next(p->states, &cursor, &pid)))
		if (st->seen_iter != p->iteration && nr_gone < p->cap)
			p->gone[nr_gone++] = pid;
	for (size_t i = 0; i < nr_gone; i++)
		forget(p, p->gone[i], pidmap__delete(p->states, p->gone[i]));

	view->tgids = tgids;
	view->stats = stats;
	view->states = p->view_states;
	view->count = count;
	view->nr_exited = exited;
	view->iteration = p->iteration;
	return 0;
}
