// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus text and OpenMetrics rendering of serve's figures. The formats
 * are small enough that a library (there is none in Debian for C) would
 * not pay for itself; promtool checks the output in tests/cli/test_serve.sh.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "metrics.h"

enum metrics_format metrics_format_for_accept(const char *accept)
{
	static const char om[] = "application/openmetrics-text";
	const char *p = accept;

	/* media ranges separated by ',', parameters by ';': "type;version=1.0.0;q=0.5" */
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *q;

		while (len && (*p == ' ' || *p == '\t'))
			p++, len--;
		if (len >= sizeof(om) - 1 && strncasecmp(p, om, sizeof(om) - 1) == 0 &&
		    (len == sizeof(om) - 1 || p[sizeof(om) - 1] == ';' ||
		     p[sizeof(om) - 1] == ' ')) {
			q = strstr(p, ";q=");
			if (!q || q >= p + len)
				q = strstr(p, "; q=");
			/* q=0 means "not this one" */
			if (!q || q >= p + len || strtod(strchr(q, '=') + 1, NULL) > 0)
				return METRICS_OPENMETRICS;
		}
		p = end ? end + 1 : NULL;
	}
	return METRICS_PROMETHEUS;
}

/* Length of the valid UTF-8 sequence at s (of n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int metrics_write_label_value(FILE *out, const char *value)
{
	const unsigned char *s = (const unsigned char *)value;
	size_t n = strlen(value);

	fputc('"', out);
	while (n) {
		size_t len = utf8_len(s, n);

		if (!len) {
			fputs("\xef\xbf\xbd", out); /* U+FFFD REPLACEMENT CHARACTER */
			len = 1;
		} else if (*s == '\\') {
			fputs("\\\\", out);
		} else if (*s == '"') {
			fputs("\\\"", out);
		} else if (*s == '\n') {
			fputs("\\n", out);
		} else {
			fwrite(s, 1, len, out);
		}
		s += len;
		n -= len;
	}
	fputc('"', out);
	return ferror(out) ? -EIO : 0;
}

struct render {
	FILE *out;
	enum metrics_format fmt;
	const struct metrics_self *self;
};

enum family_type { GAUGE, COUNTER };

/* base: the family name; a counter's samples (and its Prometheus family) add _total */
static void family(struct render *r, const char *base, enum family_type type, const char *help)
{
	const char *suffix = type == COUNTER && r->fmt == METRICS_PROMETHEUS ? "_total" : "";
	const char *tname = type == COUNTER ? "counter" : "gauge";

	fprintf(r->out, "# HELP %s%s %s\n# TYPE %s%s %s\n", base, suffix, help, base, suffix,
		tname);
}

static const char *sample_suffix(enum family_type type)
{
	return type == COUNTER ? "_total" : "";
}

/* the group's labels, then one more (extra_name NULL: none) */
static void group_labels(struct render *r, const struct metrics_group *g, const char *extra_name,
			 const char *extra_value)
{
	fprintf(r->out, "{%s=", r->self->group_by);
	metrics_write_label_value(r->out, g->label);
	if (g->pid)
		fprintf(r->out, ",pid=\"%" PRIu32 "\"", g->pid);
	if (extra_name) {
		fprintf(r->out, ",%s=", extra_name);
		metrics_write_label_value(r->out, extra_value);
	}
	fputc('}', r->out);
}

static void group_u64(struct render *r, const char *base, enum family_type type,
		      const struct metrics_group *g, const char *extra_name,
		      const char *extra_value, uint64_t value)
{
	fprintf(r->out, "%s%s", base, sample_suffix(type));
	group_labels(r, g, extra_name, extra_value);
	fprintf(r->out, " %" PRIu64 "\n", value);
}

static void plain_u64(struct render *r, const char *base, enum family_type type, const char *help,
		      uint64_t value)
{
	family(r, base, type, help);
	fprintf(r->out, "%s%s %" PRIu64 "\n", base, sample_suffix(type), value);
}

static void plain_double(struct render *r, const char *base, enum family_type type,
			 const char *help, double value)
{
	family(r, base, type, help);
	fprintf(r->out, "%s%s %.9g\n", base, sample_suffix(type), value);
}

/* field of struct metrics_group read by offset: one loop per family */
#define GROUP_FIELD(field) offsetof(struct metrics_group, field)

