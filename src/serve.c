// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace serve: a Prometheus exporter. The main thread polls the kernel's
 * table (proc_poll.c, as top does), groups processes as snapshot does,
 * renders both exposition formats and publishes them under a mutex; the
 * HTTP server (libmicrohttpd, its own thread) only takes a reference to the
 * latest rendering, so no client can hold up a poll and no scrape waits on
 * a smaps read or on the poll.
 * This file is over 800 lines: the poll loop, the series, the HTTP side and
 * the command line share struct serve_ctx, private to this file; the HTTP
 * side (reply() to start_http()) is the piece to move out next.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include "commands.h"
#include "log.h"
#include "mhd_dl.h"
#include "metrics.h"
#include "proc_poll.h"
#include "procfs.h"
#include "selfpages.h"
#include "serve.h"
#include "snapshot.h"
#include "tracer_api.h"
#include "units.h"
#include "watchopts.h"

struct serve_opts {
	struct serve_listen listen;
	const char *listen_text;
	enum snap_by by;
	uint32_t max_series;
	uint64_t interval_ns;
	uint64_t reconcile_ns;
	uint64_t duration_ns; /* 0 = until stopped */
	uint32_t max_procs;
	const char *textfile_dir;
	const char *web_config_path;
	struct web_config web;
};

/* serve's own part of a process's state (proc_state.user) */
struct serve_proc {
	char comm[MT_COMM_LEN];	  /* the comm its identity was read for */
	char name[SNAP_NAME_LEN]; /* program name, snapshot's rule */
	uint32_t uid;
	char *cgroup;		   /* malloc'd, or NULL */
	struct serve_group *group; /* the group its counters count in */
	uint64_t named_ns;	   /* CLOCK_MONOTONIC when its identity was read */
	/* counts it had when it joined that group: only what follows is the group's */
	uint64_t base_faults, base_mapped, base_unmapped;
};

/*
 * A group kept across polls, so that its counters stay monotonic when
 * members exit or move: what members that left had counted stays in gone_*.
 */
struct serve_group {
	char *label;
	uint64_t gone_faults, gone_mapped, gone_unmapped;
	uint64_t peak_bytes;
};

/* The poll interval histogram's bounds, in multiples of --interval: 1.1 is "10% late". */
static const double poll_bucket_factor[] = { 0.5, 0.9, 1.1, 1.5, 2, 5, 10 };
#define POLL_BUCKETS (sizeof(poll_bucket_factor) / sizeof(poll_bucket_factor[0]))

/*
 * One rendering, shared by the scrapes that send it: each holds a reference
 * while MHD sends it, so the lock is held only to take one, never for a copy.
 */
struct rendering {
	int refs;
	size_t len;
	char *text;
};

struct published {
	pthread_mutex_t lock;
	struct rendering *cur[2]; /* by enum metrics_format */
};

static void rendering_put(void *arg)
{
	struct rendering *r = arg;

	if (r && __atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		free(r->text);
		free(r);
	}
}

/* The latest rendering of fmt with a reference taken, or NULL. */
static struct rendering *rendering_get(struct published *pub, enum metrics_format fmt)
{
	struct rendering *r;

	pthread_mutex_lock(&pub->lock);
	r = pub->cur[fmt];
	if (r)
		__atomic_add_fetch(&r->refs, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&pub->lock);
	return r;
}

struct serve_ctx {
	struct serve_opts *opts;
	struct tracer *tracer;
	struct proc_poll *poll;
	long page_size;
	/* groups kept across polls, sorted by label for bsearch */
	struct serve_group **groups;
	size_t nr_groups, groups_cap;
	/* per poll, grown to the population */
	struct snap_proc *procs;
	int *group_of;
	size_t *gmap; /* snapshot group -> index in groups */
	struct metrics_group *series;
	size_t cap, gmap_cap;
	char *read_buf;
	size_t read_cap;
	/* memtrace's own figures */
	struct metrics_self self;
	struct metrics_prog progs[TRACER_MAX_PROGS];
	double poll_le[POLL_BUCKETS]; /* bounds: multiples of --interval */
	uint64_t poll_le_count[POLL_BUCKETS];
	struct published pub;
	/* /debug/pprof/memory: one profile at a time, its connection suspended meanwhile */
	struct serve_profiler *profiler;
	struct MHD_Connection *pprof_conn;
	int pprof_err; /* the start failed: answered when resumed */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

/* How often a process's name is read again for prctl(PR_SET_NAME) renames. */
#define RENAME_CHECK_NS (30 * 1000000000ULL)

/* ---- groups kept across polls ---- */

static int cmp_group_label(const void *key, const void *elem)
{
	return strcmp(key, (*(struct serve_group *const *)elem)->label);
}

static struct serve_group *group_get(struct serve_ctx *ctx, const char *label)
{
	struct serve_group **slot, *g;
	size_t lo = 0, hi = ctx->nr_groups;

