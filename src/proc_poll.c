// SPDX-License-Identifier: GPL-2.0
/*
 * The poll of the kernel's process table, shared by top and serve. State
 * is kept per slot of the tracer's table, and only slots whose change
 * count moved are copied (see proc_poll__once() in proc_poll.h). Smaps
 * results are applied to the state in place (their correction kept by
 * slot, no hash per process) and due processes submitted in one batch.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include "proc_poll.h"
#include "units.h"

#define RESULTS_BATCH 256

struct proc_poll {
	struct proc_poll_opts opts;
	struct tracer *tracer;
	struct reconciler *reconciler;
	/*
	 * By the tracer's slot: address space for every slot, reserved at
	 * start, so that states never move and cost memory only for slots in
	 * use; nr_states entries in use so far.
	 */
	struct proc_state *states;
	size_t states_bytes;
	uint32_t nr_states;
	/* this poll's rows, cap entries each */
	uint32_t *tgids;
	struct proc_state **view_states;
	size_t cap;
	/* copies of the slots of the exits this poll reports (reaped in the poll) */
	struct mt_proc_stats *exits;
	size_t nr_exits, cap_exits;
	uint32_t sweep; /* the slot the reconcile sweep looks at next */
	/* this poll's processes due for a smaps read, by slot and PID: submitted at once */
	uint32_t *due_slots, *due_pids;
	size_t nr_due;
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
	p->states_bytes = (size_t)tracer__max_procs(tracer) * sizeof(*p->states);
	p->states = mmap(NULL, p->states_bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->states == MAP_FAILED) {
		err = -errno;
		p->states = NULL;
		goto fail;
	}
	p->results = calloc(RESULTS_BATCH, sizeof(*p->results));
	if (!p->results) {
		err = -ENOMEM;
		goto fail;
	}
	if (opts->reconcile_ns) {
		p->reconciler = reconciler__new(tracer, tracer__max_procs(tracer));
		if (!p->reconciler) {
			err = -errno;
			goto fail;
		}
		reconciler__keep_corrections(p->reconciler, false); /* ours: offset_pages */
	}
	return p;
fail:
	proc_poll__free(p);
	errno = -err;
	return NULL;
}

/* The state's process was reaped, or its slot or PID now names another one. */
static void forget(struct proc_poll *p, struct proc_state *st)
{
	if (!st->hidden) {
		reconciler__forget(p->reconciler, st->tgid);
		if (p->opts.forget)
			p->opts.forget(p->opts.ctx, st->tgid, st);
	}
	memset(st, 0, sizeof(*st));
}

