// SPDX-License-Identifier: GPL-2.0
/*
 * pprof output: profile.proto written by hand (a dozen fields need no
 * code generator), gzip-compressed with zlib as `go tool pprof` expects.
 * Locations and functions are interned: one per distinct frame. Stacks
 * start at the call site (see profile.h), so `pprof -top` names the same
 * functions as the text report; folded and SVG output keep every frame.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "hashmap.h"
#include "profile.h"

struct pbuf {
	uint8_t *data;
	size_t len, cap;
	int err;
};

static void pb_put(struct pbuf *b, const void *p, size_t n)
{
	if (b->err)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		uint8_t *d;

		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d) {
			b->err = -ENOMEM;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void pb_varint(struct pbuf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n] = v & 0x7f;
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	pb_put(b, tmp, n);
}

static void pb_key(struct pbuf *b, uint32_t field, uint32_t wire)
{
	pb_varint(b, (uint64_t)field << 3 | wire);
}

static void pb_uint(struct pbuf *b, uint32_t field, uint64_t v)
{
	pb_key(b, field, 0);
	pb_varint(b, v);
}

static void pb_bytes(struct pbuf *b, uint32_t field, const void *p, size_t n)
{
	pb_key(b, field, 2);
	pb_varint(b, n);
	pb_put(b, p, n);
}

/* a nested message built in sub, appended as field */
static void pb_msg(struct pbuf *b, uint32_t field, struct pbuf *sub)
{
	if (sub->err)
		b->err = sub->err;
	pb_bytes(b, field, sub->data, sub->len);
	sub->len = 0;
}

/* String → id interning (hashmap.h, keys owned here); string ids start at 0. */
struct intern {
	struct hashmap *map;
};

/* id of key, adding it with id next when new (*added set); UINT64_MAX on ENOMEM */
static uint64_t intern(struct intern *t, const char *key, uint64_t next, bool *added)
{
	uintptr_t id;
	char *dup;

	*added = false;
	if (!t->map && !(t->map = hashmap__new(hashmap_hash_str, hashmap_equal_str, NULL, 1024)))
		return UINT64_MAX;
	if (hashmap__find(t->map, (uintptr_t)key, &id))
		return id;
	dup = strdup(key);
	if (!dup || hashmap__add(t->map, (uintptr_t)dup, next)) {
		free(dup);
		return UINT64_MAX;
	}
	*added = true;
	return next;
}

static void intern_free(struct intern *t)
{
	uintptr_t key, val;
	size_t cur = 0;

	while (t->map && hashmap__next(t->map, &cur, &key, &val))
		free((char *)key);
	hashmap__free(t->map);
}

/*
 * (a, b) → id for locations and functions: pointers and offsets, no
 * strings to build. The map's keys are indices into pairs, hashed and
 * compared through it, so pairs may move when it grows.
 */
struct numtab {
	struct hashmap *map;
	struct {
		uint64_t a, b;
	} * pairs;
	size_t n, cap;
};

static uint64_t pair_hash(uintptr_t key, void *ctx)
{
	const struct numtab *t = ctx;

	return hashmap_hash_u64(t->pairs[key].a ^ (t->pairs[key].b * 0x9e3779b97f4a7c15ULL), NULL);
}

static bool pair_equal(uintptr_t x, uintptr_t y, void *ctx)
{
	const struct numtab *t = ctx;

	return t->pairs[x].a == t->pairs[y].a && t->pairs[x].b == t->pairs[y].b;
}

/* id of (a, b), adding it with id next when new (*added set); UINT64_MAX on ENOMEM */
static uint64_t num_intern(struct numtab *t, uint64_t a, uint64_t b, uint64_t next, bool *added)
{
	uintptr_t id;

	*added = false;
	if (!t->map && !(t->map = hashmap__new(pair_hash, pair_equal, t, 4096)))
		return UINT64_MAX;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 4096;
		void *p = realloc(t->pairs, cap * sizeof(*t->pairs));

		if (!p)
			return UINT64_MAX;
		t->pairs = p;
		t->cap = cap;
	}
	/* the candidate sits at pairs[n] while it is looked up */
	t->pairs[t->n].a = a;
	t->pairs[t->n].b = b;
	if (hashmap__find(t->map, t->n, &id))
		return id;
	if (hashmap__add(t->map, t->n, next))
		return UINT64_MAX;
	t->n++;
	*added = true;
	return next;
}

static void numtab_free(struct numtab *t)
{
	hashmap__free(t->map);
	free(t->pairs);
}

