// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace run's output: a short human summary and the JSON report.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <json-c/json.h>
#include "json_util.h"
#include "outfile.h"
#include "sanitize.h"
#include "run.h"
#include "tracer.h"
#include "units.h"

#define SUMMARY_TOP_PROCS 5
#define SUMMARY_TOP_SITES 5

static const char *const loss_names[] = {
	"procs_map_full", "brk_base_unknown", "pid_reused_unreaped",
	"processes_lost", "faults_left_out",
};
_Static_assert(sizeof(loss_names) / sizeof(loss_names[0]) == MT_CNT_NR, "a name per counter");

static int cmp_peak(const void *a, const void *b, void *arg)
{
	const struct run_proc *all = arg;
	uint64_t pa = all[*(const size_t *)a].peak_bytes, pb = all[*(const size_t *)b].peak_bytes;

	return pa < pb ? 1 : pa > pb ? -1 : 0;
}

/* Indices of processes sorted by peak, largest first; NULL when out of memory. */
static size_t *by_peak(const struct run_procs *procs, size_t *count)
{
	const struct run_proc *all = run_procs__all(procs, count);
	size_t *order = malloc((*count ? *count : 1) * sizeof(*order));

	if (!order)
		return NULL;
	for (size_t i = 0; i < *count; i++)
		order[i] = i;
	qsort_r(order, *count, sizeof(*order), cmp_peak, (void *)all);
	return order;
}

static void describe_exit(char *buf, size_t len, const struct run_result *r)
{
	if (!r->started)
		snprintf(buf, len, "was not started");
	else if (WIFSIGNALED(r->wait_status))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(r->wait_status),
			 strsignal(WTERMSIG(r->wait_status)));
	else
		snprintf(buf, len, "exited %d", WEXITSTATUS(r->wait_status));
}

static void print_verdict(FILE *out, const struct run_result *r, const struct run_verdict *v)
{
	char lim[24], act[24];

	format_size(lim, sizeof(lim), v->limit_bytes);
	if (v->kind == RUN_MAX_GROWTH)
		format_size_delta(act, sizeof(act), v->actual_bytes);
	else
		format_size(act, sizeof(act), (uint64_t)v->actual_bytes);
	if (!v->measured) {
		fprintf(out, "  %-16s %-12s not measured (%s)\n", run_budget_option(v->kind), lim,
			v->kind == RUN_MAX_PSS ? "no smaps_rollup read completed: the command was "
						 "shorter than --reconcile"
					       : "the command ended before the baseline poll");
		return;
	}
	fprintf(out, "  %-16s %-12s %-5s %s", run_budget_option(v->kind), lim,
		v->over ? "OVER" : "ok", act);
	if (v->pid)
		fprintf(out, " (pid %u)", v->pid);
	fputc('\n', out);
}

/* The first event's sites of a `memtrace report --format json` text, or NULL. */
static struct json_object *report_sites(struct json_object *report, struct json_object **event)
{
	struct json_object *events, *ev, *sites;

