// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace run's bookkeeping without side effects: the table of processes
 * seen, the budget verdicts, the exit status and the timeline.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "pidmap.h"
#include "run.h"

struct run_procs {
	struct run_proc *all; /* in the order first seen */
	size_t nr, cap;
	struct pidmap *live; /* pid -> index + 1 into all, cast to a pointer */
};

struct run_procs *run_procs__new(void)
{
	struct run_procs *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->live = pidmap__new(64);
	if (!p->live) {
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	return p;
}

void run_procs__free(struct run_procs *p)
{
	if (!p)
		return;
	pidmap__free(p->live);
	free(p->all);
	free(p);
}

/* Indices, not pointers, in the map: the array moves when it grows. */
static struct run_proc *live_get(struct run_procs *p, uint32_t pid)
{
	uintptr_t idx = (uintptr_t)pidmap__get(p->live, pid);

	return idx ? &p->all[idx - 1] : NULL;
}

struct run_proc *run_procs__find(struct run_procs *p, uint32_t pid)
{
	return live_get(p, pid);
}

int run_procs__update(struct run_procs *p, const struct run_sample *s)
{
	struct run_proc *rec = live_get(p, s->pid);

	if (rec && rec->start_ns != s->start_ns) {
		/* the PID names another process now: the old one is over */
		rec->exited = true;
		pidmap__delete(p->live, s->pid);
		rec = NULL;
	}
	if (!rec) {
		if (p->nr == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 64;
			struct run_proc *all = realloc(p->all, cap * sizeof(*all));

			if (!all)
				return -ENOMEM;
			p->all = all;
			p->cap = cap;
		}
		rec = &p->all[p->nr];
		memset(rec, 0, sizeof(*rec));
		rec->pid = s->pid;
		rec->start_ns = s->start_ns;
		if (pidmap__set(p->live, s->pid, (void *)(uintptr_t)(p->nr + 1)))
			return -ENOMEM;
		p->nr++;
	}
	rec->ppid = s->ppid;
	memcpy(rec->comm, s->comm, sizeof(rec->comm));
	rec->comm[sizeof(rec->comm) - 1] = '\0';
	rec->last_rss_bytes = s->rss_bytes;
	if (s->peak_bytes > rec->peak_bytes)
		rec->peak_bytes = s->peak_bytes;
	if (s->rss_bytes > rec->peak_bytes)
		rec->peak_bytes = s->rss_bytes;
	if (s->faults > rec->faults)
		rec->faults = s->faults;
	if (s->exited) {
		rec->exited = true;
		pidmap__delete(p->live, s->pid);
	}
	return 0;
}

const struct run_proc *run_procs__all(const struct run_procs *p, size_t *count)
{
	*count = p->nr;
	return p->all;
}

static const char *const budget_names[RUN_BUDGET_NR] = {
	[RUN_MAX_RSS] = "max_rss",
	[RUN_MAX_TOTAL_RSS] = "max_total_rss",
	[RUN_MAX_GROWTH] = "max_growth",
	[RUN_MAX_PSS] = "max_pss",
};

static const char *const budget_options[RUN_BUDGET_NR] = {
	[RUN_MAX_RSS] = "--max-rss",
	[RUN_MAX_TOTAL_RSS] = "--max-total-rss",
	[RUN_MAX_GROWTH] = "--max-growth",
	[RUN_MAX_PSS] = "--max-pss",
};

const char *run_budget_name(enum run_budget_kind kind)
{
	return kind < RUN_BUDGET_NR ? budget_names[kind] : "unknown";
}

const char *run_budget_option(enum run_budget_kind kind)
{
	return kind < RUN_BUDGET_NR ? budget_options[kind] : "unknown";
}

void run_figures_from_procs(const struct run_procs *procs, struct run_figures *fig)
{
	size_t n;
	const struct run_proc *all = run_procs__all(procs, &n);

	fig->proc_peak_bytes = 0;
	fig->proc_peak_pid = 0;
	fig->proc_peak_comm[0] = '\0';
	fig->pss_peak_bytes = 0;
	fig->pss_peak_pid = 0;
	fig->have_pss = false;
	fig->faults = 0;
	fig->nr_procs = n;
	for (size_t i = 0; i < n; i++) {
		if (all[i].peak_bytes > fig->proc_peak_bytes || !fig->proc_peak_pid) {
			fig->proc_peak_bytes = all[i].peak_bytes;
			fig->proc_peak_pid = all[i].pid;
			memcpy(fig->proc_peak_comm, all[i].comm, sizeof(fig->proc_peak_comm));
		}
		if (all[i].peak_pss_bytes &&
		    (!fig->have_pss || all[i].peak_pss_bytes > fig->pss_peak_bytes)) {
			fig->pss_peak_bytes = all[i].peak_pss_bytes;
			fig->pss_peak_pid = all[i].pid;
			fig->have_pss = true;
		}
		fig->faults += all[i].faults;
	}
}

size_t run_judge(const struct run_budgets *b, const struct run_figures *fig,
		 struct run_verdict *out, size_t *nr_out)
{
	size_t n = 0, over = 0;

