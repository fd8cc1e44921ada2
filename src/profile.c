// SPDX-License-Identifier: GPL-2.0
/*
 * Recording + symbolizer → symbolized stacks: frame-pointer stacks with
 * the leaf fix, and the aggregate's sampled buckets shared out over their
 * unwound user-stack captures.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "profile.h"
#include "unwind.h"

#define USTACK_FRAMES 256 /* frames kept per unwound capture */

static const struct mt_frame unknown_frame = {
    .func = "[unknown]",
    .module = "[unknown]",
};

static const char *lost_name(int32_t id)
{
	switch (id) {
	case -17 /* EEXIST */:
		return "[no stack: hash collision]";
	case -12 /* ENOMEM */:
		return "[no stack: stack map full]";
	case -61 /* ENODATA */:
		return "[no stack: not sampled]";
	default:
		return "[no stack]";
	}
}

static bool wanted(uint32_t pid, uint32_t event, const struct profile_opts *opts)
{
	if (!(opts->events & MT_EVMASK(event)))
		return false;
	if (!opts->npids)
		return true;
	for (size_t i = 0; i < opts->npids; i++)
		if ((uint32_t)opts->pids[i] == pid)
			return true;
	return false;
}

static struct mt_pstack *new_pstack(struct profile *prof, size_t *cap)
{
	if (prof->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		struct mt_pstack *p = realloc(prof->stacks, ncap * sizeof(*p));

		if (!p)
			return NULL;
		prof->stacks = p;
		*cap = ncap;
	}
	memset(&prof->stacks[prof->n], 0, sizeof(prof->stacks[0]));
	return &prof->stacks[prof->n++];
}

static void pick_site(struct mt_pstack *ps)
{
	ps->site = 0;
	while (ps->site + 1 < ps->nframes && ps->frames[ps->site].system)
		ps->site++;
	if (ps->frames[ps->site].system)
		ps->site = 0;
}

static void set_head(struct mt_pstack *ps, const struct recording *rec, uint32_t pid, uint32_t gen,
		     uint32_t event, uint32_t class)
{
	const struct mt_rec_proc *proc = recording__proc(rec, pid, gen);

	ps->pid = pid;
	ps->gen = gen;
	ps->event = event;
	ps->class = class;
	ps->comm = proc && proc->comm[0] ? proc->comm : "[unknown]";
}

static int lost_stack(struct mt_pstack *ps, int32_t id)
{
	ps->frames = calloc(1, sizeof(*ps->frames));
	ps->ips = calloc(1, sizeof(*ps->ips));
	if (!ps->frames || !ps->ips)
		return -ENOMEM;
	ps->frames[0].func = lost_name(id);
	ps->frames[0].module = "[memtrace]";
	ps->nframes = 1;
	return 0;
}

/*
 * A frame-pointer stack. The kernel's walk skips the caller of a leaf
 * that set up no frame; the leaf fix reads that caller from the words
 * copied at the key's FIRST event only, so it is that event's caller and
 * no one else's: for a key that stands for more than one event the
 * caller is shown as unknown. A return address outside the image's code
 * was read from data (code without frame pointers) and ends the chain.
 */