	if (!json_object_object_get_ex(report, "events", &events) ||
	    !json_object_is_type(events, json_type_array) || !json_object_array_length(events))
		return NULL;
	ev = json_object_array_get_idx(events, 0);
	if (!json_object_object_get_ex(ev, "sites", &sites) ||
	    !json_object_is_type(sites, json_type_array))
		return NULL;
	if (event)
		*event = ev;
	return sites;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int64_t get_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static void print_sites(FILE *out, const char *json)
{
	struct json_object *report, *sites;
	char size[24];

	if (!json)
		return;
	report = json_tokener_parse(json);
	sites = report ? report_sites(report, NULL) : NULL;
	for (size_t i = 0; sites && i < json_object_array_length(sites) && i < SUMMARY_TOP_SITES;
	     i++) {
		struct json_object *site = json_object_array_get_idx(sites, i);
		const char *fn = get_str(site, "function"), *file = get_str(site, "file");
		const char *mod = get_str(site, "module");
		const char *base = file ? strrchr(file, '/') : NULL;

		fprintf(out, "    %10s  %s",
			format_size(size, sizeof(size), get_int(site, "bytes")),
			fn ? fn : "[unknown]");
		if (file)
			fprintf(out, " (%s:%lld)", base ? base + 1 : file,
				(long long)get_int(site, "line"));
		if (mod)
			fprintf(out, " [%s]", mod);
		fputc('\n', out);
	}
	json_object_put(report);
}

void run_print_summary(FILE *out, const struct run_result *r)
{
	const struct run_figures *f = r->fig;
	const struct run_proc *all;
	char a[24], b[24], c[24], d[24], how[96], safe[MT_COMM_LEN * MT_SANITIZE_GROWTH], cmd[256];
	size_t n, *order;

	describe_exit(how, sizeof(how), r);
	/* comm and argv are the traced program's bytes (prctl PR_SET_NAME): escaped */
	fprintf(out, "memtrace run: %s %s after %s (%s)\n",
		mt_safe_str(r->argv[0], cmd, sizeof(cmd)), how,
		format_duration(a, sizeof(a), r->duration_ns), r->mode);
	fprintf(out, "  peak rss    %s  %s pid %u, the largest of %zu processes\n",
		format_size(a, sizeof(a), f->proc_peak_bytes),
		mt_safe_str(f->proc_peak_comm, safe, sizeof(safe)), f->proc_peak_pid, f->nr_procs);
	fprintf(out, "  tree peak   %s\n", format_size(b, sizeof(b), f->tree_peak_bytes));
	if (f->have_growth)
		fprintf(out, "  growth      %s  (%s at the baseline, %s at the end)\n",
			format_size_delta(c, sizeof(c), f->growth_bytes),
			format_size(a, sizeof(a), f->tree_start_bytes),
			format_size(b, sizeof(b), f->tree_end_bytes));
	if (f->have_pss)
		fprintf(out, "  peak pss    %s  pid %u\n",
			format_size(d, sizeof(d), f->pss_peak_bytes), f->pss_peak_pid);
	if (!strcmp(r->mode, "bpf"))
		fprintf(out, "  faults      %llu\n", (unsigned long long)f->faults);

	all = run_procs__all(r->procs, &n);
	order = by_peak(r->procs, &n);
	if (order && n > 1) {
		fprintf(out, "  largest processes:\n");
		for (size_t i = 0; i < n && i < SUMMARY_TOP_PROCS; i++) {
			const struct run_proc *p = &all[order[i]];

			fprintf(out, "    %8u %-16s %s\n", p->pid,
				mt_safe_str(p->comm, safe, sizeof(safe)),
				format_size(a, sizeof(a), p->peak_bytes));
		}
	}
	free(order);

	if (r->caveat)
		fprintf(out, "  caveat: %s\n", r->caveat);
	for (size_t i = 0; i < r->nr_losses && i < sizeof(loss_names) / sizeof(loss_names[0]); i++)
		if (r->losses[i])
			fprintf(out, "  losses: %s %llu%s (figures may be low%s)\n", loss_names[i],
				(unsigned long long)r->losses[i],
				i == MT_LOST_PROCS	  ? " processes"
				: i == MT_DROP_PROCS_FULL ? " events"
				: i == MT_FAULTS_LEFT_OUT ? " faults"
							  : "",
				i == MT_FAULTS_LEFT_OUT ? ": a CPU's flush stayed under way"
							: "; raise --max-procs");
	if (r->nr_verdicts) {
		fprintf(out, "  budgets:\n");
		for (size_t i = 0; i < r->nr_verdicts; i++)
			print_verdict(out, r, &r->verdicts[i]);
	}
	if (r->attribution_note)
		fprintf(out, "  attribution: %s\n", r->attribution_note);
	print_sites(out, r->attribution_json);
	if (!r->nr_verdicts)
		fprintf(out, "  verdict: no budget given\n");
	else if (!r->nr_over)
		fprintf(out, "  verdict: within budget\n");
	else
		fprintf(out, "  verdict: OVER BUDGET (%zu exceeded)%s\n", r->nr_over,
			r->no_fail ? ", not failing (--no-fail)" : ", exit status 3");
}

static void add_u64(struct json_object *obj, const char *key, uint64_t v)
{
	json_object_object_add(obj, key, json_object_new_uint64(v));
}

static void add_s64(struct json_object *obj, const char *key, int64_t v)
{
	json_object_object_add(obj, key, json_object_new_int64(v));
}

static void add_str(struct json_object *obj, const char *key, const char *s)
{
	json_object_object_add(obj, key, s ? mt_json_string(s, strlen(s)) : NULL);
}

static struct json_object *verdict_json(const struct run_verdict *v)
{
	struct json_object *o = json_object_new_object();

