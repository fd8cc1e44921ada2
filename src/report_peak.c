// SPDX-License-Identifier: GPL-2.0
/*
 * The peak view of memtrace report (include/report_peak.h): each heap's
 * peak from the recording's MT_FREC_PEAK records, its call sites from the
 * peak profiles (profile__build_peak), as text or JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "keytab.h"
#include "json_util.h"
#include "report_peak.h"
#include "sanitize.h"
#include "units.h"

int peak_view__build(struct peak_view *v, const struct recording *rec, struct symbolizer *sym,
		     const struct profile_opts *opts)
{
	struct profile_opts po = *opts;
	const struct mt_rec_peak *pk;
	bool all = false;

	memset(v, 0, sizeof(*v));
	v->rec = rec;
	v->pids = opts->pids;
	v->npids = opts->npids;
	pk = recording__peaks(rec, &v->npeaks);
	if (!v->npeaks || !(opts->events & MT_EVMASK(MT_EV_MALLOC)))
		return 0;
	po.events = MT_EVMASK(MT_EV_MALLOC);
	v->images = profile__build_peak(rec, sym, &po, false);
	if (!v->images)
		return -errno;
	for (size_t i = 0; i < v->npeaks; i++)
		all |= pk[i].flags & MT_PEAK_ALL;
	if (all && !(v->all = profile__build_peak(rec, sym, &po, true)))
		return -errno;
	return 0;
}

void peak_view__free(struct peak_view *v)
{
	profile__free(v->images);
	profile__free(v->all);
	memset(v, 0, sizeof(*v));
}

/* One call site at one peak. */
struct psite {
	const struct mt_frame *frame, *caller; /* of the heaviest stack through it */
	int64_t bytes, best;
	uint64_t count;
};

/* The sites of one peak: in a table by module and function, as the end's sites are merged. */
struct psites {
	struct keytab *tab;
	const struct psite **v; /* into tab, heaviest first */
	size_t n;
};

static void psites_free(struct psites *t)
{
	free(t->v);
	keytab__free(t->tab);
}

static struct psite *psite_get(struct psites *t, const struct mt_frame *f)
{
	char key[512];

	if (f->func)
		snprintf(key, sizeof(key), "%s|%s", f->module, f->func);
	else
		snprintf(key, sizeof(key), "%s|0x%" PRIx64, f->module, f->mod_off);
	return keytab__get(t->tab, key, NULL);
}

static int by_bytes(const void *a, const void *b)
{
	const struct psite *x = *(const struct psite *const *)a;
	const struct psite *y = *(const struct psite *const *)b;

	return (y->bytes > x->bytes) - (y->bytes < x->bytes);
}

/* The sites of pk's stacks in prof (all of them for the overall peak), heaviest first. */
static int peak_sites(const struct profile *prof, const struct mt_rec_peak *pk, struct psites *t)
{
	memset(t, 0, sizeof(*t));
	t->tab = keytab__new(sizeof(struct psite), 64);
	if (!t->tab)
		return -ENOMEM;
	for (size_t i = 0; prof && i < prof->n; i++) {
		const struct mt_pstack *ps = &prof->stacks[i];
		struct psite *s;

		if (!(pk->flags & MT_PEAK_ALL) && (ps->pid != pk->pid || ps->gen != pk->gen))
			continue;
		s = psite_get(t, &ps->frames[ps->site]);
		if (!s)
			return -ENOMEM;
		s->bytes += ps->bytes;
		s->count += ps->count;
		if (!s->frame || ps->bytes > s->best) {
			s->best = ps->bytes;
			s->frame = &ps->frames[ps->site];
			s->caller = ps->site + 1 < ps->nframes ? &ps->frames[ps->site + 1] : NULL;
		}
	}
	t->n = keytab__size(t->tab);
	t->v = calloc(t->n ? t->n : 1, sizeof(*t->v));
	if (!t->v)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++)
		t->v[i] = keytab__at(t->tab, i);
	qsort(t->v, t->n, sizeof(*t->v), by_bytes);
	return 0;
}