static int build_fp(const struct recording *rec, struct symbolizer *sym,
		    const struct mt_rec_sample *s, struct mt_pstack *ps, struct profile *prof)
{
	const struct mt_rec_stack *stack =
	    s->stack_id >= 0 ? recording__stack(rec, s->stack_id) : NULL;
	uint32_t nr = stack ? stack->nr : 0, n = 0;
	uint64_t fixed_ret = 0;
	bool leaf_fixed = false;

	set_head(ps, rec, s->pid, s->gen, s->event, s->class);
	ps->count = s->count;
	ps->bytes = s->bytes;
	ps->fp_frames = nr;
	if (!stack)
		return lost_stack(ps, s->stack_id);

	if (s->leaf_nr &&
	    !symbolizer__leaf_return(sym, s->pid, s->gen, stack->ips[0], s->leaf_sp, s->leaf_words,
				     s->leaf_nr, &fixed_ret) &&
	    (nr < 2 || stack->ips[1] != fixed_ret))
		leaf_fixed = true;

	ps->frames = calloc(nr + 2, sizeof(*ps->frames));
	ps->ips = calloc(nr + 2, sizeof(*ps->ips));
	if (!ps->frames || !ps->ips)
		return -ENOMEM;
	for (uint32_t i = 0; i < nr; i++) {
		if (i == 1 && leaf_fixed) {
			if (s->count == 1) {
				ps->ips[n] = fixed_ret;
				symbolizer__lookup(sym, s->pid, s->gen, fixed_ret, true,
						   &ps->frames[n]);
				ps->leaf_fixed = true;
			} else {
				ps->ips[n] = MT_IP_UNKNOWN;
				ps->frames[n] = unknown_frame;
				prof->leaf_unknown++;
			}
			n++;
		}
		if (i > 0 && !symbolizer__in_code(sym, s->pid, s->gen, stack->ips[i] - 1)) {
			ps->ips[n] = MT_IP_UNKNOWN;
			ps->frames[n++] = unknown_frame;
			prof->garbage_frames++;
			break;
		}
		ps->ips[n] = stack->ips[i];
		symbolizer__lookup(sym, s->pid, s->gen, stack->ips[i], i > 0, &ps->frames[n]);
		n++;
	}
	if (nr == 1 && leaf_fixed) {
		if (s->count == 1) {
			ps->ips[n] = fixed_ret;
			symbolizer__lookup(sym, s->pid, s->gen, fixed_ret, true, &ps->frames[n]);
			ps->leaf_fixed = true;
		} else {
			ps->ips[n] = MT_IP_UNKNOWN;
			ps->frames[n] = unknown_frame;
			prof->leaf_unknown++;
		}
		n++;
	}
	ps->nframes = n;
	pick_site(ps);
	if (ps->leaf_fixed)
		prof->leaf_fixes++;
	prof->walked_events += s->count;
	if (nr <= 2)
		prof->short_events += s->count;
	return 0;
}

/* ---- sampled buckets and their captures ---- */

struct ubuild {
	const struct recording *rec;
	struct symbolizer *sym;
	struct unwinder *uw;
	struct profile *prof;
	size_t *cap;
	const struct mt_rec_ustack *us;
	size_t *order; /* ustacks by (pid, gen, event, class) */
	size_t nus;
	size_t *slots; /* merged stacks by (image, event, class, ips): index + 1 */
	size_t nslots, nmerged;
	uint64_t *hashes; /* of prof->stacks[i], for merged ones */
	size_t caphashes;
	uint64_t ips[USTACK_FRAMES];
	struct unwound *pre; /* per capture, when unwound ahead in threads; else NULL */
	struct unwind_job *jobs;
	int njobs;
};

/* A capture unwound ahead: its chain lives in its job's ips (offsets survive growth). */
struct unwound {
	uint32_t job;
	uint32_t nr; /* 0: not unwound (not wanted), or no PC */
	size_t off;
	int err;
};

struct unwind_job {
	const struct recording *rec;
	const struct unwinder_opts *opts;
	const struct profile_opts *popts;
	const struct mt_rec_ustack *us;
	struct unwound *pre;
	size_t from, to;
	uint32_t id;
	uint64_t *ips; /* every chain of this job, back to back */
	size_t nips, capips;
	struct unwinder_stats st;
	int err;
};

static int bucket_cmp4(uint32_t p1, uint32_t g1, uint32_t e1, uint32_t c1, const struct mt_rec_ustack *u)
{
	if (p1 != u->pid)
		return p1 < u->pid ? -1 : 1;
	if (g1 != u->gen)
		return g1 < u->gen ? -1 : 1;
	if (e1 != u->event)
		return e1 < u->event ? -1 : 1;
	if (c1 != u->class)
		return c1 < u->class ? -1 : 1;
	return 0;
}

/* A capture's bucket and index, sorted compactly rather than through the captures. */
struct bucket_key {
	uint64_t image; /* pid << 32 | gen */
	uint64_t kind;	/* event << 32 | class */
	size_t idx;
};

