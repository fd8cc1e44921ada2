// SPDX-License-Identifier: GPL-2.0
/*
 * The recording file: writer and a strict reader. Every length is checked
 * before it is trusted; the reader must survive any byte sequence (see the
 * mutation test in tests/unit/test_recording.c). This file is over 800
 * lines: writer and reader share the on-disk layouts, private to this file
 * so that nothing else writes a record the reader has not checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "outfile.h"
#include "recording.h"

/* On-disk layouts: fixed-size heads, strings follow to the end of the payload. */
struct file_header {
	char magic[8];
	uint32_t version;
	uint32_t flags;
};
_Static_assert(sizeof(struct file_header) == 16, "file_header layout");

struct frec_head {
	uint32_t type;
	uint32_t len;
};
_Static_assert(sizeof(struct frec_head) == 8, "frec_head layout");

struct frec_meta {
	uint64_t start_ns;
	uint64_t duration_ns;
	uint32_t events;
	uint32_t sample_every;
	uint32_t malloc;
	uint32_t ncounters;
	uint64_t counters[MT_REC_COUNTERS];
	uint64_t maps_missed;
	/* cmdline follows */
};
_Static_assert(sizeof(struct frec_meta) == 168, "frec_meta layout");

struct frec_proc {
	uint32_t pid;
	uint32_t gen;
	uint32_t ppid;
	uint32_t flags;
	char comm[16];
	/* exe follows */
};
_Static_assert(sizeof(struct frec_proc) == 32, "frec_proc layout");

/* A separate record, so that readers before it skip it and read the rest. */
struct frec_owner {
	uint32_t pid;
	uint32_t gen;
	uint32_t uid;
	uint32_t flags; /* reserved, 0 */
};
_Static_assert(sizeof(struct frec_owner) == 16, "frec_owner layout");

struct frec_map {
	uint64_t start;
	uint64_t end;
	uint64_t pgoff;
	uint32_t pid;
	uint32_t gen;
	uint32_t prot;
	uint32_t build_id_len;
	uint8_t build_id[MT_BUILD_ID_MAX];
	uint32_t path_len; /* path, then cache_path for the rest */
			   /* path, cache path follow */
};
_Static_assert(sizeof(struct frec_map) == 64, "frec_map layout");

struct frec_stack {
	int32_t id;
	uint32_t nr;
	/* nr u64 follow */
};
_Static_assert(sizeof(struct frec_stack) == 8, "frec_stack layout");

_Static_assert(sizeof(struct mt_rec_sample) == 184, "mt_rec_sample is written as is");

struct frec_ustack {
	uint32_t pid;
	uint32_t gen;
	uint32_t event;
	uint32_t class;
	uint32_t arch;
	uint32_t nregs;
	uint64_t regs[MT_UNWIND_MAX_REGS];
	uint64_t count;
	int64_t bytes;
	uint64_t stack_addr;
	uint32_t stack_len;
	uint32_t flags;
	/* stack_len bytes follow */
};
_Static_assert(sizeof(struct frec_ustack) == 320, "frec_ustack layout");

_Static_assert(sizeof(struct mt_rec_peak) == 48, "mt_rec_peak is written as is");
#define MT_PEAK_KNOWN_FLAGS (MT_PEAK_ALL | MT_PEAK_RACED | MT_PEAK_NO_SITES)

/* A list of captures: the end's, or the peaks' only (MT_FREC_PEAK_USTACK). */
struct ustack_list {
	struct mt_rec_ustack *v;
	size_t n, cap;
};

struct recording {
	struct mt_rec_meta meta;
	struct mt_rec_proc *procs;
	size_t nprocs, capprocs;
	struct mt_rec_map *maps;
	size_t nmaps, capmaps;
	struct mt_rec_stack *stacks;
	size_t nstacks, capstacks;
	bool stacks_sorted;
	struct mt_rec_sample *samples;
	size_t nsamples, capsamples;
	struct ustack_list ustacks, peak_ustacks;
	struct mt_rec_peak *peaks;
	size_t npeaks, cappeaks;
	/*
	 * The file as read: captures parsed from it point into it instead of
	 * holding copies (a report reads hundreds of MiB of stacks).
	 */
	uint8_t *backing;
	size_t backing_len;
	bool borrow; /* while parsing into backing */
};

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

struct recording *recording__new(void)
{
	struct recording *rec = calloc(1, sizeof(*rec));

	if (!rec)
		return NULL;
	rec->stacks_sorted = true;
	rec->meta.sample_every = 1;
	return rec;
}