/* The peak records, images by bytes (heaviest first), then the overall one. */
static int peak_order(const void *a, const void *b)
{
	const struct mt_rec_peak *x = *(const struct mt_rec_peak *const *)a,
				 *y = *(const struct mt_rec_peak *const *)b;
	bool ax = x->flags & MT_PEAK_ALL, ay = y->flags & MT_PEAK_ALL;

	if (ax != ay)
		return ax - ay;
	if (x->bytes != y->bytes)
		return (y->bytes > x->bytes) - (y->bytes < x->bytes);
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/*
 * With --pid, the overall peak's sites would be the chosen processes' share
 * of a total that is everyone's: it is left out rather than mixed.
 */
static bool peak_shown(const struct peak_view *v, const struct mt_rec_peak *pk)
{
	if (!v->npids)
		return true;
	if (pk->flags & MT_PEAK_ALL)
		return false;
	for (size_t i = 0; i < v->npids; i++)
		if ((uint32_t)v->pids[i] == pk->pid)
			return true;
	return false;
}

/* The peaks shown, in peak_order; *n of them, *nimages not the overall one. */
static const struct mt_rec_peak **sorted_peaks(const struct peak_view *v, size_t *n,
					       size_t *nimages)
{
	size_t all;
	const struct mt_rec_peak *pk = recording__peaks(v->rec, &all);
	const struct mt_rec_peak **order = calloc(all ? all : 1, sizeof(*order));

	if (!order)
		return NULL;
	*n = *nimages = 0;
	for (size_t i = 0; i < all; i++) {
		if (!peak_shown(v, &pk[i]))
			continue;
		order[(*n)++] = &pk[i];
		*nimages += !(pk[i].flags & MT_PEAK_ALL);
	}
	qsort(order, *n, sizeof(*order), peak_order);
	return order;
}

/* "+1.234s" after the recording's start, or "an unknown time". */
static const char *peak_when(const struct recording *rec, const struct mt_rec_peak *pk, char *buf,
			     size_t len)
{
	uint64_t start = recording__meta(rec)->start_ns;

	if (!pk->ts_ns || pk->ts_ns < start)
		return "an unknown time";
	snprintf(buf, len, "+%.3fs", (pk->ts_ns - start) / 1e9);
	return buf;
}

static void text_peak(const struct peak_view *v, const struct mt_rec_peak *pk,
		      const struct psites *t, uint32_t top, FILE *out)
{
	const struct mt_rec_proc *proc = recording__proc(v->rec, pk->pid, pk->gen);
	char sz[32], sz2[32], when[32], where[768], comm[64];

	if (pk->flags & MT_PEAK_ALL)
		fprintf(out, "  all processes together");
	else
		fprintf(out, "  pid %u (%s)", pk->pid,
			mt_safe_str(proc && proc->comm[0] ? proc->comm : "[unknown]", comm,
				    sizeof(comm)));
	fprintf(out, " at %s: %s%s in %" PRId64 " blocks (%s at the end)\n",
		peak_when(v->rec, pk, when, sizeof(when)),
		pk->flags & MT_PEAK_RACED ? "at least " : "",
		format_size(sz, sizeof(sz), pk->bytes), pk->blocks,
		format_size(sz2, sizeof(sz2), pk->end_bytes > 0 ? pk->end_bytes : 0));
	if (pk->flags & MT_PEAK_NO_SITES) {
		fprintf(out, "    (call sites at the peak need record --unwind auto or dwarf)\n");
		return;
	}
	fprintf(out, "  %11s %6s %9s  %s\n", "at peak", "share", "blocks", "call site");
	for (size_t i = 0; i < t->n && i < top; i++) {
		const struct psite *s = t->v[i];

		frame_where(s->frame, where, sizeof(where));
		fprintf(out, "  %11s %5.1f%% %9" PRIu64 "  %s\n",
			format_size(sz, sizeof(sz), s->bytes > 0 ? s->bytes : 0),
			pk->bytes > 0 ? 100.0 * s->bytes / pk->bytes : 0, s->count, where);
		if (s->caller) {
			frame_where(s->caller, where, sizeof(where));
			fprintf(out, "  %11s %6s %9s    <- %s\n", "", "", "", where);
		}
	}
	if (t->n > top)
		fprintf(out, "  ... %zu more call sites (--top)\n", t->n - top);
}

int peak_view__text(const struct peak_view *v, uint32_t top, FILE *out)
{
	size_t n, nimages, shown = 0;
	const struct mt_rec_peak **order;
	int err = 0;

	if (!v->images)
		return 0;
	order = sorted_peaks(v, &n, &nimages);
	if (!order)
		return -ENOMEM;
	fprintf(out,
		"\nmalloc at the peak: the most bytes outstanding at once, per process "
		"image%s\n",
		nimages > 1 && n > nimages ? " and over all of them together" : "");
	for (size_t i = 0; i < n && !err; i++) {
		const struct mt_rec_peak *pk = order[i];
		bool all = pk->flags & MT_PEAK_ALL;
		struct psites t;

		if (all && nimages == 1)
			continue; /* the one image's own peak */
		if (!all && shown++ >= top) {
			fprintf(out, "  ... %zu more process images (--top)\n", nimages - top);
			i = nimages - 1;
			continue;
		}
		err = peak_sites(all ? v->all : v->images, pk, &t);
		if (!err)
			text_peak(v, pk, &t, top, out);
		psites_free(&t);
	}
	if (!err && v->images->captures)
		fprintf(out,
			"  (the exact peak shared over the %" PRIu64 " allocation captures live at "
			"that moment: exact per site when every block is larger than "
			"--sample-bytes, a sampled share otherwise)\n",
			v->images->captures);
	free(order);
	return err;
}

static struct json_object *json_peak(const struct peak_view *v, const struct mt_rec_peak *pk,
				     const struct psites *t, uint32_t top)
{
	const struct mt_rec_proc *proc = recording__proc(v->rec, pk->pid, pk->gen);
	uint64_t start = recording__meta(v->rec)->start_ns;
	struct json_object *o = json_object_new_object(), *sites = json_object_new_array();
	const char *comm = proc ? proc->comm : "";

	if (pk->flags & MT_PEAK_ALL) {
		json_object_object_add(o, "scope", json_object_new_string("all"));
	} else {
		json_object_object_add(o, "scope", json_object_new_string("process"));
		json_object_object_add(o, "pid", json_object_new_int64(pk->pid));
		json_object_object_add(o, "gen", json_object_new_int64(pk->gen));
		json_object_object_add(o, "comm", mt_json_string(comm, strnlen(comm, 16)));
	}
	json_object_object_add(o, "bytes", json_object_new_int64(pk->bytes));
	json_object_object_add(o, "blocks", json_object_new_int64(pk->blocks));
	json_object_object_add(o, "end_bytes", json_object_new_int64(pk->end_bytes));
	json_object_object_add(
	    o, "time_ns",
	    pk->ts_ns && pk->ts_ns >= start ? json_object_new_int64(pk->ts_ns - start) : NULL);
	json_object_object_add(o, "exact", json_object_new_boolean(!(pk->flags & MT_PEAK_RACED)));
	json_object_object_add(o, "sites_known",
			       json_object_new_boolean(!(pk->flags & MT_PEAK_NO_SITES)));
	for (size_t i = 0; i < t->n && i < top && !(pk->flags & MT_PEAK_NO_SITES); i++) {
		const struct psite *s = t->v[i];
		struct json_object *so = mt_frame_json(s->frame);

		json_object_object_add(so, "bytes", json_object_new_int64(s->bytes));
		json_object_object_add(so, "count", json_object_new_int64(s->count));
		json_object_object_add(
		    so, "share",
		    json_object_new_double(pk->bytes > 0 ? (double)s->bytes / pk->bytes : 0));
		if (s->caller)
			json_object_object_add(so, "caller", mt_frame_json(s->caller));
		json_object_array_add(sites, so);
	}
	json_object_object_add(o, "sites", sites);
	return o;
}

int peak_view__json(const struct peak_view *v, uint32_t top, struct json_object *root)
{
	struct json_object *arr = json_object_new_array();
	const struct mt_rec_peak **order;
	size_t n, nimages;
	int err = 0;

	if (!arr)
		return -ENOMEM;
	json_object_object_add(root, "peaks", arr);
	if (!v->images)
		return 0;
	order = sorted_peaks(v, &n, &nimages);
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < n && !err; i++) {
		bool all = order[i]->flags & MT_PEAK_ALL;
		struct psites t;

		err = peak_sites(all ? v->all : v->images, order[i], &t);
		if (!err)
			json_object_array_add(arr, json_peak(v, order[i], &t, top));
		psites_free(&t);
	}
	free(order);
	return err;
}