	add_str(o, "budget", run_budget_name(v->kind));
	add_str(o, "option", run_budget_option(v->kind));
	add_u64(o, "limit_bytes", v->limit_bytes);
	json_object_object_add(o, "actual_bytes",
			       v->measured ? json_object_new_int64(v->actual_bytes) : NULL);
	if (v->pid)
		add_u64(o, "pid", v->pid);
	add_str(o, "verdict", !v->measured ? "not_measured" : v->over ? "over" : "ok");
	return o;
}

static struct json_object *procs_json(const struct run_procs *procs)
{
	struct json_object *arr = json_object_new_array();
	size_t n, *order = by_peak(procs, &n);
	const struct run_proc *all = run_procs__all(procs, &n);

	for (size_t i = 0; order && i < n; i++) {
		const struct run_proc *p = &all[order[i]];
		struct json_object *o = json_object_new_object();

		add_u64(o, "pid", p->pid);
		add_u64(o, "ppid", p->ppid);
		add_str(o, "comm", p->comm);
		add_u64(o, "peak_rss_bytes", p->peak_bytes);
		add_u64(o, "last_rss_bytes", p->last_rss_bytes);
		add_u64(o, "faults", p->faults);
		json_object_object_add(o, "peak_pss_bytes",
				       p->peak_pss_bytes ? json_object_new_uint64(p->peak_pss_bytes)
							 : NULL);
		json_object_object_add(o, "exited", json_object_new_boolean(p->exited));
		json_object_array_add(arr, o);
	}
	free(order);
	return arr;
}

static struct json_object *timeline_json(const struct run_timeline *tl)
{
	struct json_object *arr = json_object_new_array();
	size_t n;
	const struct run_point *pts = run_timeline__points(tl, &n);

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		add_u64(o, "t_ms", pts[i].t_ns / 1000000);
		add_u64(o, "tree_rss_bytes", pts[i].tree_bytes);
		add_u64(o, "tree_rss_max_bytes", pts[i].tree_max_bytes);
		add_u64(o, "processes", pts[i].nr_procs);
		json_object_array_add(arr, o);
	}
	return arr;
}

static struct json_object *build_report(const struct run_result *r)
{
	const struct run_figures *f = r->fig;
	struct json_object *root = json_object_new_object();
	struct json_object *argv = json_object_new_array();
	struct json_object *exit = json_object_new_object();
	struct json_object *budgets = json_object_new_array();
	struct json_object *peak = json_object_new_object();
	struct json_object *growth = json_object_new_object();

	for (size_t i = 0; r->argv[i]; i++)
		json_object_array_add(argv, mt_json_string(r->argv[i], strlen(r->argv[i])));
	json_object_object_add(root, "command", argv);
	add_str(root, "mode", r->mode);
	add_str(root, "caveat", r->caveat);
	if (r->attach)
		add_str(root, "attach", r->attach);