void proc_poll__free(struct proc_poll *p)
{
	if (!p)
		return;
	for (uint32_t s = 0; s < p->nr_states; s++)
		if (p->states[s].host_tgid)
			forget(p, &p->states[s]);
	reconciler__free(p->reconciler);
	if (p->states)
		munmap(p->states, p->states_bytes);
	free(p->tgids);
	free(p->exits);
	free(p->view_states);
	free(p->due_slots);
	free(p->due_pids);
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
	st->window_pages[st->window_pos] = resident < UINT32_MAX ? (uint32_t)resident : UINT32_MAX;
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

/* reconciler__correct() of counters with the state's own offsets: whether one applied. */
static bool correct(const struct proc_state *st, const __u64 counters[MT_RSS_NR],
		    uint64_t out[MT_RSS_NR])
{
	for (int m = 0; m < MT_RSS_NR; m++) {
		int64_t v = (int64_t)counters[m] + (st->have_offset ? st->offset_pages[m] : 0);

		out[m] = v > 0 ? (uint64_t)v : 0;
	}
	return st->have_offset;
}

/* What the state keeps of a fresh copy of its slot. */
static void keep(struct proc_state *st, const struct mt_proc_stats *cur)
{
	st->start_ns = cur->start_ns;
	st->faults = cur->faults;
	st->mmap_bytes = cur->mmap_bytes;
	st->munmap_bytes = cur->munmap_bytes;
	memcpy(st->rss_pages, cur->rss_pages, sizeof(st->rss_pages));
	st->rss_peak_pages = cur->rss_peak_pages;
	st->ppid = cur->ppid;
	st->flags = cur->flags;
	memcpy(st->comm, cur->comm, sizeof(st->comm));
}

/*
 * Move the state on to cur (a fresh copy, or NULL when the slot did not
 * change): this poll's deltas against the last copy, then the state keeps
 * cur's figures. Whether anything moved decides how long until the state
 * can be left alone (see proc_poll__once()); a fresh copy moved when its
 * change count did (the caller copies only then, or to settle).
 */
static void advance_state(struct proc_poll *p, struct proc_state *st,
			  const struct mt_proc_stats *cur, bool changed)
{
	uint64_t before = proc_state_resident_pages(st), resident;
	struct mt_proc_stats still;
	bool moved;

	if (!cur) {
		still.faults = st->faults;
		still.mmap_bytes = st->mmap_bytes;
		still.munmap_bytes = st->munmap_bytes;
		memcpy(still.rss_pages, st->rss_pages, sizeof(still.rss_pages));
		cur = &still;
	} else if (cur->start_ns != st->start_ns) {
		st->have_offset = false; /* measured on another process (a state being adopted) */
	}
	st->corrected = correct(st, cur->rss_pages, st->pages);
	st->recorrect = false;
	resident = proc_state_resident_pages(st);
	/*
	 * Cumulative counters start at zero when tracing starts or the process
	 * is born, so zero is the right first baseline; RSS has none (a seeded
	 * process was already resident), so its first change reads 0.
	 */
	st->rss_delta_bytes =
	    st->have_prev ? ((int64_t)resident - (int64_t)before) * (int64_t)p->page_size : 0;
	st->faults_delta = counter_delta(st->faults, cur->faults);
	st->mapped_delta_bytes = counter_delta(st->mmap_bytes, cur->mmap_bytes);
	st->unmapped_delta_bytes = counter_delta(st->munmap_bytes, cur->munmap_bytes);
	advance_growth(st, resident, p->page_size);
	moved = !st->have_prev || st->rss_delta_bytes || st->faults_delta ||
		st->mapped_delta_bytes || st->unmapped_delta_bytes || changed;
	if (changed)
		keep(st, cur);
	st->quiet = moved ? 0 : st->quiet < UINT8_MAX ? st->quiet + 1 : st->quiet;
	st->have_prev = true;
	st->exited = st->flags & MT_PROC_EXITED;
}

/*
 * bytes of an smaps reading (whole KiB, as the kernel gives them) into a
 * state's 32-bit KiB field: whether it fits exactly
 */
static bool keep_kb(uint32_t *kb, uint64_t bytes)
{
	if (bytes % 1024 || bytes / 1024 > UINT32_MAX)
		return false;
	*kb = (uint32_t)(bytes / 1024);
	return true;
}

static void apply_reconcile_results(struct proc_poll *p)
{
	uint64_t pages[MT_RSS_NR], drift;
	size_t n;

	while ((n = reconciler__drain(p->reconciler, p->results, RESULTS_BATCH)) > 0) {
		for (size_t i = 0; i < n; i++) {
			const struct reconcile_result *res = &p->results[i];
			/* the tag is the slot: a state forgotten or adopted since has another PID
			 */
			struct proc_state *st =
			    res->tag < p->nr_states ? &p->states[res->tag] : NULL;

			if (!st || !st->host_tgid || st->hidden || st->tgid != res->pid)
				continue;
			st->queued = false;
			/* gone between poll and read: its row goes when the kernel says so */
			if (res->err)
				continue;
			st->have_smaps = keep_kb(&st->pss_kb, res->pss_bytes) &&
					 keep_kb(&st->private_kb, res->private_bytes) &&
					 keep_kb(&st->swap_pss_kb, res->swap_pss_bytes) &&
					 keep_kb(&st->smaps_rss_kb, res->rss_bytes);
			if (res->exact_ok && res->counter_start_ns == st->start_ns) {
				/* the correction applied from now on */
				int64_t d = 0, o[MT_RSS_NR];
				bool fits = true;

				for (int m = 0; m < MT_RSS_NR; m++) {
					o[m] = (int64_t)res->exact_pages[m] -
					       (int64_t)res->counter_pages[m];
					fits = fits && o[m] >= INT32_MIN && o[m] <= INT32_MAX;
					if (m != MT_RSS_SWAP)
						d += o[m];
				}
				for (int m = 0; m < MT_RSS_NR && fits; m++)
					st->offset_pages[m] = (int32_t)o[m];
				st->have_offset = fits;
				drift = (uint64_t)(d < 0 ? -d : d) * p->page_size;
				st->correction_ns = res->exact_ns;
			} else
				drift = !res->counter_ok ? 0
					: res->counter_rss_bytes > res->rss_bytes
					    ? res->counter_rss_bytes - res->rss_bytes
					    : res->rss_bytes - res->counter_rss_bytes;
			st->have_smaps = st->have_smaps && keep_kb(&st->drift_kb, drift);
			st->smaps_done_ns = res->done_ns;
			/* moved on at the next poll if the correction changes what it shows */
			if (correct(st, st->rss_pages, pages) != st->corrected ||
			    memcmp(pages, st->pages, sizeof(pages)) != 0)
				st->recorrect = true;
		}
	}
}

/*
 * Reads are spread over the period: each poll submits about the share of
 * processes that a period needs (plus slack for newcomers), oldest due
 * first by virtue of next_reconcile_ns, so a host with 10,000 processes
 * never queues them all at once. Due processes are listed here and
 * submitted together after the walk (submit_due()).
 */
static void schedule_reconcile(struct proc_poll *p, struct proc_state *st, uint64_t now,
			       size_t *budget)
{
	if (!p->reconciler || st->queued || st->exited || now < st->next_reconcile_ns || !*budget)
		return;
	st->queued = true; /* listed once; submit_due() clears it where the queue was full */
	p->due_slots[p->nr_due] = (uint32_t)(st - p->states);
	p->due_pids[p->nr_due++] = st->tgid;
	(*budget)--;
}

static void submit_due(struct proc_poll *p, uint64_t now)
{
	size_t queued =
	    reconciler__submit_many(p->reconciler, p->due_pids, p->due_slots, p->nr_due);

	for (size_t i = 0; i < p->nr_due; i++) {
		struct proc_state *st = &p->states[p->due_slots[i]];

		if (i >= queued) {
			st->queued = false; /* due again at the next poll */
			continue;
		}
		st->next_reconcile_ns =
		    now + reconcile_interval_ns(p->opts.reconcile_ns,
						proc_state_resident_pages(st) * p->page_size);
	}
	p->nr_due = 0;
}

static size_t reconcile_budget(const struct proc_poll_opts *opts, size_t nr_procs)
{
	uint64_t share;

	if (!opts->reconcile_ns)
		return 0;
	share = (uint64_t)nr_procs * opts->interval_ns / opts->reconcile_ns;
	return share + 64;
}

/* States for every slot below n (new ones empty) and room for as many rows. */
static int grow(struct proc_poll *p, uint32_t n)
{
	size_t cap = p->cap ? p->cap : 256;
	void *rows;

	if (n > p->nr_states)
		p->nr_states = n; /* zero pages of the reservation */
	if (n <= p->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	rows = realloc(p->tgids, cap * sizeof(*p->tgids));
	if (!rows)
		return -ENOMEM;
	p->tgids = rows;
	rows = realloc(p->view_states, cap * sizeof(*p->view_states));
	if (!rows)
		return -ENOMEM;
	p->view_states = rows;
	rows = realloc(p->due_slots, cap * sizeof(*p->due_slots));
	if (!rows)
		return -ENOMEM;
	p->due_slots = rows;
	rows = realloc(p->due_pids, cap * sizeof(*p->due_pids));
	if (!rows)
		return -ENOMEM;
	p->due_pids = rows;
	p->cap = cap;
	return 0;
}

/*
 * A state for the process now in slot, from a fresh copy. Its smaps reads
 * are submitted tagged with the slot, and a result applies only while the
 * slot's state still has the PID (ours) that was read.
 */
static void adopt(struct proc_poll *p, uint32_t slot, uint32_t host,
		  const struct mt_proc_stats *cur, bool hidden)
{
	struct proc_state *st = &p->states[slot];

	st->host_tgid = host;
	st->hidden = hidden;
	if (!hidden)
		st->tgid = cur->tgid;
}

/* Whether a fresh copy of the state's slot holds what the state kept of the last one. */
static bool same_as_kept(const struct proc_state *st, const struct mt_proc_stats *cur)
{
	return cur->start_ns == st->start_ns && cur->faults == st->faults &&
	       cur->mmap_bytes == st->mmap_bytes && cur->munmap_bytes == st->munmap_bytes &&
	       memcmp(cur->rss_pages, st->rss_pages, sizeof(st->rss_pages)) == 0 &&
	       cur->rss_peak_pages == st->rss_peak_pages && cur->ppid == st->ppid &&
	       cur->flags == st->flags && memcmp(cur->comm, st->comm, sizeof(st->comm)) == 0;
}

/* An exit this poll reports: its slot is reaped in the poll, so its row reads this copy. */
static int keep_exit(struct proc_poll *p, struct proc_state *st, const struct mt_proc_stats *cur)
{
	if (p->nr_exits == p->cap_exits) {
		size_t cap = p->cap_exits ? 2 * p->cap_exits : 64;
		struct mt_proc_stats *grown = realloc(p->exits, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		p->exits = grown;
		p->cap_exits = cap;
	}
	st->exit_copy = (uint32_t)p->nr_exits;
	p->exits[p->nr_exits++] = *cur;
	return 0;
}

int proc_poll__stats(struct proc_poll *p, const struct proc_state *st, struct mt_proc_stats *out)
{
	int err;

	if (st->exited && st->exit_copy < p->nr_exits &&
	    p->exits[st->exit_copy].start_ns == st->start_ns) {
		*out = p->exits[st->exit_copy];
		return 0;
	}
	err = tracer__slot_read(p->tracer, (uint32_t)(st - p->states), out);
	if (err || out->start_ns != st->start_ns || out->tgid != st->tgid)
		return -ESTALE;
	/* what the deltas came from, so that the row agrees with them */
	out->faults = st->faults;
	out->mmap_bytes = st->mmap_bytes;
	out->munmap_bytes = st->munmap_bytes;
	memcpy(out->rss_pages, st->rss_pages, sizeof(out->rss_pages));
	out->rss_peak_pages = st->rss_peak_pages;
	out->ppid = st->ppid;
	out->flags = st->flags;
	memcpy(out->comm, st->comm, sizeof(out->comm));
	return 0;
}

/*
 * Whether slot must be copied again: it changed since the last copy, or is
 * new, or that copy was the first after a change (see tracer.h), or new
 * smaps figures or pending faults came in, or it is an exit not yet reaped,
 * or a hidden process in its first polls (our PID namespace may learn it).
 */
static bool needs_copy(const struct proc_state *st, uint32_t host, uint32_t changes)
{
	return st->host_tgid != host || changes != st->changes || !st->settled || st->dirty ||
	       st->exited || (st->hidden && st->quiet <= PROC_GROWTH_WINDOW);
}

int proc_poll__once(struct proc_poll *p, struct proc_poll_view *view)
{
	size_t nr_pending, exited = 0, rows = 0, budget, sweep;
	uint64_t now = clock_ns(CLOCK_MONOTONIC);
	const uint32_t *pending;
	uint32_t nr_slots;
	int err;

	p->iteration++;
	err = tracer__sync(p->tracer, &nr_slots, &pending, &nr_pending);
	if (err)
		return err;
	err = grow(p, nr_slots);
	if (err)
		return err;
	if (p->reconciler)
		apply_reconcile_results(p);
	for (size_t i = 0; i < nr_pending; i++)
		p->states[pending[i]].dirty = true;
	budget = reconcile_budget(&p->opts, nr_slots);
	/*
	 * Processes left alone below are due for smaps reads too: a sweep
	 * looks at about twice the share a poll needs, so every slot is seen
	 * within half a reconcile period.
	 */
	sweep = p->reconciler ? 2 * budget : 0;

	p->nr_exits = 0;
	for (uint32_t s = 0; s < nr_slots; s++) {
		struct proc_state *st = &p->states[s];
		struct mt_proc_stats cur;
		bool changed;
		uint32_t changes, host = tracer__slot_peek(p->tracer, s, &changes);

		if (st->host_tgid && st->host_tgid != host)
			forget(p, st); /* reaped, and maybe the slot taken again */
		if (!host)
			continue;
		if (needs_copy(st, host, changes)) {
			bool again = st->host_tgid == host && changes == st->changes;

			err = tracer__slot_read(p->tracer, s, &cur);
			if (err == -ENOENT) {
				if (st->host_tgid)
					forget(p, st); /* reaped while we looked */
				continue;
			}
			/* another process behind the same PID, or our namespace learnt it */
			if (st->host_tgid &&
			    (cur.start_ns != st->start_ns || st->hidden != (err == -ESRCH) ||
			     (!st->hidden && cur.tgid != st->tgid)))
				forget(p, st);
			if (!st->host_tgid)
				adopt(p, s, host, &cur, err == -ESRCH);
			changed = changes != st->changes || !same_as_kept(st, &cur);
			st->changes = changes;
			st->settled = again;
			st->dirty = false;
			if (st->hidden) {
				st->start_ns = cur.start_ns;
				st->quiet += st->quiet <= PROC_GROWTH_WINDOW;
				continue;
			}
			advance_state(p, st, &cur, changed);
			schedule_reconcile(p, st, now, &budget);
			if (st->exited) {
				err = keep_exit(p, st, &cur);
				if (err)
					return err;
			}
		} else if (st->hidden) {
			continue;
		} else if (st->quiet <= PROC_GROWTH_WINDOW || st->recorrect) {
			/* unchanged, but its deltas fall to zero and its window rolls */
			advance_state(p, st, NULL, false);
			schedule_reconcile(p, st, now, &budget);
		}
		if (st->exited) {
			exited++;
			/* reported once with its final figures, then forgotten */
			tracer__reap(p->tracer, st->tgid);
		}
		p->tgids[rows] = st->tgid;
		p->view_states[rows++] = st;
	}

	for (size_t i = 0; i < sweep && i < nr_slots && budget; i++) {
		struct proc_state *st = &p->states[p->sweep];

		if (st->host_tgid && !st->hidden)
			schedule_reconcile(p, st, now, &budget);
		p->sweep = p->sweep + 1 < nr_slots ? p->sweep + 1 : 0;
	}

	if (p->reconciler)
		submit_due(p, now);
	view->tgids = p->tgids;
	view->states = p->view_states;
	view->count = rows;
	view->nr_exited = exited;
	view->iteration = p->iteration;
	return 0;
}
