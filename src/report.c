// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace report: call sites by growth from a recording, as text, JSON,
 * folded stacks, an SVG flame graph or pprof; --diff against a base.
 * This file is over 800 lines: the options, the text and JSON writers and
 * the --diff join all work on struct report_opts and the site table, which
 * no other file needs; the peak view is apart, in report_peak.c.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "commands.h"
#include "dw_dl.h"
#include "keytab.h"
#include "json_util.h"
#include "log.h"
#include "outfile.h"
#include "profile.h"
#include "recording.h"
#include "report_peak.h"
#include "sanitize.h"
#include "symbolize.h"
#include "units.h"

#define MAX_PIDS 1024

enum report_format { FMT_TEXT, FMT_JSON, FMT_FOLDED, FMT_SVG, FMT_PPROF };

struct report_opts {
	const char *input;
	const char *base;
	const char *output;
	bool force; /* -f: replace an existing -o target */
	uint32_t top;
	uint32_t events;
	int pids[MAX_PIDS];
	size_t npids;
	enum report_format format;
	bool no_demangle;
	bool peak; /* --peak: the --malloc heap at its peak, not at the end */
};

/* One call site's total for one event kind. */
struct site {
	uint32_t event;
	const struct mt_frame *frame;  /* the site, owned by the profile's stacks */
	const struct mt_frame *caller; /* next frame out, or NULL */
	int64_t bytes;
	uint64_t count;
	int64_t base_bytes; /* --diff */
	uint64_t class_bytes[MT_CLASS_NR];
};

/*
 * Sites are merged by module and function (address when unnamed). The key
 * leaves out the offset so that --diff matches sites across rebuilds; the
 * offset shown is the one of the heaviest stack through the site.
 */
static void site_key(uint32_t event, const struct mt_frame *f, char *buf, size_t len)
{
	if (f->func)
		snprintf(buf, len, "%u|%s|%s", event, f->module, f->func);
	else
		snprintf(buf, len, "%u|%s|0x%" PRIx64, event, f->module, f->mod_off);
}

static int add_sites(struct keytab *t, const struct profile *prof, bool base)
{
	char key[512];

	for (size_t i = 0; i < prof->n; i++) {
		const struct mt_pstack *ps = &prof->stacks[i];
		const struct mt_frame *f = &ps->frames[ps->site];
		struct site *s;
		int64_t before;

		site_key(ps->event, f, key, sizeof(key));
		s = keytab__get(t, key, NULL);
		if (!s)
			return -ENOMEM;
		if (base) {
			s->base_bytes += ps->bytes;
			if (!s->frame) {
				s->event = ps->event;
				s->frame = f;
			}
			continue;
		}
		before = s->bytes;
		s->event = ps->event;
		s->bytes += ps->bytes;
		s->count += ps->count;
		s->class_bytes[ps->class] += ps->bytes;
		/* show the heaviest stack's offset and caller */
		if (!s->frame || ps->bytes > before) {
			s->frame = f;
			s->caller = ps->site + 1 < ps->nframes ? &ps->frames[ps->site + 1] : NULL;
		}
	}
	return 0;
}

static int by_bytes(const void *a, const void *b)
{
	const struct site *x = *(const struct site *const *)a, *y = *(const struct site *const *)b;

	return (y->bytes > x->bytes) - (y->bytes < x->bytes);
}

static int by_delta(const void *a, const void *b)
{
	const struct site *x = *(const struct site *const *)a, *y = *(const struct site *const *)b;
	int64_t dx = x->bytes - x->base_bytes, dy = y->bytes - y->base_bytes;

	return (dy > dx) - (dy < dx);
}

/* This event's sites of t into order (room for all of t), in the view's order; how many. */
static size_t event_sites(struct keytab *t, uint32_t ev, bool diff, struct site **order)
{
	size_t n = 0;

	for (size_t i = 0; i < keytab__size(t); i++) {
		struct site *s = keytab__at(t, i);

		if (s->event == ev)
			order[n++] = s;
	}
	qsort(order, n, sizeof(*order), diff ? by_delta : by_bytes);
	return n;
}