static bool in_backing(const struct recording *rec, const uint8_t *p)
{
	return rec->backing && p >= rec->backing && p <= rec->backing + rec->backing_len;
}

void recording__free(struct recording *rec)
{
	if (!rec)
		return;
	free(rec->meta.cmdline);
	for (size_t i = 0; i < rec->nprocs; i++)
		free(rec->procs[i].exe);
	for (size_t i = 0; i < rec->nmaps; i++) {
		free(rec->maps[i].path);
		free(rec->maps[i].cache_path);
	}
	for (size_t i = 0; i < rec->nstacks; i++)
		free(rec->stacks[i].ips);
	free(rec->procs);
	free(rec->maps);
	free(rec->stacks);
	free(rec->samples);
	for (size_t i = 0; i < rec->ustacks.n; i++)
		if (!in_backing(rec, rec->ustacks.v[i].stack))
			free(rec->ustacks.v[i].stack);
	free(rec->ustacks.v);
	for (size_t i = 0; i < rec->peak_ustacks.n; i++)
		if (!in_backing(rec, rec->peak_ustacks.v[i].stack))
			free(rec->peak_ustacks.v[i].stack);
	free(rec->peak_ustacks.v);
	free(rec->peaks);
	if (rec->backing)
		munmap(rec->backing, rec->backing_len);
	free(rec);
}

int recording__set_meta(struct recording *rec, const struct mt_rec_meta *meta)
{
	char *cmd = strdup(meta->cmdline ? meta->cmdline : "");

	if (!cmd)
		return -ENOMEM;
	free(rec->meta.cmdline);
	rec->meta = *meta;
	rec->meta.cmdline = cmd;
	return 0;
}

int recording__add_proc(struct recording *rec, const struct mt_rec_proc *proc)
{
	struct mt_rec_proc *p;

	if (grow((void **)&rec->procs, &rec->capprocs, rec->nprocs + 1, sizeof(*p)))
		return -ENOMEM;
	p = &rec->procs[rec->nprocs];
	*p = *proc;
	p->comm[sizeof(p->comm) - 1] = '\0';
	p->exe = strdup(proc->exe ? proc->exe : "");
	if (!p->exe)
		return -ENOMEM;
	rec->nprocs++;
	return 0;
}

int recording__add_map(struct recording *rec, const struct mt_rec_map *map)
{
	struct mt_rec_map *m;

	if (map->build_id_len > MT_BUILD_ID_MAX)
		return -EINVAL;
	if (grow((void **)&rec->maps, &rec->capmaps, rec->nmaps + 1, sizeof(*m)))
		return -ENOMEM;
	m = &rec->maps[rec->nmaps];
	*m = *map;
	m->path = strdup(map->path ? map->path : "");
	m->cache_path = map->cache_path ? strdup(map->cache_path) : NULL;
	if (!m->path || (map->cache_path && !m->cache_path)) {
		free(m->path);
		free(m->cache_path);
		return -ENOMEM;
	}
	rec->nmaps++;
	return 0;
}

int recording__add_stack(struct recording *rec, int32_t id, const uint64_t *ips, uint32_t nr)
{
	struct mt_rec_stack *s;

	if (grow((void **)&rec->stacks, &rec->capstacks, rec->nstacks + 1, sizeof(*s)))
		return -ENOMEM;
	s = &rec->stacks[rec->nstacks];
	s->ips = malloc((nr ? nr : 1) * sizeof(uint64_t));
	if (!s->ips)
		return -ENOMEM;
	memcpy(s->ips, ips, nr * sizeof(uint64_t));
	s->id = id;
	s->nr = nr;
	if (rec->nstacks && rec->stacks[rec->nstacks - 1].id >= id)
		rec->stacks_sorted = false;
	rec->nstacks++;
	return 0;
}

int recording__add_sample(struct recording *rec, const struct mt_rec_sample *sample)
{
	if (grow((void **)&rec->samples, &rec->capsamples, rec->nsamples + 1, sizeof(*sample)))
		return -ENOMEM;
	rec->samples[rec->nsamples++] = *sample;
	return 0;
}

static bool ustack_valid(const struct mt_rec_ustack *u)
{
	return u->nregs <= MT_UNWIND_MAX_REGS && u->stack_len <= MT_USTACK_MAX &&
	       u->event < MT_EV_NR && u->class < MT_CLASS_NR &&
	       u->stack_addr + u->stack_len >= u->stack_addr && (u->stack || !u->stack_len);
}

