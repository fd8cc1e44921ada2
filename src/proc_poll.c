// SPDX-License-Identifier: GPL-2.0
/*
 * The poll of the kernel's process table, shared by top and serve. State
 * is kept per slot of the tracer's table, and only slots whose change
 * count moved are copied (see proc_poll__once() in proc_poll.h). Smaps
 * results are applied to the state's smaps record (their correction kept
 * by slot, no hash per process) and due processes submitted in one batch.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include "proc_poll.h"
#include "recpool.h"
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
	struct recpool *moves; /* of the states that moved lately */
	/* by slot, reserved as states are; NULL without a reconcile */
	struct proc_smaps *smaps;
	size_t smaps_bytes;
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

/*
 * Address space for an array by slot: only the pages of slots handed out
 * are ever touched (and counted). NULL + errno.
 */
static void *reserve(size_t bytes)
{
	void *a = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return a == MAP_FAILED ? NULL : a;
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
	p->states = reserve(p->states_bytes);
	if (!p->states) {
		err = -errno;
		goto fail;
	}
	p->results = calloc(RESULTS_BATCH, sizeof(*p->results));
	if (!p->results) {
		err = -ENOMEM;
		goto fail;
	}
	/* at most one of each a state: getting one never fails */
	p->moves = recpool__new(sizeof(struct proc_moves), tracer__max_procs(tracer));
	if (!p->moves) {
		err = -errno;
		goto fail;
	}
	if (opts->reconcile_ns) {
		p->smaps_bytes = (size_t)tracer__max_procs(tracer) * sizeof(*p->smaps);
		p->smaps = reserve(p->smaps_bytes);
		if (!p->smaps) {
			err = -errno;
			goto fail;
		}
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
	recpool__put(p->moves, st->moves);
	if (st->reconciled)
		memset(&p->smaps[st - p->states], 0, sizeof(*p->smaps));
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
	recpool__free(p->moves);
	if (p->smaps)
		munmap(p->smaps, p->smaps_bytes);
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

const struct proc_moves *proc_poll__moves(const struct proc_poll *p, const struct proc_state *st)
{
	static const struct proc_moves settled;

	return st->moves ? recpool__at(p->moves, st->moves) : &settled;
}

const struct proc_smaps *proc_poll__smaps(const struct proc_poll *p, const struct proc_state *st)
{
	return st->reconciled ? &p->smaps[st - p->states] : NULL;
}

/* The state's smaps record, taken into use (empty: forget() clears it). */
static struct proc_smaps *smaps_of(struct proc_poll *p, struct proc_state *st)
{
	st->reconciled = true;
	return &p->smaps[st - p->states];
}

/*
 * What a state without a record stands for: no deltas, no growth, a full
 * window of its resident pages (the same as one not yet full whose
 * entries all have that value: growth compares with the first entry).
 */
static void moves_unrecorded(const struct proc_state *st, struct proc_moves *mv)
{
	uint32_t r = st->resident_pages < UINT32_MAX ? (uint32_t)st->resident_pages : UINT32_MAX;

	memset(mv, 0, sizeof(*mv));
	if (!st->have_prev)
		return; /* first sight: an empty window */
	for (int i = 0; i < PROC_GROWTH_WINDOW; i++)
		mv->window_pages[i] = r;
	mv->window_len = PROC_GROWTH_WINDOW;
}

/* The state's moves record, made when it has none (never fails: one a state at most). */
static struct proc_moves *moves_of(struct proc_poll *p, struct proc_state *st)
{
	struct proc_moves *mv;

	if (st->moves)
		return recpool__at(p->moves, st->moves);
	st->moves = recpool__get(p->moves);
	mv = recpool__at(p->moves, st->moves);
	moves_unrecorded(st, mv);
	return mv;
}

/*
 * Whether a record says no more than its absence would (moves_unrecorded()):
 * nothing moved, no growth, and the window holds the resident pages alone
 * (a window not yet full compares with its first entry, which is the
 * same as a full one of that value).
 */
static bool settled(const struct proc_moves *mv, uint64_t resident)
{
	uint32_t r = resident < UINT32_MAX ? (uint32_t)resident : UINT32_MAX;

	if (mv->rss_delta_bytes || mv->faults_delta || mv->mapped_delta_bytes ||
	    mv->unmapped_delta_bytes || mv->growth_bytes || mv->growth_key)
		return false;
	for (int i = 0; i < mv->window_len; i++)
		if (mv->window_pages[i] != r)
			return false;
	return true;
}

/* counters corrected by the offsets (when have_offset): the same as reconciler__correct() */
static void correct(const struct proc_state *st, const int32_t *offset,
		    const __u64 counters[MT_RSS_NR], uint64_t out[MT_RSS_NR])
{
	for (int m = 0; m < MT_RSS_NR; m++) {
		int64_t v = (int64_t)counters[m] + (st->have_offset && offset ? offset[m] : 0);

		out[m] = v > 0 ? (uint64_t)v : 0;
	}
}

void proc_poll__pages(const struct proc_poll *p, const struct proc_state *st,
		      uint64_t pages[MT_RSS_NR])
{
	const struct proc_smaps *sm = proc_poll__smaps(p, st);

	correct(st, sm ? sm->offset_pages : NULL, st->rss_pages, pages);
}

static uint64_t resident_of(const uint64_t pages[MT_RSS_NR])
{
	return pages[MT_RSS_ANON] + pages[MT_RSS_FILE] + pages[MT_RSS_SHMEM];
}

/*
 * Growth over the window (since first seen while the window fills), and
 * the key the growth sort ranks by: it follows the growth only when that
 * moved out of a band of an eighth of the key or PROC_GROWTH_BAND_BYTES,
 * or fell to 0.
 */
static void advance_growth(struct proc_moves *st, uint64_t resident, uint64_t page)
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

/*
 * What a state keeps of a copy of its slot, listed once: DO(field) for
 * each, kept from a fresh copy (keep()), compared with one (same_as_kept())
 * and put back into a later copy for a row (proc_poll__stats()). Each
 * field has the slot's type, so every copy and comparison is of a known
 * size (the compiler inlines them: this runs for every process a poll
 * copies).
 */
#define FOR_EACH_KEPT(DO)                                                                          \
	DO(start_ns)                                                                               \
	DO(faults)                                                                                 \
	DO(mmap_bytes)                                                                             \
	DO(munmap_bytes)                                                                           \
	DO(rss_pages)                                                                              \
	DO(rss_peak_pages)                                                                         \
	DO(flags)                                                                                  \
	DO(comm)
#define KEPT_SAME_TYPE(f)                                                                          \
	_Static_assert(sizeof(((struct proc_state *)0)->f) ==                                      \
			   sizeof(((struct mt_proc_stats *)0)->f),                                 \
		       #f " has the slot's size");
FOR_EACH_KEPT(KEPT_SAME_TYPE)
#undef KEPT_SAME_TYPE

static void keep(struct proc_state *st, const struct mt_proc_stats *cur)
{
#define KEEP(f) memcpy(&st->f, &cur->f, sizeof(st->f));
	FOR_EACH_KEPT(KEEP)
#undef KEEP
}

static void put_back(const struct proc_state *st, struct mt_proc_stats *out)
{
#define PUT_BACK(f) memcpy(&out->f, &st->f, sizeof(out->f));
	FOR_EACH_KEPT(PUT_BACK)
#undef PUT_BACK
}

/* Whether a fresh copy of the state's slot holds what the state kept of the last one. */
static bool same_as_kept(const struct proc_state *st, const struct mt_proc_stats *cur)
{
#define DIFFERS(f) memcmp(&st->f, &cur->f, sizeof(st->f)) ||
	return !(FOR_EACH_KEPT(DIFFERS) false);
#undef DIFFERS
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
	const struct proc_smaps *sm = proc_poll__smaps(p, st);
	int64_t page = p->page_size;
	uint64_t pages[MT_RSS_NR], resident;
	struct proc_moves local, *mv;
	bool moved;

	if (cur && cur->start_ns != st->start_ns)
		st->have_offset = false; /* measured on another process (a state being adopted) */
	correct(st, sm ? sm->offset_pages : NULL, cur ? cur->rss_pages : st->rss_pages, pages);
	resident = resident_of(pages);
	st->recorrect = false;
	/* worked on in place, or on what no record stands for until it needs one */
	if (st->moves) {
		mv = recpool__at(p->moves, st->moves);
	} else {
		moves_unrecorded(st, &local);
		mv = &local;
	}
	/*
	 * Cumulative counters start at zero when tracing starts or the process
	 * is born, so zero is the right first baseline; RSS has none (a seeded
	 * process was already resident), so its first change reads 0.
	 */
	mv->rss_delta_bytes =
	    st->have_prev ? ((int64_t)resident - (int64_t)st->resident_pages) * page : 0;
	mv->faults_delta = cur ? counter_delta(st->faults, cur->faults) : 0;
	mv->mapped_delta_bytes = cur ? counter_delta(st->mmap_bytes, cur->mmap_bytes) : 0;
	mv->unmapped_delta_bytes = cur ? counter_delta(st->munmap_bytes, cur->munmap_bytes) : 0;
	advance_growth(mv, resident, page);
	moved = !st->have_prev || mv->rss_delta_bytes || mv->faults_delta ||
		mv->mapped_delta_bytes || mv->unmapped_delta_bytes || changed;
	if (changed)
		keep(st, cur);
	st->resident_pages = resident;
	st->quiet = moved ? 0 : st->quiet < UINT8_MAX ? st->quiet + 1 : st->quiet;
	st->have_prev = true;
	st->exited = st->flags & MT_PROC_EXITED;
	if (st->exited || !settled(mv, resident)) {
		if (mv == &local)
			*moves_of(p, st) = local; /* an exit keeps one: its exit_copy */
	} else if (st->moves) {
		recpool__put(p->moves, st->moves);
		st->moves = 0;
	}
}

static void apply_reconcile_results(struct proc_poll *p)
{
	uint64_t drift;
	size_t n;

	while ((n = reconciler__drain(p->reconciler, p->results, RESULTS_BATCH)) > 0) {
		for (size_t i = 0; i < n; i++) {
			const struct reconcile_result *res = &p->results[i];
			/* the tag is the slot: a state forgotten or adopted since has another PID
			 */
			struct proc_state *st =
			    res->tag < p->nr_states ? &p->states[res->tag] : NULL;
			int32_t had[MT_RSS_NR];
			struct proc_smaps *sm;
			bool had_offset;

			if (!st || !st->host_tgid || st->hidden || st->tgid != res->pid)
				continue;
			st->queued = false;
			/* gone between poll and read: its row goes when the kernel says so */
			if (res->err)
				continue;
			sm = smaps_of(p, st);
			had_offset = st->have_offset;
			memcpy(had, sm->offset_pages, sizeof(had));
			st->have_smaps = proc_kb_keep(&sm->pss_kb, res->pss_bytes) &&
					 proc_kb_keep(&sm->private_kb, res->private_bytes) &&
					 proc_kb_keep(&sm->swap_pss_kb, res->swap_pss_bytes) &&
					 proc_kb_keep(&sm->rss_kb, res->rss_bytes);
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
					sm->offset_pages[m] = (int32_t)o[m];
				st->have_offset = fits;
				drift = (uint64_t)(d < 0 ? -d : d) * p->page_size;
				sm->correction_ns = res->exact_ns;
			} else
				drift = !res->counter_ok ? 0
					: res->counter_rss_bytes > res->rss_bytes
					    ? res->counter_rss_bytes - res->rss_bytes
					    : res->rss_bytes - res->counter_rss_bytes;
			st->have_smaps = st->have_smaps && proc_kb_keep(&sm->drift_kb, drift);
			sm->done_ns = res->done_ns;
			/*
			 * moved on in this poll if the correction changes (an offset
			 * that moves what is shown by nothing, at 0, only costs a look)
			 */
			if (had_offset != st->have_offset ||
			    (st->have_offset && memcmp(had, sm->offset_pages, sizeof(had)) != 0))
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
	if (!p->reconciler || st->queued || st->exited || !*budget ||
	    (st->reconciled && now < proc_poll__smaps(p, st)->next_reconcile_ns))
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
		smaps_of(p, st)->next_reconcile_ns =
		    now +
		    reconcile_interval_ns(p->opts.reconcile_ns, st->resident_pages * p->page_size);
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

	if (n > p->nr_states) {
		/*
		 * every process gets its smaps record within a reconcile period:
		 * touched now, with the states of the new slots, so that the
		 * first touch of its pages (costly on a shadow-paging host) falls
		 * in the poll that sees the processes first, not spread over the
		 * polls of the period
		 */
		if (p->smaps)
			memset(&p->smaps[p->nr_states], 0,
			       (size_t)(n - p->nr_states) * sizeof(*p->smaps));
		p->nr_states = n; /* zero pages of the reservation */
	}
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
	moves_of(p, st)->exit_copy = (uint32_t)p->nr_exits; /* an exit keeps its record */
	p->exits[p->nr_exits++] = *cur;
	return 0;
}

int proc_poll__stats(struct proc_poll *p, const struct proc_state *st, struct mt_proc_stats *out)
{
	uint32_t exit_copy = proc_poll__moves(p, st)->exit_copy;
	int err;

	if (st->exited && st->moves && exit_copy < p->nr_exits &&
	    p->exits[exit_copy].start_ns == st->start_ns) {
		*out = p->exits[exit_copy];
		return 0;
	}
	err = tracer__slot_read(p->tracer, (uint32_t)(st - p->states), out);
	if (err || out->start_ns != st->start_ns || out->tgid != st->tgid)
		return -ESTALE;
	put_back(st, out); /* what the deltas came from, so that the row agrees with them */
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
		} else if (st->moves || st->recorrect) {
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