static int bucket_key_cmp(const void *a, const void *b)
{
	const struct bucket_key *x = a, *y = b;

	if (x->image != y->image)
		return x->image < y->image ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

static int sort_captures(struct ubuild *ub)
{
	struct bucket_key *keys = malloc((ub->nus ? ub->nus : 1) * sizeof(*keys));

	if (!keys)
		return -ENOMEM;
	for (size_t i = 0; i < ub->nus; i++) {
		const struct mt_rec_ustack *u = &ub->us[i];

		keys[i].image = (uint64_t)u->pid << 32 | u->gen;
		keys[i].kind = (uint64_t)u->event << 32 | u->class;
		keys[i].idx = i;
	}
	qsort(keys, ub->nus, sizeof(*keys), bucket_key_cmp);
	for (size_t i = 0; i < ub->nus; i++)
		ub->order[i] = keys[i].idx;
	free(keys);
	return 0;
}

/* The captures of one bucket: [*first, *first + n) of ub->order. */
static size_t bucket_range(const struct ubuild *ub, const struct mt_rec_sample *s, size_t *first)
{
	size_t lo = 0, hi = ub->nus, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bucket_cmp4(s->pid, s->gen, s->event, s->class, &ub->us[ub->order[mid]]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (lo + n < ub->nus &&
	       !bucket_cmp4(s->pid, s->gen, s->event, s->class, &ub->us[ub->order[lo + n]]))
		n++;
	return n;
}

static uint64_t chain_hash(const struct mt_rec_sample *s, const uint64_t *ips, uint32_t nr)
{
	uint64_t h = ((uint64_t)s->pid << 32 | s->gen) * 0x9e3779b97f4a7c15ULL;

	h ^= ((uint64_t)s->event << 8 | s->class) * 0xc2b2ae3d27d4eb4fULL;
	for (uint32_t i = 0; i < nr; i++) {
		h ^= ips[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	return h;
}

static bool same_chain(const struct mt_pstack *ps, const struct mt_rec_sample *s,
		       const uint64_t *ips, uint32_t nr)
{
	return ps->pid == s->pid && ps->gen == s->gen && ps->event == s->event &&
	       ps->class == s->class && ps->nframes == nr &&
	       memcmp(ps->ips, ips, nr * sizeof(*ips)) == 0;
}

static int slots_grow(struct ubuild *ub)
{
	size_t nslots = ub->nslots ? ub->nslots * 2 : 1024;
	size_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < ub->nslots; i++) {
		size_t idx = ub->slots[i], j;

		if (!idx)
			continue;
		j = ub->hashes[idx - 1] & (nslots - 1);
		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = idx;
	}
	free(ub->slots);
	ub->slots = slots;
	ub->nslots = nslots;
	return 0;
}

/* The stack of prof with this chain, made (symbolized) on first sight. */
static struct mt_pstack *chain_stack(struct ubuild *ub, const struct mt_rec_sample *s,
				     uint32_t nr)
{
	uint64_t h = chain_hash(s, ub->ips, nr);
	struct mt_pstack *ps;
	size_t j;

	if ((ub->nmerged + 1) * 2 > ub->nslots && slots_grow(ub))
		return NULL;
	j = h & (ub->nslots - 1);
	while (ub->slots[j]) {
		ps = &ub->prof->stacks[ub->slots[j] - 1];
		if (ub->hashes[ub->slots[j] - 1] == h && same_chain(ps, s, ub->ips, nr))
			return ps;
		j = (j + 1) & (ub->nslots - 1);
	}
	ps = new_pstack(ub->prof, ub->cap);
	if (!ps)
		return NULL;
	if (ub->prof->n > ub->caphashes) {
		size_t cap = *ub->cap;
		uint64_t *hs = realloc(ub->hashes, cap * sizeof(*hs));

		if (!hs) {
			ub->prof->n--;
			return NULL;
		}
		ub->hashes = hs;
		ub->caphashes = cap;
	}
	ub->hashes[ub->prof->n - 1] = h;
	ub->slots[j] = ub->prof->n;
	ub->nmerged++;
	set_head(ps, ub->rec, s->pid, s->gen, s->event, s->class);
	ps->frames = calloc(nr, sizeof(*ps->frames));
	ps->ips = malloc(nr * sizeof(*ps->ips));
	if (!ps->frames || !ps->ips)
		return NULL;
	memcpy(ps->ips, ub->ips, nr * sizeof(*ps->ips));
	for (uint32_t i = 0; i < nr; i++) {
		if (ub->ips[i] == MT_IP_UNKNOWN)
			ps->frames[i] = unknown_frame;
		else
			symbolizer__lookup(ub->sym, s->pid, s->gen, ub->ips[i], i > 0,
					   &ps->frames[i]);
	}
	ps->nframes = nr;
	ps->fp_frames = nr;
	ps->unwound = true;
	pick_site(ps);
	return ps;
}

static bool wanted(uint32_t pid, uint32_t event, const struct profile_opts *opts);

/* One thread's share of the captures, with an unwinder (and Dwfls) of its own. */
static void *unwind_range(void *arg)
{
	struct unwind_job *j = arg;
	struct unwinder *uw = unwinder__new(j->rec, j->opts);
	uint64_t ips[USTACK_FRAMES];

	if (!uw) {
		j->err = -ENOMEM;
		return NULL;
	}
	for (size_t i = j->from; i < j->to && !j->err; i++) {
		const struct mt_rec_ustack *u = &j->us[i];
		struct unwound *r = &j->pre[i];
		uint32_t nr = 0;

		r->job = j->id;
		if (!wanted(u->pid, u->event, j->popts))
			continue;
		r->err = unwinder__unwind(uw, u, ips, USTACK_FRAMES, &nr);
		if (r->err == -ENOMEM) {
			j->err = -ENOMEM;
			break;
		}
		if (j->nips + nr > j->capips) {
			size_t cap = j->capips ? j->capips * 2 : 65536;
			uint64_t *p;

			while (cap < j->nips + nr)
				cap *= 2;
			p = realloc(j->ips, cap * sizeof(*p));
			if (!p) {
				j->err = -ENOMEM;
				break;
			}
			j->ips = p;
			j->capips = cap;
		}
		memcpy(j->ips + j->nips, ips, nr * sizeof(*ips));
		r->off = j->nips;
		r->nr = nr;
		j->nips += nr;
	}
	unwinder__stats(uw, &j->st);
	unwinder__free(uw);
	return NULL;
}

/*
 * Walks are independent, and libdw's handles are per Dwfl: with many
 * captures they are unwound ahead on a few threads, each with its own
 * unwinder; symbolizing and merging stay on this one, in capture order.
 */
static int unwind_ahead(struct ubuild *ub, const struct profile_opts *popts)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int n = cpus > 4 ? 4 : cpus < 1 ? 1 : (int)cpus, started = 0, err = 0;
	pthread_t tids[4];

	if (ub->nus < 4096 || n < 2)
		return 0;
	ub->pre = calloc(ub->nus, sizeof(*ub->pre));
	ub->jobs = calloc(n, sizeof(*ub->jobs));
	if (!ub->pre || !ub->jobs)
		return -ENOMEM;
	ub->njobs = n;
	for (int t = 0; t < n; t++) {
		struct unwind_job *j = &ub->jobs[t];

		j->rec = ub->rec;
		j->opts = popts->unwind;
		j->popts = popts;
		j->us = ub->us;
		j->pre = ub->pre;
		j->id = t;
		j->from = ub->nus * t / n;
		j->to = ub->nus * (t + 1) / n;
	}
	for (int t = 1; t < n; t++) {
		if (pthread_create(&tids[t], NULL, unwind_range, &ub->jobs[t]))
			break; /* the rest is done below, on this thread */
		started = t;
	}
	unwind_range(&ub->jobs[0]);
	for (int t = started + 1; t < n; t++)
		unwind_range(&ub->jobs[t]);
	for (int t = 1; t <= started; t++)
		pthread_join(tids[t], NULL);
	for (int t = 0; t < n; t++) {
		struct unwinder_stats *st = &ub->jobs[t].st;

		if (ub->jobs[t].err)
			err = ub->jobs[t].err;
		ub->prof->unwind.unwound += st->unwound;
		ub->prof->unwind.cache_hits += st->cache_hits;
		ub->prof->unwind.incomplete += st->incomplete;
		ub->prof->unwind.images += st->images;
		ub->prof->unwind.image_fails += st->image_fails;
	}
	return err;
}

/* The chain of capture idx into ub->ips: unwound ahead, or now. */
static int chain_of(struct ubuild *ub, size_t idx, uint32_t *nr)
{
	if (ub->pre) {
		const struct unwound *r = &ub->pre[idx];

		*nr = r->nr;
		memcpy(ub->ips, ub->jobs[r->job].ips + r->off, r->nr * sizeof(*ub->ips));
		return r->err;
	}
	return unwinder__unwind(ub->uw, &ub->us[idx], ub->ips, USTACK_FRAMES, nr);
}

/*
 * An aggregate key whose call stacks are in the captures: its exact bytes
 * and count are shared over the bucket's captures in proportion to their
 * sampled weight (bytes, else count), by cumulative rounding so that the
 * shares add up to the key's figures exactly.
 */
static int build_sampled(struct ubuild *ub, const struct mt_rec_sample *s)
{
	struct profile *prof = ub->prof;
	size_t first, n = bucket_range(ub, s, &first);
	enum { BY_BYTES, BY_COUNT, EQUAL } mode = BY_BYTES;
	__int128 wsum = 0, cum = 0;
	int64_t prev_b = 0;
	uint64_t prev_c = 0;

	if (!n) {
		struct mt_pstack *ps = new_pstack(prof, ub->cap);

		if (!ps)
			return -ENOMEM;
		set_head(ps, ub->rec, s->pid, s->gen, s->event, s->class);
		ps->count = s->count;
		ps->bytes = s->bytes;
		prof->unsampled_bytes[s->event] += s->bytes;
		return lost_stack(ps, s->stack_id);
	}
	for (size_t i = 0; i < n; i++) {
		const struct mt_rec_ustack *u = &ub->us[ub->order[first + i]];

		wsum += u->bytes > 0 ? u->bytes : 0;
	}
	if (wsum == 0) {
		mode = BY_COUNT;
		for (size_t i = 0; i < n; i++)
			wsum += ub->us[ub->order[first + i]].count;
	}
	if (wsum == 0) {
		mode = EQUAL; /* weightless captures */
		wsum = n;
	}
	for (size_t i = 0; i < n; i++) {
		const struct mt_rec_ustack *u = &ub->us[ub->order[first + i]];
		struct mt_pstack *ps;
		uint32_t nr = 0;
		int64_t b;
		uint64_t c;
		int err;

		cum += mode == BY_BYTES ? (u->bytes > 0 ? u->bytes : 0)
		       : mode == BY_COUNT ? (__int128)u->count
					  : 1;
		b = (int64_t)(s->bytes * cum / wsum);
		c = (uint64_t)((__int128)s->count * cum / wsum);
		err = chain_of(ub, ub->order[first + i], &nr);
		if (err == -ENOMEM)
			return err;
		if (err || !nr) {
			/* registers without a PC: the whole chain is unknown */
			ub->ips[0] = MT_IP_UNKNOWN;
			nr = 1;
		}
		ps = chain_stack(ub, s, nr);
		if (!ps)
			return -ENOMEM;
		ps->bytes += b - prev_b;
		ps->count += c - prev_c;
		prev_b = b;
		prev_c = c;
		prof->captures++;
		if (ub->ips[nr - 1] == MT_IP_UNKNOWN)
			prof->incomplete_captures++;
	}
	return 0;
}

struct profile *profile__build(const struct recording *rec, struct symbolizer *sym,
			       const struct profile_opts *opts)
{
	const struct mt_rec_sample *samples;
	struct ubuild ub = {.rec = rec, .sym = sym};
	struct profile *prof;
	size_t ns, cap = 0;
	int err = 0;

	prof = calloc(1, sizeof(*prof));
	if (!prof) {
		errno = ENOMEM;
		return NULL;
	}
	samples = recording__samples(rec, &ns);
	ub.prof = prof;
	ub.cap = &cap;
	ub.us = recording__ustacks(rec, &ub.nus);
	ub.order = calloc(ub.nus ? ub.nus : 1, sizeof(*ub.order));
	ub.uw = unwinder__new(rec, opts->unwind);
	if (!ub.order || !ub.uw) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = sort_captures(&ub);
	if (!err)
		err = unwind_ahead(&ub, opts);

	for (size_t i = 0; i < ns && !err; i++) {
		const struct mt_rec_sample *s = &samples[i];
		struct mt_pstack *ps;

		if (!wanted(s->pid, s->event, opts))
			continue;
		prof->total_count[s->event] += s->count;
		prof->total_bytes[s->event] += s->bytes;
		if (s->stack_id == -61 /* ENODATA: in the captures */) {
			err = build_sampled(&ub, s);
			continue;
		}
		ps = new_pstack(prof, &cap);
		err = ps ? build_fp(rec, sym, s, ps, prof) : -ENOMEM;
	}
	if (!ub.pre)
		unwinder__stats(ub.uw, &prof->unwind);
cleanup:
	unwinder__free(ub.uw);
	for (int t = 0; t < ub.njobs; t++)
		free(ub.jobs[t].ips);
	free(ub.jobs);
	free(ub.pre);
	free(ub.order);
	free(ub.slots);
	free(ub.hashes);
	if (err) {
		profile__free(prof);
		errno = -err;
		return NULL;
	}
	return prof;
}

void profile__free(struct profile *prof)
{
	if (!prof)
		return;
	for (size_t i = 0; i < prof->n; i++) {
		free(prof->stacks[i].frames);
		free(prof->stacks[i].ips);
	}
	free(prof->stacks);
	free(prof);
}

const char *mt_frame_label(const struct mt_frame *f, char *buf, size_t len)
{
	if (f->func)
		return f->func;
	snprintf(buf, len, "%s+0x%" PRIx64, f->module, f->mod_off);
	return buf;
}