static int add_ustack(struct ustack_list *l, const struct mt_rec_ustack *u, bool copy)
{
	struct mt_rec_ustack *d;

	if (!ustack_valid(u))
		return -EINVAL;
	if (grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*d)))
		return -ENOMEM;
	d = &l->v[l->n];
	*d = *u;
	if (copy) {
		d->stack = malloc(u->stack_len ? u->stack_len : 1);
		if (!d->stack)
			return -ENOMEM;
		if (u->stack_len)
			memcpy(d->stack, u->stack, u->stack_len);
	}
	/* unused registers are zero, so equal captures compare equal byte for byte */
	memset(d->regs + d->nregs, 0, (MT_UNWIND_MAX_REGS - d->nregs) * sizeof(d->regs[0]));
	l->n++;
	return 0;
}

int recording__add_ustack(struct recording *rec, const struct mt_rec_ustack *u)
{
	return add_ustack(&rec->ustacks, u, true);
}

int recording__add_peak_ustack(struct recording *rec, const struct mt_rec_ustack *u)
{
	return add_ustack(&rec->peak_ustacks, u, true);
}

int recording__add_peak(struct recording *rec, const struct mt_rec_peak *peak)
{
	if (peak->flags & ~MT_PEAK_KNOWN_FLAGS)
		return -EINVAL;
	if (grow((void **)&rec->peaks, &rec->cappeaks, rec->npeaks + 1, sizeof(*peak)))
		return -ENOMEM;
	rec->peaks[rec->npeaks++] = *peak;
	return 0;
}

bool recording__has_maps(const struct recording *rec, uint32_t pid, uint32_t gen)
{
	for (size_t i = 0; i < rec->nmaps; i++)
		if (rec->maps[i].pid == pid && rec->maps[i].gen == gen)
			return true;
	return false;
}

void recording__drop_maps(struct recording *rec, uint32_t pid, uint32_t gen)
{
	size_t w = 0;

	for (size_t i = 0; i < rec->nmaps; i++) {
		struct mt_rec_map *m = &rec->maps[i];

		if (m->pid == pid && m->gen == gen) {
			free(m->path);
			free(m->cache_path);
			continue;
		}
		rec->maps[w++] = *m;
	}
	rec->nmaps = w;
}

const struct mt_rec_meta *recording__meta(const struct recording *rec)
{
	return &rec->meta;
}

const struct mt_rec_proc *recording__procs(const struct recording *rec, size_t *n)
{
	*n = rec->nprocs;
	return rec->procs;
}

const struct mt_rec_map *recording__maps(const struct recording *rec, size_t *n)
{
	*n = rec->nmaps;
	return rec->maps;
}

const struct mt_rec_sample *recording__samples(const struct recording *rec, size_t *n)
{
	*n = rec->nsamples;
	return rec->samples;
}

const struct mt_rec_ustack *recording__ustacks(const struct recording *rec, size_t *n)
{
	*n = rec->ustacks.n;
	return rec->ustacks.v;
}

const struct mt_rec_ustack *recording__peak_ustacks(const struct recording *rec, size_t *n)
{
	*n = rec->peak_ustacks.n;
	return rec->peak_ustacks.v;
}

const struct mt_rec_peak *recording__peaks(const struct recording *rec, size_t *n)
{
	*n = rec->npeaks;
	return rec->peaks;
}

