// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace run --attribute: the stacks object is loaded in run's own
 * process through the loader of `record` (stacks_api.h), follows the
 * command's tree, and its recording stays in memory: at the end the
 * page-fault call sites of the process that broke a budget are named from
 * it. Nothing is written to disk, so nothing is left behind whatever
 * kills run; run's own memory is not traced (only the command's tree is).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "dw_dl.h"
#include "hashmap.h"
#include "json_util.h"
#include "log.h"
#include "profile.h"
#include "run.h"
#include "stacks_api.h"
#include "symbolize.h"

#define SITES_TOP 10

struct run_attribution {
	struct recording *rec;
	struct stacks *stacks;
	bool harvested;
	char *json;
	char note[512];
};

struct run_attribution *run_attribution__new(void)
{
	/* it names its sites at the end with libdw: refused before the run without it */
	struct run_attribution *a = dw_dl__open() ? NULL : calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->rec = recording__new();
	if (!a->rec) {
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	return a;
}

void run_attribution__free(struct run_attribution *a)
{
	if (!a)
		return;
	stacks__free(a->stacks);
	recording__free(a->rec);
	free(a->json);
	free(a);
}

int run_attribution__start(struct run_attribution *a, pid_t target)
{
	const struct stacks_opts opts = { .follow_forks = true };
	int err;

	a->stacks = stacks__new(&opts, a->rec);
	if (!a->stacks) {
		err = -errno;
		mt_err("cannot record call stacks for --attribute (run without it to check budgets "
		       "only)");
		return err;
	}
	err = stacks__track(a->stacks, target);
	if (err)
		mt_err("cannot record call stacks of process %d: %s", target, strerror(-err));
	return err;
}

int run_attribution__fd(const struct run_attribution *a)
{
	return a->stacks ? stacks__poll_fd(a->stacks) : -1;
}

void run_attribution__poll(struct run_attribution *a)
{
	int err = a->stacks ? stacks__poll(a->stacks, 0 /* ms */) : 0;

	if (err)
		mt_warn("cannot read the call-stack notes: %s", strerror(-err));
}

void run_attribution__finish(struct run_attribution *a)
{
	struct mt_rec_meta meta = { .sample_every = 1 };
	uint64_t counters[MT_SC_NR];
	int err;

	if (!a->stacks)
		return;
	err = stacks__harvest(a->stacks);
	if (!err)
		err = stacks__counters(a->stacks, counters);
	if (!err) {
		meta.events = MT_EVMASK(MT_EV_FAULT) | MT_EVMASK(MT_EV_MMAP) | MT_EVMASK(MT_EV_BRK);
		meta.ncounters = MT_SC_NR;
		memcpy(meta.counters, counters, sizeof(counters));
		err = recording__set_meta(a->rec, &meta);
	}
	if (err) {
		mt_warn("cannot collect the call stacks: %s", strerror(-err));
		return;
	}
	a->harvested = true;
	/* the maps and programs go now: the rest of run does not need them */
	stacks__free(a->stacks);
	a->stacks = NULL;
}

/*
 * One call site: sites are keyed as report.c keys them (module and
 * function, or module and offset without a symbol), so that the names and
 * bytes are the ones `memtrace report --event fault` gives.
 */
struct site {
	char key[512];
	const struct mt_frame *frame, *caller;
	int64_t bytes, heaviest;
	uint64_t count;
};

static void site_key(const struct mt_frame *f, char *buf, size_t len)
{
	if (f->func)
		snprintf(buf, len, "%s|%s", f->module, f->func);
	else
		snprintf(buf, len, "%s|0x%" PRIx64, f->module, f->mod_off);
}

static int by_bytes(const void *x, const void *y)
{
	const struct site *a = *(const struct site *const *)x, *b = *(const struct site *const *)y;

	if (a->bytes != b->bytes)
		return (b->bytes > a->bytes) - (b->bytes < a->bytes);
	return strcmp(a->key, b->key);
}

/* Sites of prof's stacks by call site, heaviest first; *out owned by the caller. */
static int collect_sites(const struct profile *prof, struct site ***out, size_t *n)
{
	struct hashmap *by_key = hashmap__new(hashmap_hash_str, hashmap_equal_str, NULL, 256);
	struct site **order = NULL;
	size_t cursor = 0;
	uintptr_t v;
	int err = by_key ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < prof->n; i++) {
		const struct mt_pstack *ps = &prof->stacks[i];
		const struct mt_frame *f = &ps->frames[ps->site];
		struct site probe, *s;

		site_key(f, probe.key, sizeof(probe.key));
		if (hashmap__find(by_key, (uintptr_t)probe.key, &v)) {
			s = (struct site *)v;
		} else {
			s = calloc(1, sizeof(*s));
			if (!s || hashmap__add(by_key, (uintptr_t)s->key, (uintptr_t)s)) {
				free(s);
				err = -ENOMEM;
				break;
			}
			memcpy(s->key, probe.key, sizeof(s->key));
		}
		s->bytes += ps->bytes;
		s->count += ps->count;
		/* show the heaviest stack's offset and caller */
		if (!s->frame || ps->bytes > s->heaviest) {
			s->heaviest = ps->bytes;
			s->frame = f;
			s->caller = ps->site + 1 < ps->nframes ? &ps->frames[ps->site + 1] : NULL;
		}
	}
	*n = hashmap__size(by_key);
	order = calloc(*n ? *n : 1, sizeof(*order));
	if (!order)
		err = -ENOMEM;
	*n = 0;
	while (hashmap__next(by_key, &cursor, NULL, &v)) {
		if (order)
			order[(*n)++] = (struct site *)v;
		else
			free((void *)v);
	}
	hashmap__free(by_key);
	if (order)
		qsort(order, *n, sizeof(*order), by_bytes);
	*out = order;
	return err;
}