void frame_where(const struct mt_frame *f, char *buf, size_t len)
{
	char name[256];

	mt_frame_format(f, name, sizeof(name));
	if (f->file)
		snprintf(buf, len, "%s (%s:%d) [%s]", name, f->file, f->line, f->module);
	else
		snprintf(buf, len, "%s [%s]", name, f->module);
	/* names come from the traced user's binaries and maps: no escape sequences */
	if (!mt_is_clean(buf, strlen(buf))) {
		char raw[768];

		snprintf(raw, sizeof(raw), "%s", buf);
		mt_sanitize(raw, strlen(raw), buf, len);
	}
}

static void print_losses(const struct recording *rec, const struct profile *prof, FILE *out)
{
	const struct mt_rec_meta *m = recording__meta(rec);
	bool any = false;
	char sz[32];

	/* by name: the record side adds counters (captures lost, in events and bytes) */
	for (uint32_t i = MT_SC_STACK_COLLISION; i < m->ncounters && i < MT_REC_COUNTERS; i++) {
		const char *name = mt_counter_name(i);

		/* failed VMA lookups and unknown frees degrade, the others lose */
		if (!m->counters[i] || !name || i == MT_SC_USTACKS || i == MT_SC_KFAULTS)
			continue; /* those two count what was seen, not what was lost */
		if (strstr(name, "bytes"))
			fprintf(out, "%s %s %s", any ? "," : "lost or degraded:", name,
				format_size(sz, sizeof(sz), m->counters[i]));
		else
			fprintf(out, "%s %s %" PRIu64, any ? "," : "lost or degraded:", name,
				m->counters[i]);
		any = true;
	}
	for (uint32_t ev = 0; ev < MT_EV_NR; ev++) {
		if (prof->unsampled_bytes[ev] <= 0)
			continue;
		fprintf(out, "%s %s %s without a stack capture (kept as [no stack: not sampled])",
			any ? "," : "lost or degraded:",
			format_size(sz, sizeof(sz), prof->unsampled_bytes[ev]), mt_event_name(ev));
		any = true;
	}
	if (m->maps_missed) {
		fprintf(out, "%s %" PRIu64 " process images without maps",
			any ? "," : "lost or degraded:", m->maps_missed);
		any = true;
	}
	if (any)
		fprintf(out, "\n");
}

/* What was recorded, what was lost, and how the stacks were found. */
static void write_text_header(const struct report_opts *opts, const struct recording *rec,
			      const struct profile *prof, const struct symbolizer *sym, FILE *out)
{
	const char *refused;
	size_t nrefused = symbolizer__jits_refused(sym, &refused);
	const struct mt_rec_meta *m = recording__meta(rec);
	char dur[32], where[768];
	size_t nprocs;

	recording__procs(rec, &nprocs);
	format_duration(dur, sizeof(dur), m->duration_ns);
	fprintf(out, "recording %s: %s, %zu process images, %s", opts->input,
		m->cmdline && *m->cmdline ? mt_safe_str(m->cmdline, where, sizeof(where)) : "?",
		nprocs, dur);
	if (m->sample_every > 1)
		fprintf(out, ", one stack in %u events (weights scaled)", m->sample_every);
	fprintf(out, "\n");
	print_losses(rec, prof, out);
	if (nrefused)
		fprintf(out, "perf maps not read (their frames show as addresses): %s%s\n",
			mt_safe_str(refused, where, sizeof(where)),
			nrefused > 1 ? ", and more" : "");
	if (symbolizer__jits_unowned(sym))
		fprintf(out,
			"perf maps of %zu processes not read: they exited before memtrace read "
			"their user, and only root's maps are trusted then\n",
			symbolizer__jits_unowned(sym));
	if (prof->captures) {
		fprintf(out,
			"call stacks from %" PRIu64 " user-stack captures (CFI), %" PRIu64
			" of them ending in [unknown]",
			prof->captures, prof->incomplete_captures);
		if (MT_SC_KFAULTS < m->ncounters && m->counters[MT_SC_KFAULTS])
			fprintf(out, "; %" PRIu64 " kernel-mode faults on user memory",
				m->counters[MT_SC_KFAULTS]);
		fprintf(out, "\n");
	}
	if (opts->base)
		fprintf(out, "growth relative to %s\n", opts->base);
}