static uint64_t field_of(const struct metrics_group *g, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)g + off, sizeof(v));
	return v;
}

struct group_family {
	const char *base;
	enum family_type type;
	size_t off;
	bool smaps; /* only for groups with have_smaps */
	const char *help;
};

static const struct group_family group_families[] = {
	{ "memtrace_resident_peak_bytes", GAUGE, GROUP_FIELD(resident_peak_bytes), false,
	  "Highest resident bytes: of one member (kernel peak), or of the group's sum at a poll" },
	{ "memtrace_swap_bytes", GAUGE, GROUP_FIELD(swap_bytes), false,
	  "Bytes swapped out, from the kernel's swap entry counter" },
	{ "memtrace_pss_bytes", GAUGE, GROUP_FIELD(pss_bytes), true,
	  "Proportional set size from smaps_rollup (hugetlb included)" },
	{ "memtrace_uss_bytes", GAUGE, GROUP_FIELD(uss_bytes), true,
	  "Unique (private) bytes from smaps_rollup (hugetlb included)" },
	{ "memtrace_swap_pss_bytes", GAUGE, GROUP_FIELD(swap_pss_bytes), true,
	  "Proportional swap from smaps_rollup (SwapPss, or Swap on old kernels)" },
	{ "memtrace_page_faults", COUNTER, GROUP_FIELD(page_faults), false,
	  "User page faults since tracing started (exited members included)" },
	{ "memtrace_mapped_bytes", COUNTER, GROUP_FIELD(mapped_bytes), false,
	  "Bytes asked of successful mmap() calls (exited members included)" },
	{ "memtrace_unmapped_bytes", COUNTER, GROUP_FIELD(unmapped_bytes), false,
	  "Bytes given to successful munmap() calls (exited members included)" },
};

static void render_groups(struct render *r, const struct metrics_group *groups, size_t n)
{
	static const char *const types[] = { "anon", "file", "shmem" };

	family(r, "memtrace_resident_bytes", GAUGE,
	       "Resident bytes by type, from the kernel's mm counters (kmem:rss_stat)");
	for (size_t i = 0; i < n; i++) {
		const uint64_t v[] = { groups[i].resident_anon_bytes, groups[i].resident_file_bytes,
				       groups[i].resident_shmem_bytes };

		for (size_t t = 0; t < 3; t++)
			group_u64(r, "memtrace_resident_bytes", GAUGE, &groups[i], "type", types[t],
				  v[t]);
	}
	for (size_t f = 0; f < sizeof(group_families) / sizeof(group_families[0]); f++) {
		const struct group_family *gf = &group_families[f];

		family(r, gf->base, gf->type, gf->help);
		for (size_t i = 0; i < n; i++)
			if (!gf->smaps || groups[i].have_smaps)
				group_u64(r, gf->base, gf->type, &groups[i], NULL, NULL,
					  field_of(&groups[i], gf->off));
	}
	family(r, "memtrace_processes", GAUGE, "Live processes in the group");
	for (size_t i = 0; i < n; i++)
		group_u64(r, "memtrace_processes", GAUGE, &groups[i], NULL, NULL,
			  groups[i].processes);
}