	for (int k = 0; k < RUN_BUDGET_NR; k++) {
		struct run_verdict *v;

		if (!b->set[k])
			continue;
		v = &out[n++];
		memset(v, 0, sizeof(*v));
		v->kind = k;
		v->limit_bytes = b->limit[k];
		v->measured = true;
		switch (k) {
		case RUN_MAX_RSS:
			v->actual_bytes = (int64_t)fig->proc_peak_bytes;
			v->pid = fig->proc_peak_pid;
			break;
		case RUN_MAX_TOTAL_RSS:
			v->actual_bytes = (int64_t)fig->tree_peak_bytes;
			break;
		case RUN_MAX_GROWTH:
			v->measured = fig->have_growth;
			v->actual_bytes = fig->growth_bytes;
			break;
		case RUN_MAX_PSS:
			v->measured = fig->have_pss;
			v->actual_bytes = (int64_t)fig->pss_peak_bytes;
			v->pid = fig->pss_peak_pid;
			break;
		}
		/* a shrink is never over a growth budget; sizes above INT64_MAX do not occur */
		v->over = v->measured && v->actual_bytes > 0 &&
			  (uint64_t)v->actual_bytes > v->limit_bytes;
		if (v->over)
			over++;
	}
	*nr_out = n;
	return over;
}

int run_exit_status(int wait_status, size_t nr_over, bool no_fail)
{
	if (nr_over && !no_fail)
		return RUN_EXIT_OVER_BUDGET;
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return 1; /* stopped or continued: waitpid without WUNTRACED never says so */
}

struct run_timeline {
	struct run_point *points;
	size_t nr, max;
	uint64_t stride;  /* polls per point */
	uint64_t pending; /* polls folded into points[nr - 1] at this stride */
};

struct run_timeline *run_timeline__new(size_t max_points)
{
	struct run_timeline *tl;

	if (max_points < 2) {
		errno = EINVAL;
		return NULL;
	}
	tl = calloc(1, sizeof(*tl));
	if (!tl)
		return NULL;
	tl->points = calloc(max_points, sizeof(*tl->points));
	if (!tl->points) {
		free(tl);
		return NULL;
	}
	tl->max = max_points;
	tl->stride = 1;
	return tl;
}

void run_timeline__free(struct run_timeline *tl)
{
	if (!tl)
		return;
	free(tl->points);
	free(tl);
}

/* b folded into a: the later time and state, the larger peak */
static void merge_point(struct run_point *a, const struct run_point *b)
{
	uint64_t peak = a->tree_max_bytes;

	if (b->tree_max_bytes > peak)
		peak = b->tree_max_bytes;
	if (b->tree_bytes > peak)
		peak = b->tree_bytes;

	*a = *b;
	a->tree_max_bytes = peak;
}

int run_timeline__add(struct run_timeline *tl, const struct run_point *pt)
{
	if (tl->nr && tl->pending < tl->stride) {
		merge_point(&tl->points[tl->nr - 1], pt);
		tl->pending++;
		return 0;
	}
	if (tl->nr == tl->max) {
		size_t j = 0;
		bool odd = tl->nr % 2;

		for (size_t i = 0; i + 1 < tl->nr; i += 2, j++) {
			tl->points[j] = tl->points[i];
			merge_point(&tl->points[j], &tl->points[i + 1]);
		}
		if (odd)
			tl->points[j++] = tl->points[tl->nr - 1];
		tl->nr = j;
		tl->stride *= 2;
		if (odd) {
			/* the unpaired last point stands for half a stride: it takes this poll */
			merge_point(&tl->points[tl->nr - 1], pt);
			tl->pending = tl->stride / 2 + 1;
			return 0;
		}
	}
	tl->points[tl->nr] = *pt;
	if (tl->points[tl->nr].tree_max_bytes < pt->tree_bytes)
		tl->points[tl->nr].tree_max_bytes = pt->tree_bytes;
	tl->nr++;
	tl->pending = 1;
	return 0;
}

const struct run_point *run_timeline__points(const struct run_timeline *tl, size_t *count)
{
	*count = tl->nr;
	return tl->points;
}

uint64_t run_timeline__stride(const struct run_timeline *tl)
{
	return tl->stride;
}