struct pprof {
	struct pbuf out, sub, sub2;
	struct intern strs;
	struct numtab funcs, locs;
	uint64_t nstrs, nfuncs, nlocs;
	int err;
};

static uint64_t str_id(struct pprof *pp, const char *s)
{
	bool added;
	uint64_t id = intern(&pp->strs, s, pp->nstrs, &added);

	if (id == UINT64_MAX) {
		pp->err = -ENOMEM;
		return 0;
	}
	if (added) {
		pp->nstrs++;
		pb_bytes(&pp->out, 6, s, strlen(s)); /* string_table */
	}
	return id;
}

/*
 * Functions by (name, file) pointers, which the symbolizer hands out once
 * per symbol; unnamed frames by (module, offset).
 */
static uint64_t func_id(struct pprof *pp, const struct mt_frame *f)
{
	char label[256];
	const char *name = mt_frame_label(f, label, sizeof(label));
	uint64_t id, nm, file;
	bool added;

	if (f->func)
		id = num_intern(&pp->funcs, (uintptr_t)f->func, (uintptr_t)f->file, pp->nfuncs + 1,
				&added);
	else
		id = num_intern(&pp->funcs, (uintptr_t)f->module ^ 1, f->mod_off, pp->nfuncs + 1,
				&added);
	if (id == UINT64_MAX) {
		pp->err = -ENOMEM;
		return 0;
	}
	if (!added)
		return id;
	pp->nfuncs++;
	nm = str_id(pp, name);
	file = str_id(pp, f->file ? f->file : f->module);
	pb_uint(&pp->sub2, 1, id);
	pb_uint(&pp->sub2, 2, nm);
	pb_uint(&pp->sub2, 3, nm);
	pb_uint(&pp->sub2, 4, file);
	pb_msg(&pp->out, 5, &pp->sub2); /* function */
	return id;
}

/* Locations by (module, file offset): one address, one symbol. */
static uint64_t loc_id(struct pprof *pp, const struct mt_frame *f)
{
	struct pbuf line = {};
	uint64_t id, fid;
	bool added;

	id = num_intern(&pp->locs, (uintptr_t)f->module, f->mod_off, pp->nlocs + 1, &added);
	if (id == UINT64_MAX) {
		pp->err = -ENOMEM;
		return 0;
	}
	if (!added)
		return id;
	pp->nlocs++;
	fid = func_id(pp, f);
	pb_uint(&pp->sub2, 1, id);
	pb_uint(&pp->sub2, 3, f->mod_off);
	pb_uint(&line, 1, fid);
	pb_uint(&line, 2, f->line);
	pb_msg(&pp->sub2, 4, &line);
	free(line.data);
	pb_msg(&pp->out, 4, &pp->sub2); /* location */
	return id;
}

static void value_type(struct pprof *pp, uint32_t field, const char *type, const char *unit)
{
	uint64_t t = str_id(pp, type), u = str_id(pp, unit);

	pb_uint(&pp->sub, 1, t);
	pb_uint(&pp->sub, 2, u);
	pb_msg(&pp->out, field, &pp->sub);
}

static int gzip_out(const struct pbuf *b, FILE *out)
{
	uint8_t chunk[65536];
	z_stream zs = {};
	int ret, err = 0;

	/* windowBits 15 + 16: a gzip wrapper, which pprof requires; level 1: the
	 * profile is mostly varints and names, the best level saves little */
	if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	zs.next_in = b->data;
	zs.avail_in = b->len;
	do {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		ret = deflate(&zs, Z_FINISH);
		if (ret == Z_STREAM_ERROR) {
			err = -EIO;
			break;
		}
		if (fwrite(chunk, 1, sizeof(chunk) - zs.avail_out, out) !=
		    sizeof(chunk) - zs.avail_out) {
			err = -EIO;
			break;
		}
	} while (ret != Z_STREAM_END);
	deflateEnd(&zs);
	return err;
}

/* Which bytes value of a sample an event fills: 0 physical, 1 virtual, 2 heap. */
static int sample_kind(uint32_t event)
{
	switch (event) {
	case MT_EV_FAULT:
		return 0;
	case MT_EV_MMAP:
	case MT_EV_BRK:
		return 1;
	default:
		return 2;
	}
}

