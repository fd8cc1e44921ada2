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
#include "hashmap.h"
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
 * copied at the key's FIRST event only, so it is that event's caller. It
 * holds for every event of the key only when the key's next frame
 * returns from a direct call into that very function (then all of them
 * went through it); otherwise a key of many events shows the caller as
 * unknown. A return address outside the image's code was read from data
 * (code without frame pointers) and ends the chain.
 */
static bool leaf_caller_holds(struct symbolizer *sym, const struct mt_rec_sample *s,
			      const struct mt_rec_stack *stack, uint64_t fixed_ret)
{
	if (s->count == 1)
		return true;
	return stack->nr >= 2 &&
	       symbolizer__direct_call_into(sym, s->pid, s->gen, stack->ips[1], fixed_ret);
}

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
			if (leaf_caller_holds(sym, s, stack, fixed_ret)) {
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
		if (leaf_caller_holds(sym, s, stack, fixed_ret)) {
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
	struct bucket_key *keys; /* the captures by (pid, gen, event, class) */
	size_t nus;
	struct hashmap *chains; /* see chain_stack */
	const struct mt_rec_sample *probe;
	uint32_t probe_nr;
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
	struct bucket_key *keys; /* filled for [from, to) while the captures are hot */
	struct unwound *pre;
	size_t from, to;
	uint32_t id;
	uint64_t *ips; /* every chain of this job, back to back */
	size_t nips, capips;
	struct unwinder_stats st;
	int err;
};

/*
 * A capture's bucket, index and weight: sorted, and read when its bucket
 * is shared out, compactly rather than through the captures (330 bytes
 * each, cold by then).
 */
struct bucket_key {
	uint64_t image; /* pid << 32 | gen */
	uint64_t kind;	/* event << 32 | class */
	size_t idx;
	int64_t bytes;
	uint64_t count;
};

static void bucket_key_set(struct bucket_key *k, const struct mt_rec_ustack *u, size_t idx)
{
	k->image = (uint64_t)u->pid << 32 | u->gen;
	k->kind = (uint64_t)u->event << 32 | u->class;
	k->idx = idx;
	k->bytes = u->bytes;
	k->count = u->count;
}

static int bucket_cmp(uint64_t image, uint64_t kind, const struct bucket_key *k)
{
	if (image != k->image)
		return image < k->image ? -1 : 1;
	if (kind != k->kind)
		return kind < k->kind ? -1 : 1;
	return 0;
}

static int bucket_key_cmp(const void *a, const void *b)
{
	const struct bucket_key *x = a, *y = b;

	if (x->image != y->image)
		return x->image < y->image ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

/* ub->keys, filled by the unwinding threads or else here, in bucket order. */
static void sort_captures(struct ubuild *ub)
{
	if (!ub->pre)
		for (size_t i = 0; i < ub->nus; i++)
			bucket_key_set(&ub->keys[i], &ub->us[i], i);
	qsort(ub->keys, ub->nus, sizeof(*ub->keys), bucket_key_cmp);
}

/* The captures of one bucket: [*first, *first + n) of ub->keys. */
static size_t bucket_range(const struct ubuild *ub, const struct mt_rec_sample *s, size_t *first)
{
	uint64_t image = (uint64_t)s->pid << 32 | s->gen,
		 kind = (uint64_t)s->event << 32 | s->class;
	size_t lo = 0, hi = ub->nus, n = 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bucket_cmp(image, kind, &ub->keys[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first = lo;
	while (lo + n < ub->nus && !bucket_cmp(image, kind, &ub->keys[lo + n]))
		n++;
	return n;
}

/*
 * Merged stacks by (image, event, class, chain): keys of ub->chains are
 * indices into prof->stacks, hashed and compared through them, and
 * CHAIN_PROBE stands for the chain being looked up (ub->probe, ub->ips).
 */
#define CHAIN_PROBE UINTPTR_MAX

struct chain_view {
	uint32_t pid, gen, event, class, nr;
	const uint64_t *ips;
};

static struct chain_view chain_view(const struct ubuild *ub, uintptr_t key)
{
	const struct mt_rec_sample *s = ub->probe;
	const struct mt_pstack *ps;

	if (key == CHAIN_PROBE)
		return (struct chain_view){ s->pid,   s->gen,	    s->event,
					    s->class, ub->probe_nr, ub->ips };
	ps = &ub->prof->stacks[key];
	return (struct chain_view){ ps->pid, ps->gen, ps->event, ps->class, ps->nframes, ps->ips };
}

static uint64_t chain_hash(uintptr_t key, void *ctx)
{
	struct chain_view v = chain_view(ctx, key);
	uint64_t h = ((uint64_t)v.pid << 32 | v.gen) * 0x9e3779b97f4a7c15ULL;

	h ^= ((uint64_t)v.event << 8 | v.class) * 0xc2b2ae3d27d4eb4fULL;
	return mt_fnv1a(v.ips, v.nr * sizeof(*v.ips), h);
}

static bool chain_equal(uintptr_t a, uintptr_t b, void *ctx)
{
	struct chain_view x = chain_view(ctx, a), y = chain_view(ctx, b);

	return x.pid == y.pid && x.gen == y.gen && x.event == y.event && x.class == y.class &&
	       x.nr == y.nr && memcmp(x.ips, y.ips, x.nr * sizeof(*x.ips)) == 0;
}

/* The stack of prof with this chain, made (symbolized) on first sight. */
static struct mt_pstack *chain_stack(struct ubuild *ub, const struct mt_rec_sample *s, uint32_t nr)
{
	struct mt_pstack *ps;
	uintptr_t idx;

	if (!ub->chains && !(ub->chains = hashmap__new(chain_hash, chain_equal, ub, 1024)))
		return NULL;
	ub->probe = s;
	ub->probe_nr = nr;
	if (hashmap__find(ub->chains, CHAIN_PROBE, &idx))
		return &ub->prof->stacks[idx];
	ps = new_pstack(ub->prof, ub->cap);
	if (!ps)
		return NULL;
	set_head(ps, ub->rec, s->pid, s->gen, s->event, s->class);
	ps->frames = calloc(nr, sizeof(*ps->frames));
	ps->ips = malloc(nr * sizeof(*ps->ips));
	if (!ps->frames || !ps->ips)
		return NULL;
	memcpy(ps->ips, ub->ips, nr * sizeof(*ps->ips));
	ps->nframes = nr;
	if (hashmap__add(ub->chains, ub->prof->n - 1, ub->prof->n - 1))
		return NULL;
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
	struct unwinder_opts uo = j->opts ? *j->opts : (struct unwinder_opts){};
	struct unwinder *uw;
	uint64_t ips[USTACK_FRAMES];

	uo.expect = j->to - j->from;
	uw = unwinder__new(j->rec, &uo);

	if (!uw) {
		j->err = -ENOMEM;
		return NULL;
	}
	for (size_t i = j->from; i < j->to && !j->err; i++) {
		const struct mt_rec_ustack *u = &j->us[i];
		struct unwound *r = &j->pre[i];
		uint32_t nr = 0;

		r->job = j->id;
		bucket_key_set(&j->keys[i], u, i);
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
		j->keys = ub->keys;
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
		const struct bucket_key *k = &ub->keys[first + i];

		wsum += k->bytes > 0 ? k->bytes : 0;
	}
	if (wsum == 0) {
		mode = BY_COUNT;
		for (size_t i = 0; i < n; i++)
			wsum += ub->keys[first + i].count;
	}
	if (wsum == 0) {
		mode = EQUAL; /* weightless captures */
		wsum = n;
	}
	for (size_t i = 0; i < n; i++) {
		const struct bucket_key *k = &ub->keys[first + i];
		struct mt_pstack *ps;
		uint32_t nr = 0;
		int64_t b;
		uint64_t c;
		int err;

		cum += mode == BY_BYTES	  ? (k->bytes > 0 ? k->bytes : 0)
		       : mode == BY_COUNT ? (__int128)k->count
					  : 1;
		b = (int64_t)(s->bytes * cum / wsum);
		c = (uint64_t)((__int128)s->count * cum / wsum);
		err = chain_of(ub, k->idx, &nr);
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

/* The profile of samples, whose -ENODATA buckets are shared over the captures us. */
static struct profile *build(const struct recording *rec, struct symbolizer *sym,
			     const struct profile_opts *opts, const struct mt_rec_sample *samples,
			     size_t ns, const struct mt_rec_ustack *us, size_t nus)
{
	struct ubuild ub = { .rec = rec, .sym = sym };
	struct profile *prof;
	size_t cap = 0;
	int err = 0;

	prof = calloc(1, sizeof(*prof));
	if (!prof) {
		errno = ENOMEM;
		return NULL;
	}
	ub.prof = prof;
	ub.cap = &cap;
	ub.us = us;
	ub.nus = nus;
	ub.keys = calloc(ub.nus ? ub.nus : 1, sizeof(*ub.keys));
	ub.uw = unwinder__new(rec, opts->unwind);
	if (!ub.keys || !ub.uw) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = unwind_ahead(&ub, opts);
	if (!err)
		sort_captures(&ub);

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
	free(ub.keys);
	hashmap__free(ub.chains);
	if (err) {
		profile__free(prof);
		errno = -err;
		return NULL;
	}
	return prof;
}

struct profile *profile__build(const struct recording *rec, struct symbolizer *sym,
			       const struct profile_opts *opts)
{
	const struct mt_rec_sample *samples;
	const struct mt_rec_ustack *us;
	size_t ns, nus;

	samples = recording__samples(rec, &ns);
	us = recording__ustacks(rec, &nus);
	return build(rec, sym, opts, samples, ns, us, nus);
}

/* ---- the heap at its peak ---- */

/* The captures flagged at the peak (end and peak-only ones), copies pointing into rec. */
static struct mt_rec_ustack *peak_captures(const struct recording *rec, uint32_t flag, size_t *n)
{
	size_t nend, nonly, k = 0;
	const struct mt_rec_ustack *end = recording__ustacks(rec, &nend);
	const struct mt_rec_ustack *only = recording__peak_ustacks(rec, &nonly);
	struct mt_rec_ustack *v = malloc((nend + nonly + 1) * sizeof(*v));

	if (!v)
		return NULL;
	for (size_t i = 0; i < nend; i++)
		if (end[i].event == MT_EV_MALLOC && (end[i].flags & flag))
			v[k++] = end[i];
	for (size_t i = 0; i < nonly; i++)
		if (only[i].event == MT_EV_MALLOC && (only[i].flags & flag))
			v[k++] = only[i];
	*n = k;
	return v;
}

static int by_image(const void *a, const void *b)
{
	const struct mt_rec_ustack *x = a, *y = b;
	uint64_t ix = (uint64_t)x->pid << 32 | x->gen, iy = (uint64_t)y->pid << 32 | y->gen;

	return (ix > iy) - (ix < iy);
}

static void peak_sample(struct mt_rec_sample *s, uint32_t pid, uint32_t gen, uint32_t class,
			int64_t bytes, int64_t blocks)
{
	memset(s, 0, sizeof(*s));
	s->pid = pid;
	s->gen = gen;
	s->event = MT_EV_MALLOC;
	s->class = class;
	s->stack_id = -61; /* ENODATA: in the captures */
	s->bytes = bytes;
	s->count = blocks > 0 ? (uint64_t)blocks : 0;
}

/*
 * The overall peak's bytes by image: in proportion to each image's
 * captures at that moment (the kernel counts the moment's total, not its
 * split), by cumulative rounding so that they add up. us sorted by image.
 */
static size_t split_all(const struct mt_rec_peak *pk, const struct mt_rec_ustack *us, size_t nus,
			struct mt_rec_sample *out)
{
	__int128 wsum = 0, cum = 0;
	int64_t prev_b = 0, prev_c = 0;
	size_t n = 0;

	for (size_t i = 0; i < nus; i++)
		wsum += us[i].bytes > 0 ? us[i].bytes : 0;
	if (!nus || wsum == 0) {
		peak_sample(&out[0], 0, 0, MT_CLASS_NONE, pk->bytes, pk->blocks);
		return 1;
	}
	for (size_t i = 0; i < nus; i++) {
		int64_t b, c;

		cum += us[i].bytes > 0 ? us[i].bytes : 0;
		if (i + 1 < nus && by_image(&us[i], &us[i + 1]) == 0)
			continue;
		b = (int64_t)(pk->bytes * cum / wsum);
		c = (int64_t)(pk->blocks * cum / wsum);
		peak_sample(&out[n++], us[i].pid, us[i].gen, us[i].class, b - prev_b, c - prev_c);
		prev_b = b;
		prev_c = c;
	}
	return n;
}

struct profile *profile__build_peak(const struct recording *rec, struct symbolizer *sym,
				    const struct profile_opts *opts, bool all)
{
	size_t npeaks, nus = 0, ns = 0;
	const struct mt_rec_peak *peaks = recording__peaks(rec, &npeaks);
	struct mt_rec_ustack *us =
	    peak_captures(rec, all ? MT_USTACK_AT_ALL_PEAK : MT_USTACK_AT_PEAK, &nus);
	struct mt_rec_sample *samples = calloc(npeaks + nus + 1, sizeof(*samples));
	struct profile *prof = NULL;

	if (!us || !samples) {
		errno = ENOMEM;
		goto cleanup;
	}
	qsort(us, nus, sizeof(*us), by_image);
	for (size_t i = 0; i < npeaks; i++) {
		const struct mt_rec_peak *pk = &peaks[i];

		if (!!(pk->flags & MT_PEAK_ALL) != all)
			continue;
		if (all) {
			ns = split_all(pk, us, nus, samples);
			break;
		}
		peak_sample(&samples[ns++], pk->pid, pk->gen, MT_CLASS_NONE, pk->bytes, pk->blocks);
	}
	prof = build(rec, sym, opts, samples, ns, us, nus);
cleanup:
	free(us);
	free(samples);
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
