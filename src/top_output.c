// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "top.h"
#include "json_util.h"
#include "units.h"

static const struct {
	const char *name;
	enum top_sort key;
} sort_keys[] = {
	{ "growth", TOP_SORT_GROWTH }, { "rss", TOP_SORT_RSS },	      { "pss", TOP_SORT_PSS },
	{ "swap", TOP_SORT_SWAP },     { "faults", TOP_SORT_FAULTS }, { "mapped", TOP_SORT_MAPPED },
	{ "pid", TOP_SORT_PID },       { "comm", TOP_SORT_COMM },
};

int top_sort_parse(const char *text, enum top_sort *out)
{
	for (size_t i = 0; i < sizeof(sort_keys) / sizeof(sort_keys[0]); i++)
		if (strcmp(text, sort_keys[i].name) == 0) {
			*out = sort_keys[i].key;
			return 0;
		}
	return -EINVAL;
}

static enum top_sort sort_key;

static int compare_entries(const void *pa, const void *pb)
{
	const struct top_entry *a = pa, *b = pb;
	int c;

	if (sort_key == TOP_SORT_COMM) {
		c = strncmp(a->comm, b->comm, MT_COMM_LEN);
		if (c)
			return c;
	}
	if (a->key != b->key)
		return a->key < b->key ? 1 : -1;
	if (a->key2 != b->key2)
		return a->key2 < b->key2 ? 1 : -1;
	return a->pid < b->pid ? -1 : a->pid > b->pid;
}

void top_sort_entries(struct top_entry *entries, size_t n, enum top_sort key)
{
	sort_key = key;
	qsort(entries, n, sizeof(*entries), compare_entries);
}

static void add_u64(struct json_object *obj, const char *key, uint64_t v)
{
	json_object_object_add(obj, key, json_object_new_uint64(v));
}

static void add_s64(struct json_object *obj, const char *key, int64_t v)
{
	json_object_object_add(obj, key, json_object_new_int64(v));
}

static void add_opt_u64(struct json_object *obj, const char *key, bool have, uint64_t v)
{
	json_object_object_add(obj, key, have ? json_object_new_uint64(v) : NULL);
}

static struct json_object *row_json(const struct top_row *r, const struct top_summary *s)
{
	struct json_object *obj = json_object_new_object();

	json_object_object_add(obj, "type", json_object_new_string("process"));
	add_u64(obj, "ts_ns", s->ts_ns);
	add_u64(obj, "pid", r->pid);
	add_u64(obj, "ppid", r->ppid);
	json_object_object_add(obj, "comm", mt_json_string(r->comm, strnlen(r->comm, MT_COMM_LEN)));
	add_u64(obj, "rss_bytes", r->rss_bytes);
	add_s64(obj, "rss_delta_bytes", r->rss_delta_bytes);
	add_s64(obj, "rss_growth_bytes", r->growth_bytes);
	add_u64(obj, "rss_anon_bytes", r->rss_anon_bytes);
	add_u64(obj, "rss_file_bytes", r->rss_file_bytes);
	add_u64(obj, "rss_shmem_bytes", r->rss_shmem_bytes);
	add_u64(obj, "swap_bytes", r->swap_bytes);
	add_u64(obj, "rss_peak_bytes", r->rss_peak_bytes);
	add_u64(obj, "faults", r->faults);
	add_u64(obj, "thp_faults", r->thp_faults);
	add_u64(obj, "faults_delta", r->faults_delta);
	add_u64(obj, "mmap_calls", r->mmap_calls);
	add_u64(obj, "mmap_bytes", r->mmap_bytes);
	add_u64(obj, "munmap_calls", r->munmap_calls);
	add_u64(obj, "munmap_bytes", r->munmap_bytes);
	add_u64(obj, "mremap_calls", r->mremap_calls);
	add_u64(obj, "mremap_grow_bytes", r->mremap_grow_bytes);
	add_u64(obj, "mremap_shrink_bytes", r->mremap_shrink_bytes);
	add_u64(obj, "brk_calls", r->brk_calls);
	add_s64(obj, "brk_bytes", r->brk_bytes);
	add_u64(obj, "mapped_delta_bytes", r->mapped_delta_bytes);
	add_u64(obj, "unmapped_delta_bytes", r->unmapped_delta_bytes);
	add_opt_u64(obj, "pss_bytes", r->have_smaps, r->pss_bytes);
	add_opt_u64(obj, "private_bytes", r->have_smaps, r->private_bytes);
	add_opt_u64(obj, "swap_pss_bytes", r->have_smaps, r->swap_pss_bytes);
	add_opt_u64(obj, "smaps_rss_bytes", r->have_smaps, r->smaps_rss_bytes);
	add_opt_u64(obj, "drift_bytes", r->have_smaps, r->drift_bytes);
	add_opt_u64(obj, "smaps_age_ns", r->have_smaps, r->smaps_age_ns);
	json_object_object_add(obj, "corrected", json_object_new_boolean(r->corrected));
	add_opt_u64(obj, "correction_age_ns", r->corrected, r->correction_age_ns);
	json_object_object_add(obj, "exited", json_object_new_boolean(r->exited));
	return obj;
}