static void render_self(struct render *r)
{
	static const char *const reasons[MT_CNT_NR] = {
		[MT_DROP_PROCS_FULL] = "procs_table_full",
		[MT_DROP_BRK_UNSEEN] = "brk_base_unknown",
		[MT_DROP_REUSED_UNREAPED] = "pid_reused_unreaped",
		[MT_LOST_PROCS] = "processes_lost",
		[MT_FAULTS_LEFT_OUT] = "faults_left_out",
	};
	const struct metrics_self *s = r->self;

	family(r, "memtrace_dropped_events", COUNTER,
	       "Events the kernel side could not count, by reason");
	for (size_t i = 0; i < MT_CNT_NR; i++)
		fprintf(r->out, "memtrace_dropped_events_total{reason=\"%s\"} %" PRIu64 "\n",
			reasons[i], s->dropped[i]);
	plain_u64(r, "memtrace_smaps_queue_full", COUNTER,
		  "smaps_rollup reads put off because the reader's queue was full",
		  s->smaps_queue_full);
	if (s->bpf_stats) {
		family(r, "memtrace_bpf_run_seconds", COUNTER,
		       "Time in memtrace's BPF programs, estimated from sampled BPF statistics");
		for (size_t i = 0; i < s->nr_progs; i++) {
			fprintf(r->out, "memtrace_bpf_run_seconds_total{program=");
			metrics_write_label_value(r->out, s->progs[i].name);
			fprintf(r->out, "} %.9g\n", s->progs[i].run_seconds);
		}
		family(r, "memtrace_bpf_runs", COUNTER,
		       "Runs of memtrace's BPF programs, estimated from sampled BPF statistics");
		for (size_t i = 0; i < s->nr_progs; i++) {
			fprintf(r->out, "memtrace_bpf_runs_total{program=");
			metrics_write_label_value(r->out, s->progs[i].name);
			fprintf(r->out, "} %" PRIu64 "\n", s->progs[i].runs);
		}
	}
	plain_u64(r, "memtrace_smaps_reads", COUNTER, "smaps_rollup reads done", s->smaps_reads);
	plain_double(r, "memtrace_smaps_read_seconds", COUNTER,
		     "Wall time spent reading smaps_rollup (on the reader thread)",
		     s->smaps_read_seconds);
	plain_u64(r, "memtrace_smaps_pending_processes", GAUGE,
		  "Live processes without a smaps_rollup reading yet (their groups have no PSS)",
		  s->smaps_pending);
	plain_u64(r, "memtrace_polls", COUNTER, "Polls of the kernel's process table", s->polls);
	fprintf(r->out, "# HELP memtrace_poll_interval_seconds Measured time between two polls\n"
			"# TYPE memtrace_poll_interval_seconds histogram\n");
	for (size_t i = 0; i < s->nr_poll_le; i++)
		fprintf(r->out, "memtrace_poll_interval_seconds_bucket{le=\"%.9g\"} %" PRIu64 "\n",
			s->poll_le[i], s->poll_le_count[i]);
	fprintf(r->out,
		"memtrace_poll_interval_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
		"memtrace_poll_interval_seconds_sum %.9g\n"
		"memtrace_poll_interval_seconds_count %" PRIu64 "\n",
		s->poll_intervals, s->poll_interval_seconds_sum, s->poll_intervals);
	plain_double(r, "memtrace_poll_interval_max_seconds", GAUGE,
		     "Longest measured time between two polls since start",
		     s->poll_interval_max_seconds);
	plain_double(
	    r, "memtrace_publish_lock_wait_max_seconds", GAUGE,
	    "Longest time the poll waited for the lock scrapes take the latest rendering under",
	    s->publish_wait_max_seconds);
	plain_double(r, "memtrace_poll_cpu_seconds", GAUGE, "CPU time of the latest poll",
		     s->poll_seconds);
	plain_double(r, "memtrace_last_poll_timestamp_seconds", GAUGE,
		     "When the latest poll ran, in seconds since the epoch",
		     s->last_poll_timestamp);
	plain_u64(r, "memtrace_cut_series", GAUGE, "Series left out by --max-series",
		  s->cut_series);
	plain_u64(r, "memtrace_cut_processes", GAUGE,
		  "Live processes in the series left out by --max-series", s->cut_processes);
	plain_u64(r, "memtrace_cut_resident_bytes", GAUGE,
		  "Resident bytes of the series left out by --max-series", s->cut_resident_bytes);
	plain_u64(r, "memtrace_tracked_processes", GAUGE,
		  "Live processes in the kernel's process table", s->tracked_processes);
	plain_u64(r, "memtrace_tracked_processes_max", GAUGE,
		  "Capacity of the kernel's process table (--max-procs)", s->max_procs);
	plain_u64(r, "memtrace_loader_resident_bytes", GAUGE, "Resident bytes of memtrace itself",
		  s->loader_resident_bytes);
	plain_u64(r, "memtrace_pprof_tracing", GAUGE,
		  "1 while a /debug/pprof/memory profile traces its processes", s->pprof_tracing);
}

int metrics_render(FILE *out, enum metrics_format fmt, const struct metrics_group *groups, size_t n,
		   const struct metrics_self *self)
{
	struct render r = { .out = out, .fmt = fmt, .self = self };

	render_groups(&r, groups, n);
	render_self(&r);
	if (fmt == METRICS_OPENMETRICS)
		fputs("# EOF\n", out);
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}
