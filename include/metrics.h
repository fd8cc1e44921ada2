/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The metrics `memtrace serve` exposes, rendered in the Prometheus text
 * exposition format (0.0.4) or OpenMetrics 1.0 (which ends in "# EOF" and
 * names counter families without their _total suffix). Rendering only:
 * the figures are gathered by src/serve.c. Sizes in bytes, times in seconds.
 */
#ifndef MEMTRACE_METRICS_H
#define MEMTRACE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "tracer.h"

enum metrics_format {
	METRICS_PROMETHEUS,
	METRICS_OPENMETRICS,
};

#define METRICS_CT_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* Which format an Accept header asks for (NULL: Prometheus text). */
enum metrics_format metrics_format_for_accept(const char *accept);

/*
 * A label value as the exposition formats quote it: backslash, double quote
 * and newline escaped; bytes that are not UTF-8 (a program name may hold
 * any) become U+FFFD, since both formats require UTF-8. 0 or -errno.
 */
int metrics_write_label_value(FILE *out, const char *value);

/* One series: a group of processes under --group-by, or one process. */
struct metrics_group {
	const char *label;  /* the group's name (program, cgroup, user), or the process's program */
	uint32_t pid;	    /* --group-by pid: the process; 0 otherwise */
	uint32_t processes; /* live processes in the group now */
	uint64_t resident_anon_bytes, resident_file_bytes, resident_shmem_bytes;
	uint64_t resident_peak_bytes;
	uint64_t swap_bytes;
	bool have_smaps; /* every live process has a smaps_rollup reading */
	uint64_t pss_bytes, uss_bytes, swap_pss_bytes;
	/* counters: since tracing started, processes that left the group included */
	uint64_t page_faults, mapped_bytes, unmapped_bytes;
};

struct metrics_prog {
	const char *name;   /* BPF program */
	double run_seconds; /* estimated time in the program since load */
	uint64_t runs;	    /* estimated runs since load */
};

/* memtrace's own figures. */
struct metrics_self {
	const char
	    *group_by; /* the label name: "program", "cgroup", "user" (pid: "program" + "pid") */
	uint64_t dropped[MT_CNT_NR]; /* the kernel side's loss counters, enum mt_counter */
	uint64_t smaps_queue_full;   /* smaps reads put off because the queue was full */
	const struct metrics_prog *progs;
	size_t nr_progs;
	bool bpf_stats; /* the kernel gave BPF run-time statistics */
	uint64_t smaps_reads;
	double smaps_read_seconds;
	uint64_t smaps_pending; /* live processes without a smaps reading yet */
	uint64_t polls;
	/* histogram of the measured intervals between polls: cumulative counts per bound */
	const double *poll_le;	       /* upper bounds in seconds, increasing */
	const uint64_t *poll_le_count; /* intervals <= poll_le[i] */
	size_t nr_poll_le;
	uint64_t poll_intervals; /* all intervals (the +Inf bucket) */
	double poll_interval_seconds_sum;
	double poll_interval_max_seconds; /* the longest since start */
	double poll_seconds;		  /* CPU time of the latest poll */
	double publish_wait_max_seconds;  /* longest wait of the poll for the scrapers' lock */
	double last_poll_timestamp;	  /* seconds since the epoch */
	uint64_t cut_series;		  /* series left out by --max-series */
	uint64_t cut_processes;		  /* live processes in them */
	uint64_t cut_resident_bytes;	  /* their resident bytes */
	uint64_t tracked_processes;	  /* live processes in the kernel's table */
	uint64_t max_procs;		  /* its capacity */
	uint64_t loader_resident_bytes;
	bool pprof_tracing; /* a /debug/pprof/memory window is open */
};

/*
 * Write the whole exposition: every family once, its series together, the
 * smaps families only for groups with have_smaps. 0 or -errno (a write
 * failed, e.g. -ENOMEM from an open_memstream).
 */
int metrics_render(FILE *out, enum metrics_format fmt, const struct metrics_group *groups, size_t n,
		   const struct metrics_self *self);

#endif /* MEMTRACE_METRICS_H */