static const char *const loss_names[MT_CNT_NR] = {
	[MT_DROP_PROCS_FULL] = "procs_map_full",
	[MT_DROP_BRK_UNSEEN] = "brk_base_unknown",
	[MT_DROP_REUSED_UNREAPED] = "pid_reused_before_read",
	[MT_LOST_PROCS] = "processes_lost",
	[MT_FAULTS_LEFT_OUT] = "faults_left_out",
};

static struct json_object *summary_json(const struct top_summary *s)
{
	struct json_object *obj = json_object_new_object();
	struct json_object *drops = json_object_new_object();
	struct json_object *bpf = json_object_new_object();
	struct json_object *progs = json_object_new_array();
	struct json_object *smaps = json_object_new_object();

	json_object_object_add(obj, "type", json_object_new_string("summary"));
	add_u64(obj, "ts_ns", s->ts_ns);
	add_u64(obj, "interval_ns", s->interval_ns);
	add_u64(obj, "iteration", s->iteration);
	add_u64(obj, "procs", s->nr_procs);
	add_u64(obj, "exited", s->nr_exited);
	add_u64(obj, "max_procs", s->max_procs);
	for (int i = 0; i < MT_CNT_NR; i++)
		add_u64(drops, loss_names[i], s->losses[i]);
	json_object_object_add(obj, "drops", drops);

	json_object_object_add(bpf, "stats_enabled",
			       json_object_new_boolean(s->cost.stats_enabled));
	json_object_object_add(bpf, "sampled_fraction",
			       json_object_new_double(s->cost.sampled_fraction));
	add_u64(bpf, "events_sampled", s->cost.total_run_cnt);
	add_u64(bpf, "run_time_ns_sampled", s->cost.total_run_time_ns);
	add_u64(bpf, "ns_per_event",
		s->cost.total_run_cnt ? s->cost.total_run_time_ns / s->cost.total_run_cnt : 0);
	/* the whole run's BPF time, extrapolated from the sampled windows */
	add_u64(bpf, "run_time_ns_estimated",
		s->cost.sampled_fraction > 0
		    ? (uint64_t)(s->cost.total_run_time_ns / s->cost.sampled_fraction)
		    : 0);
	for (size_t i = 0; i < s->cost.nr_progs; i++) {
		const struct tracer_prog_cost *pc = &s->cost.progs[i];
		struct json_object *p = json_object_new_object();

		json_object_object_add(p, "name", json_object_new_string(pc->name));
		json_object_object_add(p, "attach", json_object_new_string(pc->attach));
		add_u64(p, "events_sampled", pc->run_cnt);
		add_u64(p, "run_time_ns_sampled", pc->run_time_ns);
		add_u64(p, "ns_per_event", pc->run_cnt ? pc->run_time_ns / pc->run_cnt : 0);
		json_object_array_add(progs, p);
	}
	json_object_object_add(bpf, "programs", progs);
	json_object_object_add(obj, "bpf", bpf);

	add_u64(smaps, "reads", s->smaps.reads);
	add_u64(smaps, "read_time_ns", s->smaps.read_time_ns);
	add_u64(smaps, "max_read_ns", s->smaps.max_read_ns);
	add_u64(smaps, "queue_full", s->smaps.queue_full);
	json_object_object_add(obj, "smaps", smaps);

	add_u64(obj, "poll_cpu_ns", s->poll_cpu_ns);
	add_u64(obj, "loader_rss_bytes", s->loader_rss_bytes);
	return obj;
}