/* The report's JSON shape: {"events": [{"event": "fault", ..., "sites": [...]}]}. */
static char *sites_json(const struct profile *prof, struct site **order, size_t n)
{
	struct json_object *root = json_object_new_object(), *events = json_object_new_array();
	struct json_object *e = json_object_new_object(), *sites = json_object_new_array();
	int64_t total = prof->total_bytes[MT_EV_FAULT];
	char *text;

	json_object_object_add(e, "event", json_object_new_string(mt_event_name(MT_EV_FAULT)));
	json_object_object_add(e, "total_bytes", json_object_new_int64(total));
	json_object_object_add(e, "total_count",
			       json_object_new_int64(prof->total_count[MT_EV_FAULT]));
	for (size_t i = 0; i < n && i < SITES_TOP; i++) {
		struct json_object *so = mt_frame_json(order[i]->frame);

		json_object_object_add(so, "bytes", json_object_new_int64(order[i]->bytes));
		json_object_object_add(so, "count", json_object_new_int64(order[i]->count));
		json_object_object_add(
		    so, "share",
		    json_object_new_double(total > 0 ? (double)order[i]->bytes / total : 0));
		if (order[i]->caller)
			json_object_object_add(so, "caller", mt_frame_json(order[i]->caller));
		json_object_array_add(sites, so);
	}
	json_object_object_add(e, "sites", sites);
	json_object_array_add(events, e);
	json_object_object_add(root, "events", events);
	text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return text;
}

/* The page-fault call sites of pid (0: every process) as JSON into a->json. 0 or -errno. */
static int name_sites(struct run_attribution *a, uint32_t pid)
{
	int pids[1] = { (int)pid };
	struct profile_opts popts = { .events = MT_EVMASK(MT_EV_FAULT),
				      .pids = pids,
				      .npids = pid ? 1 : 0 };
	struct symbolizer *sym = symbolizer__new(a->rec);
	struct profile *prof = NULL;
	struct site **order = NULL;
	size_t n = 0;
	int err;

	if (!sym)
		return -errno;
	prof = profile__build(a->rec, sym, &popts);
	err = prof ? collect_sites(prof, &order, &n) : -errno;
	if (!err) {
		a->json = sites_json(prof, order, n);
		if (!a->json)
			err = -ENOMEM;
	}
	for (size_t i = 0; order && i < n; i++)
		free(order[i]);
	free(order);
	profile__free(prof);
	symbolizer__free(sym);
	return err;
}

void run_attribution__resolve(struct run_attribution *a, const struct run_verdict *v, size_t nr,
			      const struct run_figures *fig, const char **json, const char **note)
{
	const struct run_verdict *over = NULL;
	uint32_t pid;
	int err;

	*json = NULL;
	*note = a->note;
	for (size_t i = 0; i < nr && !over; i++)
		if (v[i].over)
			over = &v[i];
	if (!a->harvested) {
		snprintf(a->note, sizeof(a->note),
			 "no call stacks were recorded (see the messages "
			 "above)");
		return;
	}
	/* per-process budgets name their process; tree budgets are the whole tree's doing */
	if (over)
		pid = over->kind == RUN_MAX_RSS || over->kind == RUN_MAX_PSS ? over->pid : 0;
	else
		pid = fig->proc_peak_pid;
	err = name_sites(a, pid);
	if (err) {
		snprintf(a->note, sizeof(a->note), "cannot name the call sites: %s",
			 strerror(-err));
		return;
	}
	if (pid)
		snprintf(a->note, sizeof(a->note), "page-fault call sites of pid %u (%s)", pid,
			 over ? "it broke the budget" : "no budget broken: the largest process");
	else
		snprintf(a->note, sizeof(a->note),
			 "page-fault call sites of the whole tree (a tree "
			 "budget was broken)");
	*json = a->json;
}