const struct mt_rec_stack *recording__stack(const struct recording *rec, int32_t id)
{
	size_t lo = 0, hi = rec->nstacks;

	if (!rec->stacks_sorted) {
		for (size_t i = 0; i < rec->nstacks; i++)
			if (rec->stacks[i].id == id)
				return &rec->stacks[i];
		return NULL;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rec->stacks[mid].id == id)
			return &rec->stacks[mid];
		if (rec->stacks[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct mt_rec_proc *recording__proc(const struct recording *rec, uint32_t pid, uint32_t gen)
{
	const struct mt_rec_proc *any = NULL;

	for (size_t i = 0; i < rec->nprocs; i++) {
		if (rec->procs[i].pid != pid)
			continue;
		if (rec->procs[i].gen == gen)
			return &rec->procs[i];
		any = &rec->procs[i];
	}
	return any;
}

/* ---- writing ---- */

struct writer {
	FILE *f;
	uint64_t nrecords;
	int err;
};

static void put_record(struct writer *w, uint32_t type, const void *head, size_t headlen,
		       const void *tail1, size_t len1, const void *tail2, size_t len2)
{
	struct frec_head h = { .type = type, .len = headlen + len1 + len2 };

	if (w->err)
		return;
	if (headlen + len1 + len2 > MT_REC_MAX_PAYLOAD) {
		w->err = -E2BIG;
		return;
	}
	if (fwrite(&h, sizeof(h), 1, w->f) != 1 ||
	    (headlen && fwrite(head, headlen, 1, w->f) != 1) ||
	    (len1 && fwrite(tail1, len1, 1, w->f) != 1) ||
	    (len2 && fwrite(tail2, len2, 1, w->f) != 1))
		w->err = -EIO;
	w->nrecords++;
}

static void write_ustacks(struct writer *w, uint32_t type, const struct ustack_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct mt_rec_ustack *u = &l->v[i];
		struct frec_ustack fu = {
			.pid = u->pid,
			.gen = u->gen,
			.event = u->event,
			.class = u->class,
			.arch = u->arch,
			.nregs = u->nregs,
			.count = u->count,
			.bytes = u->bytes,
			.stack_addr = u->stack_addr,
			.stack_len = u->stack_len,
			.flags = u->flags,
		};

		memcpy(fu.regs, u->regs, sizeof(fu.regs));
		put_record(w, type, &fu, sizeof(fu), u->stack, u->stack_len, NULL, 0);
	}
}

int recording__write(const struct recording *rec, const char *path, bool force)
{
	struct file_header hdr = { .magic = MT_REC_MAGIC, .version = MT_REC_VERSION };
	struct writer w = {};
	struct frec_meta fm = {};
	struct outfile_opts oo = { .mode = OUTFILE_MODE_PRIVATE, .force = force };
	struct outfile *out = outfile__open(path, &oo);
	const char *cmd;

	if (!out)
		return -errno;
	w.f = outfile__file(out);
	memcpy(hdr.magic, MT_REC_MAGIC, sizeof(hdr.magic));
	if (fwrite(&hdr, sizeof(hdr), 1, w.f) != 1)
		w.err = -EIO;

	fm.start_ns = rec->meta.start_ns;
	fm.duration_ns = rec->meta.duration_ns;
	fm.events = rec->meta.events;
	fm.sample_every = rec->meta.sample_every;
	fm.malloc = rec->meta.malloc;
	fm.ncounters = rec->meta.ncounters;
	memcpy(fm.counters, rec->meta.counters, sizeof(fm.counters));
	fm.maps_missed = rec->meta.maps_missed;
	cmd = rec->meta.cmdline ? rec->meta.cmdline : "";
	put_record(&w, MT_FREC_META, &fm, sizeof(fm), cmd, strlen(cmd), NULL, 0);

	for (size_t i = 0; i < rec->nprocs; i++) {
		const struct mt_rec_proc *p = &rec->procs[i];
		struct frec_proc fp = {
			.pid = p->pid, .gen = p->gen, .ppid = p->ppid, .flags = p->flags
		};

		memcpy(fp.comm, p->comm, sizeof(fp.comm));
		put_record(&w, MT_FREC_PROC, &fp, sizeof(fp), p->exe, strlen(p->exe), NULL, 0);
		if (p->has_uid) {
			struct frec_owner fo = { .pid = p->pid, .gen = p->gen, .uid = p->uid };

			put_record(&w, MT_FREC_OWNER, &fo, sizeof(fo), NULL, 0, NULL, 0);
		}
	}
	for (size_t i = 0; i < rec->nmaps; i++) {
		const struct mt_rec_map *m = &rec->maps[i];
		struct frec_map fmap = {
			.start = m->start,
			.end = m->end,
			.pgoff = m->pgoff,
			.pid = m->pid,
			.gen = m->gen,
			.prot = m->prot,
			.build_id_len = m->build_id_len,
			.path_len = strlen(m->path),
		};
		const char *cp = m->cache_path ? m->cache_path : "";

		memcpy(fmap.build_id, m->build_id, sizeof(fmap.build_id));
		put_record(&w, MT_FREC_MAP, &fmap, sizeof(fmap), m->path, fmap.path_len, cp,
			   strlen(cp));
	}
	for (size_t i = 0; i < rec->nstacks; i++) {
		const struct mt_rec_stack *s = &rec->stacks[i];
		struct frec_stack fs = { .id = s->id, .nr = s->nr };

		put_record(&w, MT_FREC_STACK, &fs, sizeof(fs), s->ips, s->nr * sizeof(uint64_t),
			   NULL, 0);
	}
	for (size_t i = 0; i < rec->nsamples; i++)
		put_record(&w, MT_FREC_SAMPLE, &rec->samples[i], sizeof(rec->samples[i]), NULL, 0,
			   NULL, 0);
	write_ustacks(&w, MT_FREC_USTACK, &rec->ustacks);
	write_ustacks(&w, MT_FREC_PEAK_USTACK, &rec->peak_ustacks);
	for (size_t i = 0; i < rec->npeaks; i++)
		put_record(&w, MT_FREC_PEAK, &rec->peaks[i], sizeof(rec->peaks[i]), NULL, 0, NULL,
			   0);
	put_record(&w, MT_FREC_END, &w.nrecords, sizeof(w.nrecords), NULL, 0, NULL, 0);

	if (w.err) {
		outfile__abort(out);
		return w.err;
	}
	return outfile__commit(out);
}

/* ---- reading ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int stack_cmp(const void *a, const void *b)
{
	const struct mt_rec_stack *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* "bad record of type N at offset O: L bytes is not its size"; -EINVAL. */
static int short_record(uint32_t type, uint32_t len, char *err, size_t errlen, size_t off)
{
	set_err(err, errlen, "bad record of type %u at offset %zu: %u bytes is not its size", type,
		off, len);
	return -EINVAL;
}

static int parse_meta(struct recording *rec, const uint8_t *p, uint32_t len, char *err,
		      size_t errlen, size_t off)
{
	struct frec_meta fm;
	struct mt_rec_meta meta = {};
	char *cmd;
	int ret;

	if (len < sizeof(fm))
		return short_record(MT_FREC_META, len, err, errlen, off);
	memcpy(&fm, p, sizeof(fm));
	if (fm.ncounters > MT_REC_COUNTERS) {
		set_err(err, errlen, "bad meta record at offset %zu: %u counters", off,
			fm.ncounters);
		return -EINVAL;
	}
	cmd = dupn((const char *)p + sizeof(fm), len - sizeof(fm));
	if (!cmd)
		return -ENOMEM;
	meta.start_ns = fm.start_ns;
	meta.duration_ns = fm.duration_ns;
	meta.events = fm.events;
	meta.sample_every = fm.sample_every ? fm.sample_every : 1;
	meta.malloc = fm.malloc;
	meta.ncounters = fm.ncounters;
	memcpy(meta.counters, fm.counters, sizeof(meta.counters));
	meta.maps_missed = fm.maps_missed;
	meta.cmdline = cmd;
	ret = recording__set_meta(rec, &meta);
	free(cmd);
	return ret;
}

static int parse_proc(struct recording *rec, const uint8_t *p, uint32_t len, char *err,
		      size_t errlen, size_t off)
{
	struct frec_proc fp;
	struct mt_rec_proc proc = {};
	int ret;

	if (len < sizeof(fp))
		return short_record(MT_FREC_PROC, len, err, errlen, off);
	memcpy(&fp, p, sizeof(fp));
	proc.pid = fp.pid;
	proc.gen = fp.gen;
	proc.ppid = fp.ppid;
	proc.flags = fp.flags;
	memcpy(proc.comm, fp.comm, sizeof(proc.comm));
	proc.exe = dupn((const char *)p + sizeof(fp), len - sizeof(fp));
	if (!proc.exe)
		return -ENOMEM;
	ret = recording__add_proc(rec, &proc);
	free(proc.exe);
	return ret;
}

static int parse_owner(struct recording *rec, const uint8_t *p, uint32_t len, char *err,
		       size_t errlen, size_t off)
{
	struct frec_owner fo;

	if (len < sizeof(fo))
		return short_record(MT_FREC_OWNER, len, err, errlen, off);
	memcpy(&fo, p, sizeof(fo));
	/* of the image it follows; one that names no such image is ignored */
	for (size_t i = rec->nprocs; i-- > 0;)
		if (rec->procs[i].pid == fo.pid && rec->procs[i].gen == fo.gen) {
			rec->procs[i].uid = fo.uid;
			rec->procs[i].has_uid = 1;
			break;
		}
	return 0;
}

static int parse_map(struct recording *rec, const uint8_t *p, uint32_t len, char *err,
		     size_t errlen, size_t off)
{
	struct frec_map fmap;
	struct mt_rec_map map = {};
	size_t rest;
	int ret;

	if (len < sizeof(fmap))
		return short_record(MT_FREC_MAP, len, err, errlen, off);
	memcpy(&fmap, p, sizeof(fmap));
	rest = len - sizeof(fmap);
	if (fmap.path_len > rest || fmap.build_id_len > MT_BUILD_ID_MAX || fmap.end < fmap.start) {
		set_err(err, errlen, "bad map record at offset %zu", off);
		return -EINVAL;
	}
	map.start = fmap.start;
	map.end = fmap.end;
	map.pgoff = fmap.pgoff;
	map.pid = fmap.pid;
	map.gen = fmap.gen;
	map.prot = fmap.prot;
	map.build_id_len = fmap.build_id_len;
	memcpy(map.build_id, fmap.build_id, sizeof(map.build_id));
	map.path = dupn((const char *)p + sizeof(fmap), fmap.path_len);
	if (rest > fmap.path_len)
		map.cache_path =
		    dupn((const char *)p + sizeof(fmap) + fmap.path_len, rest - fmap.path_len);
	ret = map.path ? recording__add_map(rec, &map) : -ENOMEM;
	free(map.path);
	free(map.cache_path);
	return ret;
}

static int parse_stack(struct recording *rec, const uint8_t *p, uint32_t len, char *err,
		       size_t errlen, size_t off)
{
	struct frec_stack fs;
	uint64_t *ips;
	int ret;

	if (len < sizeof(fs))
		return short_record(MT_FREC_STACK, len, err, errlen, off);
	memcpy(&fs, p, sizeof(fs));
	if (fs.nr > MT_STACK_DEPTH + 1 || len != sizeof(fs) + fs.nr * sizeof(uint64_t)) {
		set_err(err, errlen, "bad stack record at offset %zu: %u frames in %u bytes", off,
			fs.nr, len);
		return -EINVAL;
	}
	ips = malloc((fs.nr ? fs.nr : 1) * sizeof(uint64_t));
	if (!ips)
		return -ENOMEM;
	memcpy(ips, p + sizeof(fs), fs.nr * sizeof(uint64_t));
	ret = recording__add_stack(rec, fs.id, ips, fs.nr);
	free(ips);
	return ret;
}

static int parse_sample(struct recording *rec, const uint8_t *p, uint32_t len, char *err,
			size_t errlen, size_t off)
{
	struct mt_rec_sample s;

	if (len != sizeof(s))
		return short_record(MT_FREC_SAMPLE, len, err, errlen, off);
	memcpy(&s, p, sizeof(s));
	if (s.event >= MT_EV_NR || s.class >= MT_CLASS_NR || s.leaf_nr > MT_LEAF_WORDS) {
		set_err(err, errlen, "bad sample record at offset %zu", off);
		return -EINVAL;
	}
	return recording__add_sample(rec, &s);
}

static int parse_ustack(struct recording *rec, struct ustack_list *l, const uint8_t *p,
			uint32_t len, char *err, size_t errlen, size_t off)
{
	struct frec_ustack fu;
	struct mt_rec_ustack u = {};

	if (len < sizeof(fu))
		return short_record(MT_FREC_USTACK, len, err, errlen, off);
	memcpy(&fu, p, sizeof(fu));
	u.pid = fu.pid;
	u.gen = fu.gen;
	u.event = fu.event;
	u.class = fu.class;
	u.arch = fu.arch;
	u.nregs = fu.nregs;
	memcpy(u.regs, fu.regs, sizeof(u.regs));
	u.count = fu.count;
	u.bytes = fu.bytes;
	u.stack_addr = fu.stack_addr;
	u.stack_len = fu.stack_len;
	u.flags = fu.flags;
	u.stack = (uint8_t *)p + sizeof(fu);
	if (fu.stack_len != len - sizeof(fu) || !ustack_valid(&u)) {
		set_err(err, errlen,
			"bad user-stack record at offset %zu: %u registers, %u stack bytes "
			"in %u bytes",
			off, fu.nregs, fu.stack_len, len);
		return -EINVAL;
	}
	/* the stack bytes stay where they are when the recording owns the file */
	return add_ustack(l, &u, !rec->borrow);
}

static int parse_peak(struct recording *rec, const uint8_t *p, uint32_t len, char *err,
		      size_t errlen, size_t off)
{
	struct mt_rec_peak pk;

	if (len != sizeof(pk))
		return short_record(MT_FREC_PEAK, len, err, errlen, off);
	memcpy(&pk, p, sizeof(pk));
	if (pk.flags & ~MT_PEAK_KNOWN_FLAGS || pk.bytes < 0 || pk.blocks < 0) {
		set_err(err, errlen, "bad peak record at offset %zu", off);
		return -EINVAL;
	}
	return recording__add_peak(rec, &pk);
}

static int parse_record(struct recording *rec, uint32_t type, const uint8_t *p, uint32_t len,
			char *err, size_t errlen, size_t off)
{
	switch (type) {
	case MT_FREC_META:
		return parse_meta(rec, p, len, err, errlen, off);
	case MT_FREC_PROC:
		return parse_proc(rec, p, len, err, errlen, off);
	case MT_FREC_OWNER:
		return parse_owner(rec, p, len, err, errlen, off);
	case MT_FREC_MAP:
		return parse_map(rec, p, len, err, errlen, off);
	case MT_FREC_STACK:
		return parse_stack(rec, p, len, err, errlen, off);
	case MT_FREC_SAMPLE:
		return parse_sample(rec, p, len, err, errlen, off);
	case MT_FREC_USTACK:
		return parse_ustack(rec, &rec->ustacks, p, len, err, errlen, off);
	case MT_FREC_PEAK_USTACK:
		return parse_ustack(rec, &rec->peak_ustacks, p, len, err, errlen, off);
	case MT_FREC_PEAK:
		return parse_peak(rec, p, len, err, errlen, off);
	default:
		return 0; /* a newer writer's record: skipped */
	}
}

static struct recording *parse(const void *buf, size_t len, bool borrow, char *err, size_t errlen)
{
	const uint8_t *p = buf;
	struct file_header hdr;
	struct recording *rec;
	uint64_t nrecords = 0;
	bool ended = false;
	size_t off;
	int ret = -EINVAL;

	if (len < sizeof(hdr)) {
		set_err(err, errlen, "not a memtrace recording: %zu bytes is too short", len);
		errno = EINVAL;
		return NULL;
	}
	memcpy(&hdr, p, sizeof(hdr));
	if (memcmp(hdr.magic, MT_REC_MAGIC, sizeof(hdr.magic)) != 0) {
		set_err(err, errlen, "not a memtrace recording: bad magic");
		errno = EINVAL;
		return NULL;
	}
	if (hdr.version != MT_REC_VERSION) {
		set_err(err, errlen,
			"recording version %u is not supported (this memtrace reads %u)",
			hdr.version, MT_REC_VERSION);
		errno = EINVAL;
		return NULL;
	}
	rec = recording__new();
	if (!rec)
		return NULL;
	rec->borrow = borrow;

	off = sizeof(hdr);
	while (off < len) {
		struct frec_head h;

		if (len - off < sizeof(h)) {
			set_err(err, errlen,
				"truncated recording: partial record header at offset %zu", off);
			goto fail;
		}
		memcpy(&h, p + off, sizeof(h));
		if (h.len > MT_REC_MAX_PAYLOAD || h.len > len - off - sizeof(h)) {
			set_err(
			    err, errlen,
			    "truncated recording: record at offset %zu claims %u bytes, %zu left",
			    off, h.len, len - off - sizeof(h));
			goto fail;
		}
		if (h.type == MT_FREC_END) {
			uint64_t claimed;

			if (h.len != sizeof(claimed)) {
				set_err(err, errlen, "bad end record at offset %zu", off);
				goto fail;
			}
			memcpy(&claimed, p + off + sizeof(h), sizeof(claimed));
			if (claimed != nrecords) {
				set_err(
				    err, errlen,
				    "corrupt recording: end record counts %llu records, read %llu",
				    (unsigned long long)claimed, (unsigned long long)nrecords);
				goto fail;
			}
			ended = true;
			off += sizeof(h) + h.len;
			break;
		}
		ret = parse_record(rec, h.type, p + off + sizeof(h), h.len, err, errlen, off);
		if (ret) {
			if (ret == -ENOMEM)
				set_err(err, errlen, "out of memory reading the recording");
			goto fail;
		}
		nrecords++;
		off += sizeof(h) + h.len;
	}
	if (!ended) {
		set_err(err, errlen,
			"truncated recording: no end record (was record interrupted?)");
		ret = -EINVAL;
		goto fail;
	}
	if (off != len) {
		set_err(err, errlen, "corrupt recording: %zu bytes after the end record",
			len - off);
		ret = -EINVAL;
		goto fail;
	}
	if (rec->nstacks)
		qsort(rec->stacks, rec->nstacks, sizeof(*rec->stacks), stack_cmp);
	rec->stacks_sorted = true;
	rec->borrow = false;
	return rec;
fail:
	if (borrow) { /* nothing points into buf that the caller still owns */
		rec->ustacks.n = 0;
		rec->peak_ustacks.n = 0;
	}
	recording__free(rec);
	errno = ret == -ENOMEM ? ENOMEM : EINVAL;
	return NULL;
}

struct recording *recording__parse(const void *buf, size_t len, char *err, size_t errlen)
{
	return parse(buf, len, false, err, errlen);
}

static void on_sigbus(int sig)
{
	static const char msg[] = "memtrace: the recording was cut short while being read "
				  "(another process truncated it): read it again when it is "
				  "complete\n";
	ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);

	(void)n;
	_exit(1);
}

static void catch_sigbus(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
}

struct recording *recording__read(const char *path, char *err, size_t errlen)
{
	struct recording *rec = NULL;
	uint8_t *buf = NULL;
	struct stat st;
	int fd, saved;

	/* O_NONBLOCK: a FIFO given as the recording must not hang the open */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		set_err(err, errlen, "cannot open %s: %s", path, strerror(saved));
		errno = saved;
		return NULL;
	}
	if (fstat(fd, &st)) {
		saved = errno;
		set_err(err, errlen, "cannot stat %s: %s", path, strerror(saved));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		saved = EINVAL;
		set_err(err, errlen,
			"%s is not a regular file: give a recording written by "
			"memtrace record",
			path);
		goto cleanup;
	}
	if (st.st_size == 0) {
		rec = recording__parse("", 0, err, errlen); /* says why it is not one */
		saved = errno;
		goto cleanup;
	}
	/*
	 * Mapped, not read: a report reads hundreds of MiB of stack copies,
	 * and filling fresh anonymous memory costs ten times more than the
	 * page cache pages it would copy. A file cut short under the mapping
	 * raises SIGBUS, which gets a message rather than a core.
	 */
	buf = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (buf == MAP_FAILED) {
		buf = NULL;
		saved = errno;
		set_err(err, errlen, "cannot read %s: %s", path, strerror(saved));
		goto cleanup;
	}
	catch_sigbus();
	rec = parse(buf, st.st_size, true, err, errlen);
	saved = errno;
	if (rec) {
		rec->backing = buf;
		rec->backing_len = st.st_size;
		buf = NULL;
	}
cleanup:
	if (buf)
		munmap(buf, st.st_size);
	close(fd);
	errno = saved;
	return rec;
}