static int emit(FILE *out, struct json_object *obj)
{
	int err = fprintf(out, "%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));

	json_object_put(obj);
	return err < 0 ? -EIO : 0;
}

int top_print_json_row(FILE *out, const struct top_row *row, const struct top_summary *s)
{
	return emit(out, row_json(row, s));
}

int top_print_json_summary(FILE *out, const struct top_summary *s)
{
	int err = emit(out, summary_json(s));

	fflush(out);
	return err;
}

/* Terminal names may hold control bytes: show them as '?', never raw. */
static void printable_comm(const char *comm, char *out)
{
	size_t i;

	for (i = 0; i < MT_COMM_LEN - 1 && comm[i]; i++)
		out[i] = (unsigned char)comm[i] < 0x20 || comm[i] == 0x7f ? '?' : comm[i];
	out[i] = '\0';
}

const char *top_format_swap(char *buf, size_t len, const struct top_row *r)
{
	size_t n;

	format_size(buf, len - 1, r->have_smaps ? r->swap_pss_bytes : r->swap_bytes);
	n = strlen(buf);
	buf[n] = r->have_smaps ? ' ' : '~';
	buf[n + 1] = '\0';
	return buf;
}

uint64_t top_row_swap(const struct top_row *r)
{
	return r->have_smaps ? r->swap_pss_bytes : r->swap_bytes;
}

int top_print_table_header(FILE *out, const struct top_summary *s, bool clear_screen)
{
	char a[24], b[24], dur[24];
	uint64_t drops = 0;

	for (int i = 0; i < MT_CNT_NR; i++)
		if (i != MT_LOST_PROCS) /* processes, not events */
			drops += s->losses[i];
	if (clear_screen)
		fputs("\033[H\033[2J", out);
	fprintf(out,
		"memtrace top: %zu processes, interval %s, drops %llu, bpf %llu ns/event, "
		"smaps %llu reads in %s, poll cpu %s\n",
		s->nr_procs, format_duration(dur, sizeof(dur), s->interval_ns),
		(unsigned long long)drops,
		(unsigned long long)(s->cost.total_run_cnt
					 ? s->cost.total_run_time_ns / s->cost.total_run_cnt
					 : 0),
		(unsigned long long)s->smaps.reads,
		format_duration(a, sizeof(a), s->smaps.read_time_ns),
		format_duration(b, sizeof(b), s->poll_cpu_ns));
	fprintf(out, "%7s %-15s %10s %11s %10s %10s %10s %10s %9s %10s %10s %10s\n", "PID",
		"COMMAND", "RSS", "dRSS", "ANON", "FILE", "SHMEM", "SWAP", "FAULTS/s", "MAPPED",
		"UNMAPPED", "PSS");
	return ferror(out) ? -EIO : 0;
}

int top_print_table_row(FILE *out, const struct top_row *r)
{
	char a[24], b[24], c[24], d[24], e[24], f[24], g[24], h[24], k[24];
	char comm[MT_COMM_LEN];

	printable_comm(r->comm, comm);
	fprintf(out, "%7u %-15s %10s %11s %10s %10s %10s %10s %9.0f %10s %10s %10s%s\n", r->pid,
		comm, format_size(a, sizeof(a), r->rss_bytes),
		format_size_delta(b, sizeof(b), r->rss_delta_bytes),
		format_size(c, sizeof(c), r->rss_anon_bytes),
		format_size(d, sizeof(d), r->rss_file_bytes),
		format_size(e, sizeof(e), r->rss_shmem_bytes), top_format_swap(f, sizeof(f), r),
		r->faults_per_sec, format_size(g, sizeof(g), r->mapped_delta_bytes),
		format_size(h, sizeof(h), r->unmapped_delta_bytes),
		r->have_smaps ? format_size(k, sizeof(k), r->pss_bytes) : "-",
		r->exited ? " (exited)" : "");
	return ferror(out) ? -EIO : 0;
}

int top_print_table_footer(FILE *out, size_t shown, size_t total, bool clear_screen)
{
	if (shown < total)
		fprintf(out, "... %zu more (use --json for all)\n", total - shown);
	if (!clear_screen)
		fputc('\n', out);
	fflush(out);
	return ferror(out) ? -EIO : 0;
}