static int write_text(const struct report_opts *opts, const struct recording *rec,
		      const struct profile *prof, const struct symbolizer *sym, struct keytab *t,
		      FILE *out)
{
	const struct mt_rec_meta *m = recording__meta(rec);
	char sz[32], sz2[32], where[768];
	struct site **order;

	write_text_header(opts, rec, prof, sym, out);
	order = calloc(keytab__size(t) ? keytab__size(t) : 1, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (uint32_t ev = 0; ev < MT_EV_NR; ev++) {
		size_t n = 0;
		uint32_t shown = 0;

		if (!(opts->events & MT_EVMASK(ev)))
			continue;
		if (!(m->events & MT_EVMASK(ev)) && !(ev == MT_EV_MALLOC && m->malloc))
			continue;
		n = event_sites(t, ev, opts->base != NULL, order);

		format_size(sz, sizeof(sz), prof->total_bytes[ev] > 0 ? prof->total_bytes[ev] : 0);
		fprintf(out, "\n%s: %s in %" PRIu64 " %s", mt_event_name(ev), sz,
			prof->total_count[ev],
			ev == MT_EV_MALLOC ? "blocks outstanding" : "events");
		if (ev == MT_EV_FAULT) {
			uint64_t cls[MT_CLASS_NR] = {};

			for (size_t i = 0; i < n; i++)
				for (int c = 0; c < MT_CLASS_NR; c++)
					cls[c] += order[i]->class_bytes[c];
			fprintf(out, " (anon %s, file %s, ",
				format_size(sz, sizeof(sz), cls[MT_CLASS_ANON]),
				format_size(sz2, sizeof(sz2), cls[MT_CLASS_FILE]));
			fprintf(out, "shmem %s)", format_size(sz, sizeof(sz), cls[MT_CLASS_SHMEM]));
		}
		fprintf(out, "\n");
		if (!n) {
			fprintf(out, "  (nothing recorded)\n");
			continue;
		}
		if (opts->base)
			fprintf(out, "  %11s %11s %11s  %s\n", "delta", "base", "now", "call site");
		else
			fprintf(out, "  %11s %6s %9s  %s\n", "growth", "share", "events",
				"call site");
		for (size_t i = 0; i < n && shown < opts->top; i++, shown++) {
			struct site *s = order[i];
			double share = prof->total_bytes[ev] > 0
					   ? 100.0 * s->bytes / prof->total_bytes[ev]
					   : 0;

			frame_where(s->frame, where, sizeof(where));
			if (opts->base) {
				char d[32], b[32], c[32];

				fprintf(out, "  %11s %11s %11s  %s\n",
					format_size_delta(d, sizeof(d), s->bytes - s->base_bytes),
					format_size(b, sizeof(b),
						    s->base_bytes > 0 ? s->base_bytes : 0),
					format_size(c, sizeof(c), s->bytes > 0 ? s->bytes : 0),
					where);
			} else {
				fprintf(out, "  %11s %5.1f%% %9" PRIu64 "  %s\n",
					s->bytes >= 0 ? format_size(sz, sizeof(sz), s->bytes)
						      : format_size_delta(sz, sizeof(sz), s->bytes),
					share, s->count, where);
			}
			if (s->caller) {
				frame_where(s->caller, where, sizeof(where));
				fprintf(out, "  %11s %6s %9s    <- %s\n", "", "", "", where);
			}
		}
		if (n > opts->top)
			fprintf(out, "  ... %zu more call sites (--top)\n", n - opts->top);
	}
	free(order);

	if (prof->walked_events && prof->short_events * 2 > prof->walked_events)
		fprintf(out, "\nwarning: most stacks have only 1-2 frames: the program was likely "
			     "built without "
			     "frame pointers; rebuild with -fno-omit-frame-pointer (and "
			     "-mno-omit-leaf-frame-pointer)\n");
	if (prof->leaf_fixes)
		mt_info("leaf fix put back the caller in %" PRIu64 " stacks", prof->leaf_fixes);
	if (prof->leaf_unknown)
		mt_info("%" PRIu64 " stacks of many events show their leaf's caller as [unknown] "
			"(one caller per key cannot be known; record --unwind dwarf can)",
			prof->leaf_unknown);
	if (prof->captures)
		mt_info("unwound %" PRIu64 " captures (%" PRIu64 " from the cache, %" PRIu64
			" walked over cached CFI rows), %" PRIu64 " process images",
			prof->unwind.unwound, prof->unwind.cache_hits, prof->unwind.fast,
			prof->unwind.images);
	return 0;
}

/* Bytes by mapping class over the sites of one event. */
static struct json_object *class_json(struct site *const *order, size_t n)
{
	struct json_object *cls = json_object_new_object();
	int64_t by_class[MT_CLASS_NR] = {};

	for (size_t i = 0; i < n; i++)
		for (int c = 0; c < MT_CLASS_NR; c++)
			by_class[c] += order[i]->class_bytes[c];
	for (int c = MT_CLASS_ANON; c < MT_CLASS_NR; c++)
		json_object_object_add(cls, mt_class_name(c), json_object_new_int64(by_class[c]));
	return cls;
}

static int write_json(const struct report_opts *opts, const struct recording *rec,
		      const struct profile *prof, const struct peak_view *pv, struct keytab *t,
		      FILE *out)
{
	const struct mt_rec_meta *m = recording__meta(rec);
	struct json_object *root = json_object_new_object(), *events = json_object_new_array();
	struct json_object *lost = json_object_new_object();
	struct site **order = calloc(keytab__size(t) ? keytab__size(t) : 1, sizeof(*order));

	if (!order)
		return -ENOMEM;
	json_object_object_add(root, "recording", mt_json_string(opts->input, strlen(opts->input)));
	json_object_object_add(
	    root, "command",
	    mt_json_string(m->cmdline ? m->cmdline : "", m->cmdline ? strlen(m->cmdline) : 0));
	json_object_object_add(root, "duration_ns", json_object_new_int64(m->duration_ns));
	json_object_object_add(root, "sample_every", json_object_new_int(m->sample_every));
	for (uint32_t i = 0; i < m->ncounters && i < MT_REC_COUNTERS; i++) {
		static const char *const keys[] = {
			"events",	  "sampled",	       "stack_collisions",
			"stack_map_full", "stack_errors",      "aggregate_full",
			"notes_lost",	  "untraced_children", "vma_lookup_failed",
			"inflight_full",  "allocs_full",       "free_unknown",
		};
		char key[64];

		if (i < sizeof(keys) / sizeof(keys[0])) {
			snprintf(key, sizeof(key), "%s", keys[i]);
		} else if (mt_counter_name(i)) {
			/* later counters are keyed by their name, spaces as '_' */
			snprintf(key, sizeof(key), "%s", mt_counter_name(i));
			for (char *c = key; *c; c++)
				if (*c == ' ')
					*c = '_';
		} else {
			continue;
		}
		json_object_object_add(lost, key, json_object_new_int64(m->counters[i]));
	}
	json_object_object_add(lost, "maps_missed", json_object_new_int64(m->maps_missed));
	json_object_object_add(root, "counters", lost);
	if (opts->base)
		json_object_object_add(root, "base",
				       mt_json_string(opts->base, strlen(opts->base)));

	for (uint32_t ev = 0; ev < MT_EV_NR; ev++) {
		struct json_object *e, *sites;
		size_t n = 0;

		if (!(opts->events & MT_EVMASK(ev)))
			continue;
		if (!(m->events & MT_EVMASK(ev)) && !(ev == MT_EV_MALLOC && m->malloc))
			continue;
		n = event_sites(t, ev, opts->base != NULL, order);
		e = json_object_new_object();
		sites = json_object_new_array();
		json_object_object_add(e, "event", json_object_new_string(mt_event_name(ev)));
		json_object_object_add(e, "total_bytes",
				       json_object_new_int64(prof->total_bytes[ev]));
		json_object_object_add(e, "total_count",
				       json_object_new_int64(prof->total_count[ev]));
		json_object_object_add(e, "class_bytes", class_json(order, n));
		for (size_t i = 0; i < n && i < opts->top; i++) {
			struct json_object *so = mt_frame_json(order[i]->frame);

			json_object_object_add(so, "bytes", json_object_new_int64(order[i]->bytes));
			json_object_object_add(so, "count", json_object_new_int64(order[i]->count));
			json_object_object_add(
			    so, "share",
			    json_object_new_double(prof->total_bytes[ev] > 0
						       ? (double)order[i]->bytes /
							     prof->total_bytes[ev]
						       : 0));
			if (opts->base)
				json_object_object_add(so, "base_bytes",
						       json_object_new_int64(order[i]->base_bytes));
			if (order[i]->caller)
				json_object_object_add(so, "caller",
						       mt_frame_json(order[i]->caller));
			json_object_array_add(sites, so);
		}
		json_object_object_add(e, "sites", sites);
		json_object_array_add(events, e);
	}
	json_object_object_add(root, "events", events);
	json_object_object_add(root, "short_stack_events",
			       json_object_new_int64(prof->short_events));
	json_object_object_add(root, "leaf_fixes", json_object_new_int64(prof->leaf_fixes));
	json_object_object_add(root, "leaf_callers_unknown",
			       json_object_new_int64(prof->leaf_unknown));
	json_object_object_add(root, "garbage_frames_cut",
			       json_object_new_int64(prof->garbage_frames));
	json_object_object_add(root, "captures", json_object_new_int64(prof->captures));
	json_object_object_add(root, "captures_incomplete",
			       json_object_new_int64(prof->incomplete_captures));
	{
		struct json_object *un = json_object_new_object();

		for (uint32_t ev = 0; ev < MT_EV_NR; ev++)
			json_object_object_add(un, mt_event_name(ev),
					       json_object_new_int64(prof->unsampled_bytes[ev]));
		json_object_object_add(root, "unsampled_bytes", un);
	}
	if (peak_view__json(pv, opts->top, root)) {
		json_object_put(root);
		free(order);
		return -ENOMEM;
	}
	fprintf(out, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
	json_object_put(root);
	free(order);
	return 0;
}

static struct recording *load(const char *path)
{
	char err[256];
	struct recording *rec = recording__read(path, err, sizeof(err));

	if (!rec)
		mt_err("cannot read %s: %s", path, err);
	return rec;
}

/* The report in the chosen format; prof->peak is set for the peak view. */
static int write_report(const struct report_opts *opts, const struct recording *rec,
			struct profile *prof, struct symbolizer *sym, struct keytab *sites,
			const struct peak_view *pv, FILE *out)
{
	int err = 0;

	switch (opts->format) {
	case FMT_TEXT:
		if (opts->peak)
			write_text_header(opts, rec, prof, sym, out);
		else
			err = write_text(opts, rec, prof, sym, sites, out);
		if (!err)
			err = peak_view__text(pv, opts->top, out);
		break;
	case FMT_JSON:
		err = write_json(opts, rec, prof, pv, sites, out);
		break;
	case FMT_FOLDED:
		err = flamegraph__write_folded(opts->peak ? prof->peak : prof, out);
		break;
	case FMT_SVG:
		err = flamegraph__write_svg(opts->peak ? prof->peak : prof, out, opts->input);
		break;
	case FMT_PPROF:
		err = pprof__write(prof, rec, out);
		break;
	}
	return err;
}

static int run_report(struct report_opts *opts)
{
	struct recording *rec = NULL, *base = NULL;
	struct symbolizer *sym = NULL, *base_sym = NULL;
	struct profile *prof = NULL, *base_prof = NULL;
	struct peak_view pv = {};
	struct keytab *sites = NULL;
	struct profile_opts popts = { .events = opts->events,
				      .pids = opts->pids,
				      .npids = opts->npids };
	struct outfile_opts oo = { .force = opts->force };
	struct outfile *of = NULL;
	FILE *out = stdout;
	int err = 0;

	if (dw_dl__open())
		return -ENOENT;
	/* refuse an existing -o target before the work, not after it */
	if (opts->output && !(of = outfile__open(opts->output, &oo))) {
		err = -errno;
		if (err == -EEXIST)
			mt_err("%s exists: refusing to overwrite it (use -f, or -o another file)",
			       opts->output);
		else
			mt_err("cannot create %s: %s", opts->output, strerror(-err));
		return err;
	}
	if (of)
		out = outfile__file(of);
	rec = load(opts->input);
	if (!rec) {
		outfile__abort(of);
		return -EINVAL;
	}
	if (opts->base && !(base = load(opts->base))) {
		err = -EINVAL;
		goto cleanup;
	}
	sym = symbolizer__new(rec);
	if (!sym) {
		err = -errno;
		mt_err("cannot set up symbolization: %s", strerror(-err));
		goto cleanup;
	}
	symbolizer__set_demangle(sym, !opts->no_demangle);
	prof = profile__build(rec, sym, &popts);
	if (!prof) {
		err = -errno;
		mt_err("cannot build the profile: %s", strerror(-err));
		goto cleanup;
	}
	if (base) {
		base_sym = symbolizer__new(base);
		if (base_sym)
			symbolizer__set_demangle(base_sym, !opts->no_demangle);
		base_prof = base_sym ? profile__build(base, base_sym, &popts) : NULL;
		if (!base_prof) {
			err = -ENOMEM;
			mt_err("cannot build the base profile: %s", strerror(ENOMEM));
			goto cleanup;
		}
	}
	if (!(sites = keytab__new(sizeof(struct site), 1024)))
		err = -ENOMEM;
	if (!err && base)
		err = add_sites(sites, base_prof, true);
	if (!err)
		err = add_sites(sites, prof, false);
	if (err) {
		mt_err("cannot aggregate call sites: %s", strerror(-err));
		goto cleanup;
	}
	/* the heap at its peak (--malloc): beside the end's view, never in a --diff */
	if (!base && (err = peak_view__build(&pv, rec, sym, &popts))) {
		mt_err("cannot build the peak view: %s", strerror(-err));
		goto cleanup;
	}
	if (opts->peak && !pv.images) {
		err = -ENODATA;
		mt_err("%s holds no heap peak: record with --malloc (by this memtrace or later)",
		       opts->input);
		goto cleanup;
	}
	/* pprof: a "peak" sample type of the moment all processes together peaked */
	prof->peak = pv.all && !opts->npids ? pv.all : pv.images;
	prof->lead_peak = opts->peak;
	err = write_report(opts, rec, prof, sym, sites, &pv, out);
	if (!err && !of && (fflush(out) || ferror(out)))
		err = -EIO;
	if (err)
		mt_err("cannot write the report: %s", strerror(-err));
cleanup:
	if (of && err) {
		outfile__abort(of);
	} else if (of && (err = outfile__commit(of))) {
		mt_err("cannot write %s: %s", opts->output, strerror(-err));
	}
	keytab__free(sites);
	peak_view__free(&pv);
	profile__free(prof);
	profile__free(base_prof);
	symbolizer__free(sym);
	symbolizer__free(base_sym);
	recording__free(rec);
	recording__free(base);
	return err;
}

enum {
	OPT_TOP = 0x100,
	OPT_EVENT,
	OPT_DIFF,
	OPT_FORMAT,
	OPT_NO_DEMANGLE,
	OPT_PEAK,
};

static const char report_doc[] =
    "Show which call sites grew memory, from a recording of memtrace record.\n"
    "\n"
    "usage: memtrace report [-i FILE] [--top N] [--pid PIDS] [--event LIST]\n"
    "         [--diff BASE.data] [--format text|json|folded|svg|pprof] [-o FILE [-f]]\n"
    "         [--no-demangle] [--peak]\n"
    "\n"
    "A call site is the innermost frame outside the C library, the dynamic\n"
    "loader and the vdso. Folded, SVG and pprof output weigh stacks in bytes.\n"
    "A --malloc recording also shows the heap at its peak: the moment the most\n"
    "bytes were outstanding, per process and overall, with the call sites\n"
    "holding them then (pprof: sample type peak).\n"
    "\n"
    "EXAMPLES:\n"
    "  memtrace report                   # memtrace.data, top 10 per event\n"
    "  memtrace report -i app.data --event fault --top 20\n"
    "  memtrace report --diff before.data -i after.data\n"
    "  memtrace report --format folded | flamegraph.pl > growth.svg\n"
    "  memtrace report --format svg -o growth.svg\n"
    "  memtrace report --peak --format folded | flamegraph.pl > peak.svg\n"
    "  memtrace report --format pprof -o g.pb.gz && go tool pprof -top g.pb.gz";

static const struct argp_option report_options[] = {
	{ "input", 'i', "FILE", 0, "Recording to read (default memtrace.data)", 0 },
	{ "top", OPT_TOP, "N", 0, "Call sites shown per event (default 10)", 0 },
	{ "pid", 'p', "PID[,PID...]", 0, "Only these processes", 0 },
	{ "event", OPT_EVENT, "LIST", 0, "Only these events: fault, mmap, brk, malloc", 0 },
	{ "diff", OPT_DIFF, "BASE", 0, "Growth relative to the recording BASE", 0 },
	{ "format", OPT_FORMAT, "FMT", 0, "text (default), json, folded, svg or pprof", 0 },
	{ "output", 'o', "FILE", 0, "Write to FILE instead of standard output", 0 },
	{ "no-demangle", OPT_NO_DEMANGLE, NULL, 0,
	  "Show C++ and Rust names as the symbol table has them", 0 },
	{ "force", 'f', NULL, 0, "Replace an existing -o FILE", 0 },
	{ "peak", OPT_PEAK, NULL, 0,
	  "The malloc heap at its peak instead of at the end (text: the peak view "
	  "only; folded, svg: its stacks; pprof: peak as default sample type)",
	  0 },
	{ "verbose", 'v', NULL, 0, "More diagnostics", 0 },
	{},
};

static int parse_event_list(const char *arg, uint32_t *mask)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	uint32_t m = 0;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	if (!*arg || arg[strlen(arg) - 1] == ',')
		err = -EINVAL;
	for (tok = strtok_r(copy, ",", &save); tok && !err; tok = strtok_r(NULL, ",", &save)) {
		int found = -1;

		for (uint32_t ev = 0; ev < MT_EV_NR; ev++)
			if (strcmp(tok, mt_event_name(ev)) == 0)
				found = ev;
		if (found < 0)
			err = -EINVAL;
		else
			m |= MT_EVMASK(found);
	}
	free(copy);
	if (!err)
		*mask = m;
	return err;
}

static error_t report_parse(int key, char *arg, struct argp_state *state)
{
	struct report_opts *opts = state->input;
	uint64_t v;

	switch (key) {
	case 'i':
		opts->input = arg;
		break;
	case OPT_TOP:
		if (parse_uint(arg, 1, 1000000, &v)) {
			mt_err("invalid --top '%s': expected a whole number from 1 to 1000000",
			       arg);
			argp_usage(state);
		}
		opts->top = v;
		break;
	case 'p':
		if (parse_pid_list(arg, opts->pids, MAX_PIDS, &opts->npids)) {
			mt_err("invalid --pid '%s': expected PIDs like 1234 or 1,2,3", arg);
			argp_usage(state);
		}
		break;
	case OPT_EVENT:
		if (parse_event_list(arg, &opts->events)) {
			mt_err("invalid --event '%s': expected a comma list of fault, mmap, brk, "
			       "malloc",
			       arg);
			argp_usage(state);
		}
		break;
	case OPT_DIFF:
		opts->base = arg;
		break;
	case OPT_FORMAT:
		if (strcmp(arg, "text") == 0)
			opts->format = FMT_TEXT;
		else if (strcmp(arg, "json") == 0)
			opts->format = FMT_JSON;
		else if (strcmp(arg, "folded") == 0)
			opts->format = FMT_FOLDED;
		else if (strcmp(arg, "svg") == 0)
			opts->format = FMT_SVG;
		else if (strcmp(arg, "pprof") == 0)
			opts->format = FMT_PPROF;
		else {
			mt_err("invalid --format '%s': expected text, json, folded, svg or pprof",
			       arg);
			argp_usage(state);
		}
		break;
	case 'o':
		opts->output = arg;
		break;
	case OPT_NO_DEMANGLE:
		opts->no_demangle = true;
		break;
	case 'f':
		opts->force = true;
		break;
	case OPT_PEAK:
		opts->peak = true;
		break;
	case 'v':
		mt_verbose++;
		break;
	case ARGP_KEY_ARG:
		mt_err("unexpected argument '%s' (the recording is given with -i)", arg);
		argp_usage(state);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int cmd_report(int argc, char **argv)
{
	struct report_opts *opts = calloc(1, sizeof(*opts));
	const struct argp argp = {
		report_options, report_parse, NULL, report_doc, NULL, NULL, NULL
	};
	int err;

	if (!opts) {
		mt_err("out of memory");
		return MT_EXIT_FAILURE;
	}
	opts->input = "memtrace.data";
	opts->top = 10;
	opts->events = MT_EVMASK(MT_EV_FAULT) | MT_EVMASK(MT_EV_MMAP) | MT_EVMASK(MT_EV_BRK) |
		       MT_EVMASK(MT_EV_MALLOC);
	argp_err_exit_status = MT_EXIT_USAGE;
	if (argp_parse(&argp, argc, argv, 0, NULL, opts)) {
		free(opts);
		return MT_EXIT_USAGE;
	}
	if (opts->peak && (opts->base || !(opts->events & MT_EVMASK(MT_EV_MALLOC)))) {
		mt_err("--peak is the malloc heap of one recording: not with --diff or an "
		       "--event list without malloc");
		free(opts);
		return MT_EXIT_USAGE;
	}
	err = run_report(opts);
	free(opts);
	return err ? MT_EXIT_FAILURE : MT_EXIT_OK;
}