	add_s64(exit, "status", r->exit_status);
	if (r->started && WIFSIGNALED(r->wait_status)) {
		json_object_object_add(exit, "command_code", NULL);
		add_s64(exit, "command_signal", WTERMSIG(r->wait_status));
	} else {
		add_s64(exit, "command_code", r->started ? WEXITSTATUS(r->wait_status) : -1);
		json_object_object_add(exit, "command_signal", NULL);
	}
	json_object_object_add(root, "exit", exit);
	add_s64(root, "exit_status", r->exit_status);
	add_u64(root, "duration_ns", r->duration_ns);
	add_u64(root, "interval_ns", r->interval_ns);

	for (size_t i = 0; i < r->nr_verdicts; i++)
		json_object_array_add(budgets, verdict_json(&r->verdicts[i]));
	json_object_object_add(root, "budgets", budgets);
	add_str(root, "verdict", !r->nr_verdicts ? "no_budget" : r->nr_over ? "over" : "ok");
	json_object_object_add(root, "no_fail", json_object_new_boolean(r->no_fail));

	add_u64(peak, "process_rss_bytes", f->proc_peak_bytes);
	add_u64(peak, "process_pid", f->proc_peak_pid);
	add_str(peak, "process_comm", f->proc_peak_comm);
	add_u64(peak, "tree_rss_bytes", f->tree_peak_bytes);
	json_object_object_add(peak, "process_pss_bytes",
			       f->have_pss ? json_object_new_uint64(f->pss_peak_bytes) : NULL);
	json_object_object_add(root, "peak", peak);

	json_object_object_add(growth, "bytes",
			       f->have_growth ? json_object_new_int64(f->growth_bytes) : NULL);
	add_u64(growth, "baseline_bytes", f->tree_start_bytes);
	add_u64(growth, "end_bytes", f->tree_end_bytes);
	add_u64(growth, "warmup_ns", r->warmup_ns);
	add_str(growth, "scope", "tree");
	json_object_object_add(root, "growth", growth);

	if (!strcmp(r->mode, "bpf"))
		add_u64(root, "faults", f->faults);
	if (r->nr_losses) {
		struct json_object *losses = json_object_new_object();

		for (size_t i = 0;
		     i < r->nr_losses && i < sizeof(loss_names) / sizeof(loss_names[0]); i++)
			add_u64(losses, loss_names[i], r->losses[i]);
		json_object_object_add(root, "losses", losses);
	}
	json_object_object_add(root, "processes", procs_json(r->procs));
	add_u64(root, "timeline_stride", run_timeline__stride(r->timeline));
	json_object_object_add(root, "timeline", timeline_json(r->timeline));

	if (r->attribution_json || r->attribution_note) {
		struct json_object *a = json_object_new_object();
		struct json_object *report =
		    r->attribution_json ? json_tokener_parse(r->attribution_json) : NULL;
		struct json_object *ev = NULL, *sites = report ? report_sites(report, &ev) : NULL;

		add_str(a, "note", r->attribution_note);
		if (sites) {
			add_str(a, "event", get_str(ev, "event"));
			add_s64(a, "total_bytes", get_int(ev, "total_bytes"));
			json_object_object_add(a, "sites", json_object_get(sites));
		}
		json_object_put(report);
		json_object_object_add(root, "attribution", a);
	}
	return root;
}

int run_write_report(const char *path, bool force, const struct run_result *r)
{
	struct outfile_opts oo = { .force = force };
	struct json_object *root = build_report(r);
	struct outfile *out;
	int err;

	if (!root)
		return -ENOMEM;
	out = outfile__open(path, &oo);
	if (!out) {
		err = -errno;
		json_object_put(root);
		return err;
	}
	if (fprintf(outfile__file(out), "%s\n",
		    json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY)) < 0) {
		outfile__abort(out);
		err = -EIO;
	} else {
		err = outfile__commit(out);
	}
	json_object_put(root);
	return err;
}