int pprof__write(const struct profile *prof, const struct recording *rec, FILE *out)
{
	const struct mt_rec_meta *meta = recording__meta(rec);
	struct pprof pp = {};
	struct pbuf sample = {}, ids = {}, vals = {};
	uint64_t k_event, k_class, k_comm, k_pid, v_events[MT_EV_NR], v_classes[MT_CLASS_NR];
	int64_t kind_bytes[3] = {};
	uint64_t deflt;
	int err;

	str_id(&pp, ""); /* string_table[0] must be empty */
	/*
	 * Page faults are physical bytes (memory first touched), mmap and brk
	 * virtual ones (address space), malloc bytes outstanding on the heap:
	 * three sample types, never one sum. The default is physical when the
	 * profile has any, as the text report leads with faults.
	 */
	value_type(&pp, 1, "events", "count");
	value_type(&pp, 1, "physical", "bytes");
	value_type(&pp, 1, "virtual", "bytes");
	value_type(&pp, 1, "heap", "bytes");
	/* --malloc: the heap at its peak, beside "heap" at the end (Go's inuse_space) */
	if (prof->peak)
		value_type(&pp, 1, "peak", "bytes");
	for (size_t i = 0; i < prof->n; i++)
		kind_bytes[sample_kind(prof->stacks[i].event)] += prof->stacks[i].bytes;
	deflt = str_id(&pp, prof->peak && prof->lead_peak ? "peak"
			    : kind_bytes[0] > 0		  ? "physical"
			    : kind_bytes[1] > 0		  ? "virtual"
			    : kind_bytes[2] > 0		  ? "heap"
							  : "physical");

	k_event = str_id(&pp, "event");
	k_class = str_id(&pp, "class");
	k_comm = str_id(&pp, "comm");
	k_pid = str_id(&pp, "pid");
	for (uint32_t ev = 0; ev < MT_EV_NR; ev++)
		v_events[ev] = str_id(&pp, mt_event_name(ev));
	for (uint32_t c = 0; c < MT_CLASS_NR; c++)
		v_classes[c] = str_id(&pp, mt_class_name(c));

	for (size_t j = 0; j < prof->n + (prof->peak ? prof->peak->n : 0) && !pp.err; j++) {
		bool at_peak = j >= prof->n; /* the peak's stacks follow the end's */
		const struct mt_pstack *ps =
		    at_peak ? &prof->peak->stacks[j - prof->n] : &prof->stacks[j];
		uint64_t v_event = v_events[ps->event], v_class = v_classes[ps->class];
		uint64_t v_comm = str_id(&pp, ps->comm);

		/* from the call site out, as the text report attributes: C library frames
		 * above it (memset, the mmap wrapper) would otherwise take every flat byte */
		for (uint32_t f = ps->site; f < ps->nframes; f++)
			pb_varint(&ids, loc_id(&pp, &ps->frames[f]));
		pb_varint(&vals, at_peak ? 0 : ps->count);
		for (int k = 0; k < 3; k++)
			pb_varint(&vals, !at_peak && k == sample_kind(ps->event)
					     ? (uint64_t)ps->bytes
					     : 0);
		if (prof->peak)
			pb_varint(&vals, at_peak ? (uint64_t)ps->bytes : 0);
		pb_msg(&sample, 1, &ids);
		pb_msg(&sample, 2, &vals);
		pb_uint(&pp.sub, 1, k_event);
		pb_uint(&pp.sub, 2, v_event);
		pb_msg(&sample, 3, &pp.sub);
		pb_uint(&pp.sub, 1, k_class);
		pb_uint(&pp.sub, 2, v_class);
		pb_msg(&sample, 3, &pp.sub);
		pb_uint(&pp.sub, 1, k_comm);
		pb_uint(&pp.sub, 2, v_comm);
		pb_msg(&sample, 3, &pp.sub);
		pb_uint(&pp.sub, 1, k_pid);
		pb_uint(&pp.sub, 3, ps->pid);
		pb_msg(&sample, 3, &pp.sub);
		pb_msg(&pp.out, 2, &sample);
	}
	pb_uint(&pp.out, 9, meta->start_ns);
	pb_uint(&pp.out, 10, meta->duration_ns);
	value_type(&pp, 11, "events", "count");
	pb_uint(&pp.out, 12, meta->sample_every);
	pb_uint(&pp.out, 14, deflt);

	err = pp.err ? pp.err : pp.out.err ? pp.out.err : sample.err;
	if (!err)
		err = gzip_out(&pp.out, out);
	free(pp.out.data);
	free(pp.sub.data);
	free(pp.sub2.data);
	free(sample.data);
	free(ids.data);
	free(vals.data);
	intern_free(&pp.strs);
	numtab_free(&pp.funcs);
	numtab_free(&pp.locs);
	return err;
}