	slot = bsearch(label, ctx->groups, ctx->nr_groups, sizeof(*ctx->groups), cmp_group_label);
	if (slot)
		return *slot;
	/* insertion point */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(ctx->groups[mid]->label, label) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (ctx->nr_groups == ctx->groups_cap) {
		size_t cap = ctx->groups_cap ? ctx->groups_cap * 2 : 64;
		struct serve_group **bigger = realloc(ctx->groups, cap * sizeof(*bigger));

		if (!bigger)
			return NULL;
		ctx->groups = bigger;
		ctx->groups_cap = cap;
	}
	g = calloc(1, sizeof(*g));
	if (!g || !(g->label = strdup(label))) {
		free(g);
		return NULL;
	}
	memmove(&ctx->groups[lo + 1], &ctx->groups[lo],
		(ctx->nr_groups - lo) * sizeof(*ctx->groups));
	ctx->groups[lo] = g;
	ctx->nr_groups++;
	return g;
}

/* A process leaves its group: what it counted there stays there. */
static void leave_group(struct serve_proc *sp, uint64_t faults, uint64_t mapped, uint64_t unmapped)
{
	struct serve_group *g = sp->group;

	if (!g)
		return;
	g->gone_faults += counter_delta(sp->base_faults, faults);
	g->gone_mapped += counter_delta(sp->base_mapped, mapped);
	g->gone_unmapped += counter_delta(sp->base_unmapped, unmapped);
	sp->group = NULL;
}

/* proc_poll's forget callback: the process was reaped or its PID reused */
static void forget_proc(void *arg, uint32_t pid, struct proc_state *st)
{
	struct serve_proc *sp = st->user;

	if (!sp)
		return;
	leave_group(sp, st->faults, st->mmap_bytes, st->munmap_bytes);
	free(sp->cgroup);
	free(sp);
	st->user = NULL;
}

/* Name, uid and cgroup of a process, read once (again after an exec). */
static void read_identity(struct serve_ctx *ctx, uint32_t pid, struct serve_proc *sp,
			  const struct proc_state *st)
{
	char comm[MT_COMM_LEN];

	memcpy(comm, st->comm, MT_COMM_LEN);
	comm[MT_COMM_LEN - 1] = '\0';
	memcpy(sp->comm, comm, MT_COMM_LEN);
	sp->named_ns = mt_clock_ns(CLOCK_MONOTONIC);
	/* gone already (an exit reported at first sight): the kernel's comm alone */
	if (st->flags & MT_PROC_EXITED || snap_read_name((int)pid, sp->name, sizeof(sp->name)))
		snap_program_name(NULL, false, comm, sp->name, sizeof(sp->name));
	sp->uid = UINT32_MAX;
	free(sp->cgroup);
	sp->cgroup = NULL;
	if (ctx->opts->by == SNAP_BY_USER) {
		struct proc_status status;

		if (proc_status__read((int)pid, &status) == 0)
			sp->uid = status.uid;
	} else if (ctx->opts->by == SNAP_BY_CGROUP) {
		sp->cgroup = snap_read_cgroup((int)pid, &ctx->read_buf, &ctx->read_cap);
	}
}

static int grow(struct serve_ctx *ctx, size_t n)
{
	size_t cap = ctx->cap ? ctx->cap : 256;
	void *p;

	if (n <= ctx->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	if (!(p = realloc(ctx->procs, cap * sizeof(*ctx->procs))))
		return -ENOMEM;
	ctx->procs = p;
	if (!(p = realloc(ctx->group_of, cap * sizeof(*ctx->group_of))))
		return -ENOMEM;
	ctx->group_of = p;
	if (!(p = realloc(ctx->series, cap * sizeof(*ctx->series))))
		return -ENOMEM;
	ctx->series = p;
	ctx->cap = cap;
	return 0;
}

static int cmp_series(const void *a, const void *b)
{
	const struct metrics_group *x = a, *y = b;
	uint64_t rx = x->resident_anon_bytes + x->resident_file_bytes + x->resident_shmem_bytes;
	uint64_t ry = y->resident_anon_bytes + y->resident_file_bytes + y->resident_shmem_bytes;
	int c = rx < ry ? 1 : rx > ry ? -1 : 0; /* largest first */

	if (!c)
		c = strcmp(x->label, y->label);
	if (!c)
		c = x->pid < y->pid ? -1 : x->pid > y->pid;
	return c;
}

static uint64_t series_resident(const struct metrics_group *m)
{
	return m->resident_anon_bytes + m->resident_file_bytes + m->resident_shmem_bytes;
}

/* Add one process's figures now to its series. */
static void add_to_series(struct serve_ctx *ctx, struct metrics_group *m,
			  const struct proc_state *st, const struct serve_proc *sp, bool per_pid)
{
	uint64_t page = ctx->page_size;
	uint64_t peak = st->rss_peak_pages * page;

	if (per_pid) {
		m->page_faults += st->faults;
		m->mapped_bytes += st->mmap_bytes;
		m->unmapped_bytes += st->munmap_bytes;
	} else {
		m->page_faults += counter_delta(sp->base_faults, st->faults);
		m->mapped_bytes += counter_delta(sp->base_mapped, st->mmap_bytes);
		m->unmapped_bytes += counter_delta(sp->base_unmapped, st->munmap_bytes);
	}
	if (st->exited) /* its counts stay; it holds no memory any more */
		return;
	m->processes++;
	m->resident_anon_bytes += st->rss_pages[MT_RSS_ANON] * page;
	m->resident_file_bytes += st->rss_pages[MT_RSS_FILE] * page;
	m->resident_shmem_bytes += st->rss_pages[MT_RSS_SHMEM] * page;
	m->swap_bytes += st->rss_pages[MT_RSS_SWAP] * page;
	if (peak > m->resident_peak_bytes)
		m->resident_peak_bytes = peak;
	if (st->have_smaps) {
		const struct proc_smaps *sm = proc_poll__smaps(ctx->poll, st);

		m->pss_bytes += proc_kb_bytes(sm->pss_kb);
		m->uss_bytes += proc_kb_bytes(sm->private_kb);
		m->swap_pss_bytes += proc_kb_bytes(sm->swap_pss_kb);
	} else {
		m->have_smaps = false;
		ctx->self.smaps_pending++;
	}
}

/* Each process's identity (read again after exec, and now and then), as snapshot groups it. */
static int name_procs(struct serve_ctx *ctx, const struct proc_poll_view *v)
{
	uint64_t now = mt_clock_ns(CLOCK_MONOTONIC);

	for (size_t i = 0; i < v->count; i++) {
		struct proc_state *st = v->states[i];
		struct serve_proc *sp = st->user;
		struct snap_proc *p = &ctx->procs[i];

		if (!sp) {
			sp = calloc(1, sizeof(*sp));
			if (!sp)
				return -ENOMEM;
			st->user = sp;
			read_identity(ctx, v->tgids[i], sp, st);
		} else if (strncmp(sp->comm, st->comm, MT_COMM_LEN - 1) != 0 ||
			   (now > sp->named_ns && now - sp->named_ns >= RENAME_CHECK_NS)) {
			/*
			 * exec'd; or named long enough ago: the kernel side does
			 * not see prctl(PR_SET_NAME) renames
			 */
			read_identity(ctx, v->tgids[i], sp, st);
		}
		memset(p, 0, sizeof(*p));
		p->pid = (int)v->tgids[i];
		p->state = SNAP_OK;
		p->dup_of = -1;
		p->uid = sp->uid;
		p->cgroup = sp->cgroup;
		p->name = sp->name; /* sp outlives the grouping of this scrape */
	}
	return 0;
}

/*
 * Grouped modes: this poll's groups join the kept ones (ctx->gmap maps
 * the first to the second), and every kept group gets a series, members or
 * not, since its counters go on. *n: the number of series.
 */
static int keep_groups(struct serve_ctx *ctx, const struct snap_group *groups, int ngroups,
		       size_t *n)
{
	int err;

	if ((size_t)ngroups > ctx->gmap_cap) {
		size_t *bigger = realloc(ctx->gmap, ngroups * sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		ctx->gmap = bigger;
		ctx->gmap_cap = ngroups;
	}
	for (int k = 0; k < ngroups; k++)
		if (!group_get(ctx, groups[k].name))
			return -ENOMEM;
	/* indices into the kept groups, once they are all in */
	for (int k = 0; k < ngroups; k++) {
		struct serve_group **slot = bsearch(groups[k].name, ctx->groups, ctx->nr_groups,
						    sizeof(*ctx->groups), cmp_group_label);

		ctx->gmap[k] = (size_t)(slot - ctx->groups);
	}
	*n = ctx->nr_groups;
	err = grow(ctx, *n);
	if (err)
		return err;
	for (size_t k = 0; k < *n; k++) {
		struct serve_group *g = ctx->groups[k];

		ctx->series[k] = (struct metrics_group){
			.label = g->label,
			.have_smaps = true,
			.page_faults = g->gone_faults,
			.mapped_bytes = g->gone_mapped,
			.unmapped_bytes = g->gone_unmapped,
		};
	}
	return 0;
}

/* The series process i adds to: its own (per pid, n counts it) or its group's. */
static struct metrics_group *series_of(struct serve_ctx *ctx, const struct proc_poll_view *v,
				       size_t i, bool per_pid, size_t *n)
{
	struct proc_state *st = v->states[i];
	struct serve_proc *sp = st->user;
	struct serve_group *g;
	size_t k;

	if (per_pid) {
		if (st->exited)
			return NULL; /* its series ends with it */
		ctx->series[*n] = (struct metrics_group){ .label = sp->name,
							  .pid = v->tgids[i],
							  .have_smaps = true };
		return &ctx->series[(*n)++];
	}
	k = ctx->gmap[ctx->group_of[i]];
	g = ctx->groups[k];
	if (sp->group != g) {
		if (sp->group) {
			/* moved (exec): the counts until now stay with the old group */
			const struct proc_moves *mv = proc_poll__moves(ctx->poll, st);
			uint64_t f = st->faults - mv->faults_delta;
			uint64_t mb = st->mmap_bytes - mv->mapped_delta_bytes;
			uint64_t ub = st->munmap_bytes - mv->unmapped_delta_bytes;

			leave_group(sp, f, mb, ub);
			sp->base_faults = f;
			sp->base_mapped = mb;
			sp->base_unmapped = ub;
		}
		sp->group = g;
	}
	return &ctx->series[k];
}

/* A kept group's peak is the highest its sum has been, across polls. */
static void keep_group_peaks(struct serve_ctx *ctx, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		struct metrics_group *m = &ctx->series[k];
		struct serve_group *g = ctx->groups[k];
		uint64_t resident = series_resident(m);

		if (resident > g->peak_bytes)
			g->peak_bytes = resident;
		if (m->resident_peak_bytes > g->peak_bytes)
			g->peak_bytes = m->resident_peak_bytes;
		m->resident_peak_bytes = g->peak_bytes;
		if (!m->processes)
			m->have_smaps = false; /* no one to read: no PSS rather than 0 */
	}
}

/*
 * One poll's series: every process gets its identity, snapshot's grouping
 * says which group it joins, and the group's figures are summed here.
 */
static int build_series(struct serve_ctx *ctx, const struct proc_poll_view *v, size_t *nr_series)
{
	bool per_pid = ctx->opts->by == SNAP_BY_PID;
	struct snap_group *groups = NULL;
	struct snap_totals totals;
	size_t n = 0;
	int ngroups, err;

	err = grow(ctx, v->count);
	if (err)
		return err;
	ctx->self.smaps_pending = 0;
	err = name_procs(ctx, v);
	if (err)
		return err;
	ngroups = snapshot_group_map(ctx->procs, v->count, ctx->opts->by, SNAP_SORT_RAM,
				     snap_user_name, &groups, &totals, ctx->group_of);
	if (ngroups < 0)
		return ngroups;
	if (!per_pid) {
		err = keep_groups(ctx, groups, ngroups, &n);
		if (err)
			goto cleanup;
	}
	for (size_t i = 0; i < v->count; i++) {
		struct metrics_group *m = series_of(ctx, v, i, per_pid, &n);

		if (m)
			add_to_series(ctx, m, v->states[i], v->states[i]->user, per_pid);
	}
	if (!per_pid)
		keep_group_peaks(ctx, n);
	*nr_series = n;
	err = 0;
cleanup:
	free(groups);
	return err;
}

static void fill_self(struct serve_ctx *ctx, const struct proc_poll_view *v, uint64_t interval_ns,
		      uint64_t cpu_ns)
{
	struct metrics_self *s = &ctx->self;
	struct reconciler *rec = proc_poll__reconciler(ctx->poll);
	struct tracer_cost cost;
	uint64_t live = v->count - v->nr_exited;

	tracer__losses(ctx->tracer, s->dropped);
	/* refused statistics (no CAP_SYS_ADMIN): no figures rather than zeros */
	s->bpf_stats = tracer__cost(ctx->tracer, &cost) == 0 && cost.stats_enabled;
	if (s->bpf_stats) {
		s->nr_progs = cost.nr_progs;
		for (size_t i = 0; i < cost.nr_progs; i++) {
			/* sampled windows (tracer__cost_window), scaled to the whole: a
			 * counter that moves in steps, never down */
			ctx->progs[i].name = cost.progs[i].name;
			ctx->progs[i].run_seconds =
			    cost.progs[i].run_time_ns * (double)cost.scale / 1e9;
			ctx->progs[i].runs = cost.progs[i].run_cnt * cost.scale;
		}
		s->progs = ctx->progs;
	}
	if (rec) {
		struct reconciler_stats rs;

		reconciler__stats(rec, &rs);
		s->smaps_reads = rs.reads;
		s->smaps_read_seconds = rs.read_time_ns / 1e9;
		s->smaps_queue_full = rs.queue_full;
	}
	s->polls = v->iteration;
	if (interval_ns) {
		double secs = interval_ns / 1e9;

		for (size_t i = 0; i < POLL_BUCKETS; i++)
			if (secs <= ctx->poll_le[i])
				ctx->poll_le_count[i]++;
		s->poll_intervals++;
		s->poll_interval_seconds_sum += secs;
		if (secs > s->poll_interval_max_seconds)
			s->poll_interval_max_seconds = secs;
	}
	s->poll_seconds = cpu_ns / 1e9;
	s->last_poll_timestamp = mt_clock_ns(CLOCK_REALTIME) / 1e9;
	s->tracked_processes = live;
	s->pprof_tracing = serve_profiler__tracing(ctx->profiler);
	s->max_procs = tracer__max_procs(ctx->tracer);
	{
		struct proc_status st;

		s->loader_resident_bytes = proc_status__read(getpid(), &st) ? 0 : st.vm_rss;
	}
}

/* Cut to --max-series, largest resident first; what is cut is counted. */
static size_t cut_series(struct serve_ctx *ctx, size_t n)
{
	struct metrics_self *s = &ctx->self;

	qsort(ctx->series, n, sizeof(*ctx->series), cmp_series);
	s->cut_series = s->cut_processes = s->cut_resident_bytes = 0;
	for (size_t i = ctx->opts->max_series; i < n; i++) {
		s->cut_series++;
		s->cut_processes += ctx->series[i].processes;
		s->cut_resident_bytes += series_resident(&ctx->series[i]);
	}
	return n < ctx->opts->max_series ? n : ctx->opts->max_series;
}

static int render(struct serve_ctx *ctx, enum metrics_format fmt, size_t n, char **text,
		  size_t *len)
{
	FILE *f = open_memstream(text, len);
	int err;

	if (!f)
		return -errno;
	err = metrics_render(f, fmt, ctx->series, n, &ctx->self);
	if (fclose(f) && !err)
		err = -errno;
	if (err) {
		free(*text);
		*text = NULL;
	}
	return err;
}

/*
 * Swap the new renderings in (taking text[]); the old ones go when their
 * last scrape is sent. The wait for the lock is the only way a scrape can
 * hold up the poll: its longest is exported, so tests can see it stays
 * negligible. 0 or -ENOMEM (the texts are freed).
 */
static int publish(struct published *pub, char *text[2], size_t len[2], double *max_wait)
{
	struct rendering *r[2] = { calloc(1, sizeof(**r)), calloc(1, sizeof(**r)) }, *old[2];
	uint64_t t0;
	double wait;

	if (!r[0] || !r[1]) {
		free(r[0]);
		free(r[1]);
		free(text[0]);
		free(text[1]);
		return -ENOMEM;
	}
	for (int f = 0; f < 2; f++) {
		r[f]->refs = 1; /* the publication's own */
		r[f]->text = text[f];
		r[f]->len = len[f];
	}
	t0 = mt_clock_ns(CLOCK_MONOTONIC);
	pthread_mutex_lock(&pub->lock);
	wait = (mt_clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	for (int f = 0; f < 2; f++) {
		old[f] = pub->cur[f];
		pub->cur[f] = r[f];
	}
	pthread_mutex_unlock(&pub->lock);
	if (wait > *max_wait)
		*max_wait = wait;
	rendering_put(old[0]);
	rendering_put(old[1]);
	return 0;
}

/* DIR/memtrace.prom, written to a temporary file in DIR and renamed over it */
static int write_textfile(const char *dir, const char *text, size_t len)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	size_t off = 0;
	int fd, err = 0;

	if ((size_t)snprintf(dst, sizeof(dst), "%s/memtrace.prom", dir) >= sizeof(dst) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.memtrace.prom.XXXXXX", dir) >= sizeof(tmp))
		return -ENAMETOOLONG;
	/* mkostemp creates with O_CREAT|O_EXCL: never through a planted link */
	fd = mkostemp(tmp, O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	/* node_exporter reads it as its own user: metrics hold no secrets */
	if (fchmod(fd, 0644))
		err = -errno;
	while (!err && off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, dst))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static int poll_and_publish(struct serve_ctx *ctx, uint64_t interval_ns)
{
	struct proc_poll_view v;
	char *text[2] = { NULL, NULL };
	size_t len[2] = { 0, 0 }, n;
	uint64_t cpu0 = mt_clock_ns(CLOCK_THREAD_CPUTIME_ID);
	int err;

	err = proc_poll__once(ctx->poll, &v);
	if (err) {
		mt_err("cannot read the kernel's process table: %s", strerror(-err));
		return err;
	}
	err = build_series(ctx, &v, &n);
	if (err) {
		mt_err("cannot group the processes: %s", strerror(-err));
		return err;
	}
	n = cut_series(ctx, n);
	fill_self(ctx, &v, interval_ns, mt_clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0);
	if (ctx->opts->textfile_dir) {
		err = render(ctx, METRICS_PROMETHEUS, n, &text[0], &len[0]);
		if (!err)
			err = write_textfile(ctx->opts->textfile_dir, text[0], len[0]);
		free(text[0]);
		if (err)
			mt_err("cannot write %s/memtrace.prom: %s", ctx->opts->textfile_dir,
			       strerror(-err));
		return err;
	}
	err = render(ctx, METRICS_PROMETHEUS, n, &text[0], &len[0]);
	if (!err)
		err = render(ctx, METRICS_OPENMETRICS, n, &text[1], &len[1]);
	if (err) {
		free(text[0]);
		free(text[1]);
		mt_err("cannot render the metrics: %s", strerror(-err));
		return err;
	}
	err = publish(&ctx->pub, text, len, &ctx->self.publish_wait_max_seconds);
	if (err)
		mt_err("cannot publish the metrics: %s", strerror(-err));
	/* start-up and the first poll (every process new) ran their code once */
	if (!err && v.iteration == 1)
		selfpages__release_startup(NULL);
	return err;
}

/* ---- HTTP ---- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *type,
			     const char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, mode);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text)
{
	return reply(conn, status, "text/plain; charset=utf-8", text, strlen(text),
		     MHD_RESPMEM_PERSISTENT);
}

static bool authorized(struct serve_ctx *ctx, struct MHD_Connection *conn)
{
	const struct web_config *web = &ctx->opts->web;
	char *password = NULL, *user;
	bool ok = false;

	if (!web->nr_users)
		return true;
	user = MHD_basic_auth_get_username_password(conn, &password);
	if (user && password) {
		for (size_t i = 0; i < web->nr_users; i++)
			if (strcmp(web->users[i].name, user) == 0)
				ok = web_password_ok(web->users[i].hash, password);
	}
	if (password) {
		explicit_bzero(password, strlen(password));
		MHD_free(password);
	}
	if (user)
		MHD_free(user);
	return ok;
}

static enum MHD_Result serve_metrics(struct serve_ctx *ctx, struct MHD_Connection *conn)
{
	const char *accept =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	enum metrics_format fmt = metrics_format_for_accept(accept);
	struct rendering *r = rendering_get(&ctx->pub, fmt);
	struct MHD_Response *resp = NULL;
	enum MHD_Result ret;

	if (r) {
		resp = MHD_create_response_from_buffer_with_free_callback_cls(r->len, r->text,
									      rendering_put, r);
		if (!resp)
			rendering_put(r);
	}
	if (!resp)
		return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				  "no poll finished yet, or out of memory: try again\n");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				fmt == METRICS_OPENMETRICS ? METRICS_CT_OPENMETRICS
							   : METRICS_CT_PROMETHEUS);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static int pprof_marker; /* req_cls of the connection a profile is being taken for */

/* The worker finished: the suspended connection gets its answer. */
static void pprof_done(void *arg)
{
	struct serve_ctx *ctx = arg;

	MHD_resume_connection(ctx->pprof_conn);
}

static enum MHD_Result serve_pprof(struct serve_ctx *ctx, struct MHD_Connection *conn,
				   void **req_cls)
{
	const char *seconds_arg, *pid_arg;
	int pids[SERVE_PPROF_MAX_PIDS];
	size_t npids = 0, len;
	uint64_t seconds = SERVE_PPROF_DEFAULT_SECONDS;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *buf;
	int err;

	if (*req_cls == &pprof_marker) { /* resumed */
		err = ctx->pprof_err;
		ctx->pprof_err = 0;
		if (!err)
			err = serve_profiler__take(ctx->profiler, &buf, &len);
		if (err == -ESRCH)
			return reply_text(
			    conn, MHD_HTTP_NOT_FOUND,
			    "no such process to profile (gone before it was traced)\n");
		if (err)
			return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
					  "cannot take the profile: memtrace's log says why\n");
		resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(buf);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/octet-stream");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION,
					"attachment; filename=\"memory.pb.gz\"");
		ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (!ctx->profiler)
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "no profiler in this mode\n");
	seconds_arg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "seconds");
	if (seconds_arg) {
		if (parse_uint(seconds_arg, 1, SERVE_PPROF_MAX_SECONDS, &seconds))
			return reply_text(conn, MHD_HTTP_BAD_REQUEST,
					  "invalid seconds: expected 1 to 120\n");
	}
	pid_arg = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "pid");
	if (pid_arg && parse_pid_list(pid_arg, pids, SERVE_PPROF_MAX_PIDS, &npids))
		return reply_text(conn, MHD_HTTP_BAD_REQUEST,
				  "invalid pid: expected PID[,PID...], at most 64\n");
	/* only this thread starts profiles: busy cannot change before the start */
	if (serve_profiler__busy(ctx->profiler)) {
		resp = MHD_create_response_from_buffer(
		    38, (void *)"a profile is being taken: retry later\n", MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "10");
		ret = MHD_queue_response(conn, MHD_HTTP_TOO_MANY_REQUESTS, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	/* suspended before the worker may finish and resume it */
	*req_cls = &pprof_marker;
	ctx->pprof_conn = conn;
	MHD_suspend_connection(conn);
	err = serve_profiler__start(ctx->profiler, (uint32_t)seconds, pids, npids, pprof_done, ctx);
	if (err) {
		mt_warn("pprof: cannot start a profile: %s", strerror(-err));
		ctx->pprof_err = err;
		MHD_resume_connection(conn);
	}
	return MHD_YES;
}

static const char index_page[] =
    "<html><head><title>memtrace</title></head><body><h1>memtrace serve</h1>"
    "<p><a href=\"/metrics\">/metrics</a></p>"
    "<p><a href=\"/debug/pprof/memory?seconds=30\">/debug/pprof/memory?seconds=30</a></p>"
    "</body></html>\n";

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct serve_ctx *ctx = cls;
	static int first_call_marker, body_marker;
	static __thread bool niced;

	/* the HTTP thread yields to the poll when the CPUs are busy */
	if (!niced) {
		setpriority(PRIO_PROCESS, (id_t)gettid(), 10);
		niced = true;
	}

	if (*req_cls == &pprof_marker)
		return serve_pprof(ctx, conn, req_cls);
	/*
	 * The first call has the headers only: other methods are refused before
	 * any body is read; a body sent with GET is read and dropped (MHD needs
	 * it consumed), then refused.
	 */
	if (!*req_cls) {
		*req_cls = &first_call_marker;
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		*req_cls = &body_marker;
		return MHD_YES;
	}
	if (*req_cls == &body_marker)
		return reply_text(conn, MHD_HTTP_CONTENT_TOO_LARGE,
				  "no request body is accepted\n");
	if (!authorized(ctx, conn)) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(
		    13, (void *)"unauthorized\n", MHD_RESPMEM_PERSISTENT);
		enum MHD_Result ret;

		if (!resp)
			return MHD_NO;
		ret = MHD_queue_basic_auth_fail_response(conn, "memtrace", resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(ctx, conn);
	if (strcmp(url, "/debug/pprof/memory") == 0)
		return serve_pprof(ctx, conn, req_cls);
	if (strcmp(url, "/") == 0)
		return reply(conn, MHD_HTTP_OK, "text/html; charset=utf-8", index_page,
			     sizeof(index_page) - 1, MHD_RESPMEM_PERSISTENT);
	return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	size_t len;

	if (mt_verbose < 1)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	len = strlen(line);
	while (len && line[len - 1] == '\n')
		line[--len] = '\0';
	mt_info("http: %s", line);
}

/* A PEM file for TLS, read whole (MHD takes it from memory). */
static char *read_pem(const char *path)
{
	size_t len;

	return serve_read_file(path, 1 << 20, &len);
}

static struct MHD_Daemon *start_http(struct serve_ctx *ctx, char **cert, char **key)
{
	const struct serve_opts *o = ctx->opts;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
			     MHD_ALLOW_SUSPEND_RESUME;
	struct MHD_OptionItem tls[3] = { { MHD_OPTION_END, 0, NULL } };
	struct MHD_Daemon *d;
	char why[256];

	if (mhd_dl__open(why, sizeof(why))) {
		mt_err("cannot load libmicrohttpd: %s (install Debian's libmicrohttpd12)", why);
		errno = ENOENT;
		return NULL;
	}
	if (o->web.nr_users && web_crypt_open(why, sizeof(why))) {
		mt_err("cannot load %s for basic_auth_users: %s (install Debian's libcrypt1)",
		       WEB_CRYPT_SONAME, why);
		errno = ENOENT;
		return NULL;
	}
	if (o->listen.addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (*o->web.cert_file) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			mt_err("this libmicrohttpd has no TLS: drop tls_server_config from %s",
			       o->web_config_path);
			errno = ENOTSUP;
			return NULL;
		}
		*cert = read_pem(o->web.cert_file);
		if (!*cert) {
			mt_err("cannot read cert_file %s: %s", o->web.cert_file, strerror(errno));
			return NULL;
		}
		*key = read_pem(o->web.key_file);
		if (!*key) {
			mt_err("cannot read key_file %s: %s", o->web.key_file, strerror(errno));
			return NULL;
		}
		flags |= MHD_USE_TLS;
		tls[0] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, *cert };
		tls[1] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, *key };
	}
	d = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, ctx, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&o->listen.addr,
	    /* limits: a request's headers fit in 16 KiB; 128 clients, 64 from one address */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024), MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)128, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)64,
	    /* a client that sends nothing for 10s is dropped */
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
	if (!d)
		mt_err("cannot listen on %s: %s (is another exporter on that port? pick another "
		       "with --listen)",
		       o->listen_text, strerror(errno ? errno : EADDRINUSE));
	return d;
}