static const char *const counter_names[MT_SC_NR] = {
	[MT_SC_EVENTS] = "events",
	[MT_SC_SAMPLED] = "sampled",
	[MT_SC_STACK_COLLISION] = "stack hash collisions",
	[MT_SC_STACK_FULL] = "stack map full",
	[MT_SC_STACK_ERR] = "stack errors",
	[MT_SC_KEYS_FULL] = "aggregate map full",
	[MT_SC_NOTES_FULL] = "notes lost",
	[MT_SC_TRACKED_FULL] = "untraced children",
	[MT_SC_VMA_BUSY] = "vma lookups failed",
	[MT_SC_INFLIGHT_FULL] = "in-flight map full",
	[MT_SC_ALLOCS_FULL] = "allocation map full",
	[MT_SC_FREE_UNKNOWN] = "frees of unknown blocks",
	[MT_SC_USTACKS] = "stack captures",
	[MT_SC_USTACK_LOST] = "stack captures lost",
	[MT_SC_USTACK_LOST_BYTES] = "bytes of lost stack captures",
	[MT_SC_KFAULTS] = "kernel-mode faults on user memory",
};
_Static_assert(MT_SC_NR == 16, "name every counter");

const char *mt_counter_name(uint32_t counter)
{
	return counter < MT_SC_NR ? counter_names[counter] : NULL;
}

static const char *const event_names[MT_EV_NR] = { "fault", "mmap", "brk", "malloc" };

const char *mt_event_name(uint32_t event)
{
	return event < MT_EV_NR ? event_names[event] : NULL;
}

const char *mt_class_name(uint32_t class)
{
	static const char *const names[MT_CLASS_NR] = { "-", "anon", "file", "shmem" };

	return class < MT_CLASS_NR ? names[class] : "?";
}

int mt_parse_events(const char *text, uint32_t *mask)
{
	const char *p = text;
	uint32_t m = 0;

	if (!*text)
		return -EINVAL;
	while (*p) {
		size_t n = strcspn(p, ",");
		int found = -1;

		for (int i = 0; i < MT_EV_MALLOC; i++)
			if (strlen(event_names[i]) == n && strncmp(p, event_names[i], n) == 0)
				found = i;
		if (found < 0)
			return -EINVAL;
		m |= MT_EVMASK(found);
		p += n;
		if (*p == ',' && *++p == '\0')
			return -EINVAL;
	}
	*mask = m;
	return 0;
}
