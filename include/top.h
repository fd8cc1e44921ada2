/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `memtrace top` internals shared by its loop (src/top.c) and its output
 * (src/top_output.c): one row per process per interval, and the summary.
 */
#ifndef MEMTRACE_TOP_H
#define MEMTRACE_TOP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "tracer.h"
#include "tracer_api.h"
#include "reconcile.h"

enum top_sort {
	TOP_SORT_GROWTH, /* RSS growth over PROC_GROWTH_WINDOW polls (with hysteresis), then RSS */
	TOP_SORT_RSS,
	TOP_SORT_PSS,
	TOP_SORT_SWAP,
	TOP_SORT_FAULTS, /* faults this interval */
	TOP_SORT_MAPPED, /* bytes mapped this interval */
	TOP_SORT_PID,
	TOP_SORT_COMM,
};

/* Parse a --sort key; 0 or -EINVAL. */
int top_sort_parse(const char *text, enum top_sort *out);

struct top_row {
	uint32_t pid;
	uint32_t ppid;
	char comm[MT_COMM_LEN];
	bool exited;
	bool corrected; /* the counters carry the latest reconcile's correction */
	/* from the kernel counters (corrected, see reconciler__correct), bytes */
	uint64_t rss_bytes, rss_anon_bytes, rss_file_bytes, rss_shmem_bytes;
	uint64_t swap_bytes, rss_peak_bytes;
	int64_t rss_delta_bytes; /* change since the previous interval */
	int64_t growth_bytes;	 /* change over the last PROC_GROWTH_WINDOW intervals */
	int64_t growth_key;	 /* what the growth sort ranks by (see PROC_GROWTH_WINDOW) */
	uint64_t start_ns;	 /* tells PID reuse apart */
	/* cumulative since tracing started (or the process did) */
	uint64_t faults, thp_faults, mmap_calls, mmap_bytes, munmap_calls, munmap_bytes;
	uint64_t mremap_calls, mremap_grow_bytes, mremap_shrink_bytes, brk_calls;
	int64_t brk_bytes;
	/* this interval */
	uint64_t faults_delta, mapped_delta_bytes, unmapped_delta_bytes;
	double faults_per_sec;
	/* from the latest smaps_rollup reconcile; valid when have_smaps */
	bool have_smaps;
	uint64_t pss_bytes, private_bytes, swap_pss_bytes, smaps_rss_bytes, drift_bytes;
	uint64_t smaps_age_ns;	    /* how old that reading is */
	uint64_t correction_age_ns; /* how old the correction's status read is; when corrected */
};

struct top_summary {
	uint64_t ts_ns;	      /* CLOCK_REALTIME */
	uint64_t interval_ns; /* measured length of this interval */
	uint64_t iteration;
	size_t nr_procs, nr_exited;
	uint64_t losses[MT_CNT_NR];
	struct tracer_cost cost;
	struct reconciler_stats smaps;
	uint64_t poll_cpu_ns; /* CPU time of this poll (read + compute), loader thread */
	uint64_t loader_rss_bytes;
	uint32_t max_procs;
};

/*
 * One process in the sort: keys computed at poll time, the row itself is
 * built only when printed, so tens of thousands of processes cost 40 bytes
 * each here rather than a full row.
 */
struct top_entry {
	int64_t key;	  /* by the sort key; larger first */
	int64_t key2;	  /* tie-breaker; larger first */
	const char *comm; /* for TOP_SORT_COMM, NUL-terminated within MT_COMM_LEN */
	uint32_t pid;	  /* last tie-breaker, smaller first */
	uint32_t index;	  /* into the poll's arrays */
};

void top_sort_entries(struct top_entry *entries, size_t n, enum top_sort key);

/*
 * What SWAP shows: SwapPss once the process was reconciled (swap shared
 * after fork counted once over its sharers), else the counter's swap
 * entries, which count shared swap in full in every sharer. The text form
 * ends in ' ' or, before the first reconcile, '~'.
 */
uint64_t top_row_swap(const struct top_row *r);
const char *top_format_swap(char *buf, size_t len, const struct top_row *r);

/* NDJSON: one object per process, then the summary object of the interval. */
int top_print_json_row(FILE *out, const struct top_row *row, const struct top_summary *s);
int top_print_json_summary(FILE *out, const struct top_summary *s);

/* The table: a header (clear_screen for a refreshing terminal), rows, a footer. */
int top_print_table_header(FILE *out, const struct top_summary *s, bool clear_screen);
int top_print_table_row(FILE *out, const struct top_row *row);
int top_print_table_footer(FILE *out, size_t shown, size_t total, bool clear_screen);

/*
 * The terminal UI (src/top_tui.c, ncurses). top_tui__new takes over the
 * terminal on stdin/stdout (NULL + errno when it cannot); top_tui__free
 * gives it back, and so does exit() in between. An update's rows are
 * filled in place, in the view's own array (one row per process: tens of
 * thousands of them are megabytes, kept once), unless the user paused the
 * view.
 */
struct top_tui;

struct top_tui *top_tui__new(enum top_sort sort);
void top_tui__free(struct top_tui *tui); /* NULL is fine */
/*
 * Room for the next update's n rows, for the caller to fill: 0 with *rows
 * NULL while the user has the view paused (no update: the rows shown
 * stay), or -ENOMEM.
 */
int top_tui__rows(struct top_tui *tui, size_t n, struct top_row **rows);
/* Shows the n rows just filled into top_tui__rows() and the summary. */
int top_tui__update(struct top_tui *tui, size_t n, const struct top_summary *s);
void top_tui__draw(struct top_tui *tui);
/* Read and act on the keys typed so far, then redraw; false when asked to quit. */
bool top_tui__keys(struct top_tui *tui);

#endif /* MEMTRACE_TOP_H */