static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / 1000000000ULL,
		.tv_nsec = deadline_ns % 1000000000ULL,
	};

	while (!stop_requested &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void free_ctx(struct serve_ctx *ctx)
{
	proc_poll__free(ctx->poll); /* forgets every process: before the groups go */
	tracer__free(ctx->tracer);
	for (size_t i = 0; i < ctx->nr_groups; i++) {
		free(ctx->groups[i]->label);
		free(ctx->groups[i]);
	}
	free(ctx->groups);
	free(ctx->procs);
	free(ctx->group_of);
	free(ctx->gmap);
	free(ctx->series);
	free(ctx->read_buf);
	rendering_put(ctx->pub.cur[0]);
	rendering_put(ctx->pub.cur[1]);
	pthread_mutex_destroy(&ctx->pub.lock);
}

static const char *group_label_name(enum snap_by by)
{
	switch (by) {
	case SNAP_BY_CGROUP:
		return "cgroup";
	case SNAP_BY_USER:
		return "user";
	case SNAP_BY_PID:
	case SNAP_BY_PROGRAM:
	default:
		return "program";
	}
}

static int run_serve(struct serve_opts *opts)
{
	struct tracer_opts topts = { .seed_existing = true, .max_procs = opts->max_procs };
	struct proc_poll_opts popts = {
		.interval_ns = opts->interval_ns,
		.reconcile_ns = opts->reconcile_ns,
		.forget = forget_proc,
	};
	struct serve_ctx ctx = { .opts = opts, .page_size = sysconf(_SC_PAGESIZE) };
	struct sigaction sa = { .sa_handler = on_signal };
	struct MHD_Daemon *http = NULL;
	char *cert = NULL, *key = NULL;
	uint64_t start, next, last, deadline = 0, round = 0;
	int err = 0;

	pthread_mutex_init(&ctx.pub.lock, NULL);
	ctx.self.group_by = group_label_name(opts->by);
	for (size_t i = 0; i < POLL_BUCKETS; i++)
		ctx.poll_le[i] = poll_bucket_factor[i] * opts->interval_ns / 1e9;
	ctx.self.poll_le = ctx.poll_le;
	ctx.self.poll_le_count = ctx.poll_le_count;
	ctx.self.nr_poll_le = POLL_BUCKETS;
	popts.ctx = &ctx;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ctx.read_cap = 4096;
	ctx.read_buf = malloc(ctx.read_cap);
	if (!ctx.read_buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	ctx.tracer = tracer__new(&topts);
	if (!ctx.tracer) {
		err = -errno;
		goto cleanup;
	}
	ctx.poll = proc_poll__new(ctx.tracer, &popts);
	if (!ctx.poll) {
		err = -errno;
		mt_err("cannot start the smaps reader thread: %s", strerror(-err));
		goto cleanup;
	}
	/* a first poll before listening: the first scrape has figures; the cost
	 * statistics are tried once first, so a refusal is known by then */
	tracer__sample_cost(ctx.tracer, true);
	tracer__sample_cost(ctx.tracer, false);
	err = poll_and_publish(&ctx, 0);
	if (err)
		goto cleanup;
	if (!opts->textfile_dir) {
		ctx.profiler = serve_profiler__new();
		if (!ctx.profiler) {
			err = -ENOMEM;
			goto cleanup;
		}
		http = start_http(&ctx, &cert, &key);
		if (!http) {
			err = -EADDRINUSE;
			goto cleanup;
		}
		mt_info("serving http%s://%s/metrics", cert ? "s" : "", opts->listen_text);
	}

	start = last = mt_clock_ns(CLOCK_MONOTONIC);
	if (opts->duration_ns)
		deadline = start + opts->duration_ns;
	next = start + opts->interval_ns;
	while (!stop_requested) {
		uint64_t now;

		if (deadline && next > deadline)
			next = deadline;
		tracer__cost_window(ctx.tracer, round++, last, next, sleep_until);
		sleep_until(next);
		if (stop_requested)
			break;
		now = mt_clock_ns(CLOCK_MONOTONIC);
		err = poll_and_publish(&ctx, now - last);
		if (err)
			goto cleanup;
		last = now;
		if (deadline && now >= deadline)
			break;
		next += opts->interval_ns;
		if (next < now) /* fell behind (suspend): restart the grid */
			next = now + opts->interval_ns;
	}
cleanup:
	/* a profile being taken ends first: its connection is resumed before MHD stops */
	serve_profiler__free(ctx.profiler);
	if (http)
		MHD_stop_daemon(http);
	free(cert);
	if (key) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	free_ctx(&ctx);
	return err;
}

/* ---- command line ---- */

enum {
	OPT_LISTEN = 0x100,
	OPT_GROUP_BY,
	OPT_MAX_SERIES,
	OPT_TEXTFILE,
	OPT_WEB_CONFIG,
};

static const struct argp_option serve_options[] = {
	{ "listen", OPT_LISTEN, "ADDR:PORT", 0,
	  "Listen on ADDR:PORT (default " SERVE_DEFAULT_LISTEN "; [::1]:PORT for IPv6); a "
	  "non-loopback address is warned about" },
	{ "group-by", OPT_GROUP_BY, "KEY", 0,
	  "Series per program (default), cgroup, user or pid (adds a pid label)" },
	{ "max-series", OPT_MAX_SERIES, "N", 0,
	  "Export at most N groups, largest RSS first (default 500); the rest is counted in "
	  "memtrace_cut_*" },
	{ "textfile", OPT_TEXTFILE, "DIR", 0,
	  "Write DIR/memtrace.prom (atomically) every interval for node_exporter's textfile "
	  "collector instead of listening" },
	{ "web-config", OPT_WEB_CONFIG, "FILE", 0,
	  "TLS and basic auth from FILE (exporter-toolkit format: tls_server_config, "
	  "basic_auth_users)" },
	{ "verbose", 'v', NULL, 0, "Show attach paths and HTTP errors; repeat for libbpf debug" },
	{},
};

static const char serve_doc[] =
    "Export memory per program, cgroup, user or process to Prometheus.\v"
    "Serves /metrics in the Prometheus text format, or OpenMetrics when the Accept header "
    "asks for application/openmetrics-text. Figures come from the kernel's counters (as "
    "in `memtrace top`) and, every --reconcile period, from smaps_rollup (PSS, USS, swap "
    "PSS; left out for a group until all its processes were read). Counters "
    "(memtrace_page_faults_total, memtrace_mapped_bytes_total, ...) keep what exited "
    "processes counted. Scrapes are answered from the latest poll: they never wait for "
    "one. Needs root, or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE (smaps of other users).\n"
    "\n"
    "EXAMPLES:\n"
    "  memtrace serve                                  127.0.0.1:9890, per program\n"
    "  memtrace serve --listen 0.0.0.0:9890 --web-config /etc/memtrace/web.yml\n"
    "  memtrace serve --group-by cgroup -i 15s\n"
    "  memtrace serve --group-by pid --max-series 50\n"
    "  memtrace serve --textfile /var/lib/prometheus/node-exporter\n"
    "\n"
    "Exit status: 0 when stopped by SIGTERM, Ctrl-C or -d; 1 on a runtime failure; 2 on a "
    "usage error.";

static void load_web_config(struct argp_state *state, struct serve_opts *opts, const char *path)
{
	char *buf, msg[256];
	size_t len;

	buf = serve_read_file(path, 1 << 20, &len);
	if (!buf)
		argp_error(state,
			   "invalid --web-config '%s': %s (a regular file, no symlink, at "
			   "most 1 MiB)",
			   path, strerror(errno));
	if (web_config__parse(buf, len, &opts->web, msg, sizeof(msg))) {
		free(buf);
		argp_error(state, "invalid --web-config '%s': %s", path, msg);
	}
	free(buf);
}

static error_t parse_serve_opt(int key, char *arg, struct argp_state *state)
{
	struct serve_opts *opts = state->input;

	switch (key) {
	case OPT_LISTEN:
		if (serve_parse_listen(arg, &opts->listen))
			argp_error(state,
				   "invalid --listen '%s': expected ADDR:PORT such as "
				   "127.0.0.1:9890 or [::1]:9890 (numeric address, port 1-65535)",
				   arg);
		opts->listen_text = arg;
		break;
	case OPT_GROUP_BY:
		if (snapshot_by_parse(arg, &opts->by))
			argp_error(state, "invalid --group-by '%s': expected " SNAP_BY_CHOICES,
				   arg);
		break;
	case OPT_MAX_SERIES:
		if (parse_u32(arg, 1, 100000, &opts->max_series))
			argp_error(state,
				   "invalid --max-series '%s': expected a number from 1 to "
				   "100000",
				   arg);
		break;
	case OPT_TEXTFILE: {
		struct stat st;

		if (stat(arg, &st) || !S_ISDIR(st.st_mode) || access(arg, W_OK))
			argp_error(state, "invalid --textfile '%s': not a writable directory", arg);
		opts->textfile_dir = arg;
		break;
	}
	case OPT_WEB_CONFIG:
		opts->web_config_path = arg;
		load_web_config(state, opts, arg);
		break;
	case 'v':
		mt_verbose++;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	case ARGP_KEY_END:
		if (opts->textfile_dir && (opts->web_config_path || opts->listen_text))
			argp_error(state, "--textfile writes a file and does not listen: drop "
					  "--listen and --web-config");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	static struct serve_opts opts;
	struct watch_opts watch = {
		.interval_ns = &opts.interval_ns,
		.reconcile_ns = &opts.reconcile_ns,
		.duration_ns = &opts.duration_ns,
		.max_procs = &opts.max_procs,
		.min_interval_ns = 100000000ULL,
		.interval_like = "1s or 15s",
		.reconcile_like = "30s",
		.interval_doc = "Poll the kernel's counters every DURATION (default 5s)",
		.reconcile_doc = "Read each process's smaps_rollup for PSS, USS and swap PSS every "
				 "DURATION (default 30s; 0 = never)",
		.duration_doc = "Stop after DURATION (default: run until stopped)",
	};
	const struct argp argp = {
		.options = serve_options,
		.parser = parse_serve_opt,
		.args_doc = "",
		.doc = serve_doc,
		.children = watch_opts__children(&watch),
	};
	int err;

	opts = (struct serve_opts){
		.by = SNAP_BY_PROGRAM,
		.max_series = 500,
		.interval_ns = 5000000000ULL,
		.reconcile_ns = 30000000000ULL,
	};
	argp_err_exit_status = MT_EXIT_USAGE;
	err = argp_parse(&argp, argc, argv, 0, NULL, &opts);
	if (err)
		return MT_EXIT_USAGE;
	if (!opts.listen_text) {
		serve_parse_listen(SERVE_DEFAULT_LISTEN, &opts.listen);
		opts.listen_text = SERVE_DEFAULT_LISTEN;
	} else if (!opts.listen.loopback) {
		mt_warn("listening on %s, a non-loopback address: anyone who reaches it sees every "
			"program's name and memory%s",
			opts.listen_text,
			opts.web.nr_users ? "" : " (set basic_auth_users in --web-config)");
	}
	mt_setup_libbpf_log();
	err = run_serve(&opts);
	explicit_bzero(&opts.web, sizeof(opts.web));
	return err ? MT_EXIT_FAILURE : MT_EXIT_OK;
}
