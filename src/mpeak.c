// SPDX-License-Identifier: GPL-2.0
/*
 * The --malloc capture log: live captures, and the captures live at each
 * heap's peak so far (include/mpeak.h says how the moment is found).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "hashmap.h"
#include "mpeak.h"

struct cap {
	struct mt_rec_ustack u; /* the stack bytes are ours */
	uint64_t seq;		/* stream position of the capture */
	bool live;		/* its block not freed yet */
	bool held_image;	/* freed, kept: live at its image's current peak */
	bool held_all;		/* freed, kept: live at the current peak of all */
};

/* One heap: an image's, or all processes' together. */
struct scope {
	int64_t known;	   /* the peak the latest event said */
	uint64_t peak_seq; /* captures before it, not freed before it, were live at the peak */
	struct cap **held; /* freed since the peak, live at it */
	size_t nheld, capheld;
	struct mt_rec_peak peak; /* the final one, when has_peak */
	bool has_peak;
	bool all;
};

struct mpeak {
	struct hashmap *live;	/* id -> struct cap * */
	struct hashmap *images; /* pid << 32 | gen -> struct scope * */
	struct scope all;
	uint64_t seq;
	uint64_t released;
	size_t held; /* captures kept for a peak after their free */
};

struct mpeak *mpeak__new(void)
{
	struct mpeak *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->all.all = true;
	m->live = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 256);
	m->images = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 16);
	if (!m->live || !m->images) {
		mpeak__free(m);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

static void cap_free(struct cap *c)
{
	free(c->u.stack);
	free(c);
}

/* Freed and kept for no peak any more: gone. */
static void cap_put(struct mpeak *m, struct cap *c)
{
	if (c->live || c->held_image || c->held_all)
		return;
	cap_free(c);
	m->held--;
}

/* The heap peaked after everything fed so far: what was kept for the previous peak goes. */
static void scope_drop_held(struct mpeak *m, struct scope *sc)
{
	for (size_t i = 0; i < sc->nheld; i++) {
		struct cap *c = sc->held[i];

		if (sc->all)
			c->held_all = false;
		else
			c->held_image = false;
		cap_put(m, c);
	}
	sc->nheld = 0;
}

static void advance(struct mpeak *m, struct scope *sc, int64_t peak)
{
	if (peak < 0 || peak <= sc->known)
		return;
	sc->known = peak;
	sc->peak_seq = m->seq; /* before the event being fed */
	scope_drop_held(m, sc);
}

static int scope_hold(struct scope *sc, struct cap *c)
{
	if (sc->nheld == sc->capheld) {
		size_t cap = sc->capheld ? sc->capheld * 2 : 64;
		struct cap **h = realloc(sc->held, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		sc->held = h;
		sc->capheld = cap;
	}
	sc->held[sc->nheld++] = c;
	return 0;
}

static struct scope *image_scope(struct mpeak *m, uint32_t pid, uint32_t gen, bool make)
{
	uint64_t key = (uint64_t)pid << 32 | gen;
	struct scope *sc;
	uintptr_t v;

	if (hashmap__find(m->images, key, &v))
		return (struct scope *)v;
	if (!make)
		return NULL;
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	if (hashmap__add(m->images, key, (uintptr_t)sc)) {
		free(sc);
		return NULL;
	}
	return sc;
}

int mpeak__capture(struct mpeak *m, uint64_t id, const struct mt_rec_ustack *u, int64_t image_peak,
		   int64_t all_peak)
{
	struct scope *sc = image_scope(m, u->pid, u->gen, true);
	struct cap *c;
	int err;

	if (!sc)
		return -ENOMEM;
	if (hashmap__find(m->live, id, NULL))
		return -EEXIST;
	m->seq++;
	advance(m, sc, image_peak);
	advance(m, &m->all, all_peak);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->u = *u;
	c->u.stack = malloc(u->stack_len ? u->stack_len : 1);
	if (!c->u.stack) {
		free(c);
		return -ENOMEM;
	}
	if (u->stack_len)
		memcpy(c->u.stack, u->stack, u->stack_len);
	c->seq = m->seq;
	c->live = true;
	err = hashmap__add(m->live, id, (uintptr_t)c);
	if (err)
		cap_free(c);
	return err;
}

bool mpeak__release(struct mpeak *m, uint64_t id, int64_t image_peak, int64_t all_peak)
{
	struct scope *sc;
	uintptr_t v;
	struct cap *c;

	if (!hashmap__delete(m->live, id, NULL, &v))
		return false;
	c = (struct cap *)v;
	m->seq++;
	sc = image_scope(m, c->u.pid, c->u.gen, false);
	if (sc)
		advance(m, sc, image_peak);
	advance(m, &m->all, all_peak);
	m->released++;
	c->live = false;
	m->held++;
	/* a capture that cannot be kept is dropped: its peak then lacks it (sampled anyway) */
	if (sc && c->seq < sc->peak_seq && !scope_hold(sc, c))
		c->held_image = true;
	if (c->seq < m->all.peak_seq && !scope_hold(&m->all, c))
		c->held_all = true;
	cap_put(m, c);
	return true;
}

int mpeak__set_peak(struct mpeak *m, const struct mt_rec_peak *peak)
{
	struct scope *sc =
	    peak->flags & MT_PEAK_ALL ? &m->all : image_scope(m, peak->pid, peak->gen, true);

	if (!sc)
		return -ENOMEM;
	m->seq++;
	advance(m, sc, peak->bytes);
	sc->peak = *peak;
	sc->peak.pad = 0;
	sc->has_peak = true;
	return 0;
}

/* The MT_USTACK_AT_* bits of c: live at a peak that the recording will have. */
static uint32_t peak_flags(const struct mpeak *m, const struct cap *c, bool live)
{
	const struct scope *sc = image_scope((struct mpeak *)m, c->u.pid, c->u.gen, false);
	uint32_t f = 0;

	if (sc && sc->has_peak && (live ? c->seq < sc->peak_seq : c->held_image))
		f |= MT_USTACK_AT_PEAK;
	if (m->all.has_peak && (live ? c->seq < m->all.peak_seq : c->held_all))
		f |= MT_USTACK_AT_ALL_PEAK;
	return f;
}

static int store_one(struct recording *rec, const struct cap *c, uint32_t flags, bool live,
		     uint64_t *refused)
{
	struct mt_rec_ustack u = c->u;
	int err;

	u.flags |= flags;
	err = live ? recording__add_ustack(rec, &u) : recording__add_peak_ustack(rec, &u);
	if (err == -EINVAL) {
		(*refused)++;
		return 0;
	}
	return err;
}

int mpeak__store(const struct mpeak *m, struct recording *rec, uint64_t *refused)
{
	uintptr_t key, v;
	size_t cursor = 0;
	int err = 0;

	while (!err && hashmap__next(m->live, &cursor, &key, &v)) {
		const struct cap *c = (const struct cap *)v;

		err = store_one(rec, c, peak_flags(m, c, true), true, refused);
	}
	/* a capture kept for both peaks is on both lists: written from its image's */
	cursor = 0;
	while (!err && hashmap__next(m->images, &cursor, &key, &v)) {
		const struct scope *sc = (const struct scope *)v;

		for (size_t i = 0; !err && i < sc->nheld; i++) {
			uint32_t f = peak_flags(m, sc->held[i], false);

			if (f)
				err = store_one(rec, sc->held[i], f, false, refused);
		}
		if (!err && sc->has_peak)
			err = recording__add_peak(rec, &sc->peak);
	}
	for (size_t i = 0; !err && i < m->all.nheld; i++) {
		const struct cap *c = m->all.held[i];
		uint32_t f = peak_flags(m, c, false);

		if (f && !c->held_image) /* else written above */
			err = store_one(rec, c, f, false, refused);
	}
	if (!err && m->all.has_peak)
		err = recording__add_peak(rec, &m->all.peak);
	return err;
}

size_t mpeak__live(const struct mpeak *m)
{
	return hashmap__size(m->live);
}

uint64_t mpeak__released(const struct mpeak *m)
{
	return m->released;
}

size_t mpeak__held(const struct mpeak *m)
{
	return m->held;
}

void mpeak__free(struct mpeak *m)
{
	uintptr_t key, v;
	size_t cursor = 0;

	if (!m)
		return;
	while (m->live && hashmap__next(m->live, &cursor, &key, &v))
		cap_free((struct cap *)v);
	/* the kept ones are on one list or two: each freed once, when its last list lets go */
	cursor = 0;
	while (m->images && hashmap__next(m->images, &cursor, &key, &v)) {
		struct scope *sc = (struct scope *)v;

		scope_drop_held(m, sc);
		free(sc->held);
		free(sc);
	}
	scope_drop_held(m, &m->all);
	free(m->all.held);
	hashmap__free(m->live);
	hashmap__free(m->images);
	free(m);
}
