/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memtrace run: a command under the tracer, its whole process tree
 * followed, memory budgets checked at the end. This header holds what the
 * pieces of the command share: the table of processes seen (run_budget.c),
 * the budget verdicts and exit-status rules (pure, unit-tested), the
 * timeline, the /proc fallback source (run_procfs.c) and the summary and
 * JSON report (run_report.c). All sizes in bytes, times in nanoseconds.
 */
#ifndef MEMTRACE_RUN_H
#define MEMTRACE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* memtrace's own statuses; every other status is the command's (see run_exit_status) */
#define RUN_EXIT_OVER_BUDGET 3

/* ---- the processes of the tree ---- */

/* One process as a source sees it at one poll. */
struct run_sample {
	uint32_t pid;
	uint32_t ppid;
	uint64_t start_ns; /* start time, tells PID reuse apart */
	char comm[16];
	uint64_t rss_bytes;  /* file + anon + shmem now (at exit: the last reading) */
	uint64_t peak_bytes; /* highest rss_bytes the source knows of */
	uint64_t faults;     /* user page faults, cumulative (0 where unknown) */
	bool exited;	     /* last report of this process: it is gone */
};

/* Everything known about one process over the run. */
struct run_proc {
	uint32_t pid;
	uint32_t ppid;
	uint64_t start_ns;
	char comm[16];
	uint64_t peak_bytes;
	uint64_t last_rss_bytes;
	uint64_t faults;
	uint64_t peak_pss_bytes; /* highest PSS read from smaps_rollup, 0 if never read */
	bool exited;
};

struct run_procs;

struct run_procs *run_procs__new(void);
void run_procs__free(struct run_procs *p); /* NULL is fine */

/*
 * Fold one sample in: a new (pid, start_ns) gets a record, a known one has
 * its peak raised and its figures replaced. 0 or -ENOMEM.
 */
int run_procs__update(struct run_procs *p, const struct run_sample *s);

/* The live record of pid (not exited), or NULL. */
struct run_proc *run_procs__find(struct run_procs *p, uint32_t pid);

/* Every record in the order first seen; valid until the next update. */
const struct run_proc *run_procs__all(const struct run_procs *p, size_t *count);

/* ---- budgets ---- */

enum run_budget_kind {
	RUN_MAX_RSS = 0,   /* peak RSS of any single process */
	RUN_MAX_TOTAL_RSS, /* peak of the sum over the tree at any instant */
	RUN_MAX_GROWTH,	   /* tree RSS at the end minus at the baseline */
	RUN_MAX_PSS,	   /* highest PSS of any single process, sampled */
	RUN_BUDGET_NR,
};

struct run_budgets {
	uint64_t limit[RUN_BUDGET_NR];
	bool set[RUN_BUDGET_NR];
};

/* The figures that budgets are judged against. */
struct run_figures {
	uint64_t proc_peak_bytes; /* max over processes of peak_bytes */
	uint32_t proc_peak_pid;
	char proc_peak_comm[16];
	uint64_t tree_peak_bytes;
	uint64_t tree_start_bytes; /* tree RSS at the baseline */
	uint64_t tree_end_bytes;   /* tree RSS at the last poll while the command lived */
	int64_t growth_bytes;	   /* end - start */
	bool have_growth;	   /* a baseline was taken while the command lived */
	uint64_t pss_peak_bytes;   /* 0 when never read */
	uint32_t pss_peak_pid;
	bool have_pss;
	uint64_t faults; /* summed over processes */
	size_t nr_procs;
};

struct run_verdict {
	enum run_budget_kind kind;
	uint64_t limit_bytes;
	int64_t actual_bytes; /* signed for growth */
	uint32_t pid;	      /* the process that set the figure, 0 for tree figures */
	bool measured;	      /* false: no figure (e.g. no PSS read happened) */
	bool over;
};

/* "max_rss", "max_total_rss", "max_growth", "max_pss" */
const char *run_budget_name(enum run_budget_kind kind);
/* "--max-rss" ... */
const char *run_budget_option(enum run_budget_kind kind);

/* Peaks, PSS and faults over the process table into fig (tree fields are left alone). */
void run_figures_from_procs(const struct run_procs *procs, struct run_figures *fig);

/*
 * One verdict per budget that is set, into out (room for RUN_BUDGET_NR);
 * returns how many budgets are over. A budget without a figure (--max-pss
 * when no smaps_rollup read succeeded) is not over but unmeasured.
 */
size_t run_judge(const struct run_budgets *b, const struct run_figures *fig,
		 struct run_verdict *out, size_t *nr_out);

/*
 * The status memtrace run exits with: the command's own (its exit code, or
 * 128+N when killed by signal N, as a shell reports it), unless budgets
 * were exceeded and no_fail is false: then RUN_EXIT_OVER_BUDGET.
 */
int run_exit_status(int wait_status, size_t nr_over, bool no_fail);

/* ---- timeline of tree RSS ---- */

struct run_point {
	uint64_t t_ns;		 /* since the command started */
	uint64_t tree_bytes;	 /* tree RSS at the poll */
	uint64_t tree_max_bytes; /* highest poll among those this point stands for */
	uint32_t nr_procs;	 /* live processes at the poll */
};

struct run_timeline;

/*
 * At most max_points points are kept: when full, neighbours are merged in
 * pairs (later time, larger figures) so a long run keeps its whole span at
 * a coarser step. max_points >= 2.
 */
struct run_timeline *run_timeline__new(size_t max_points);
void run_timeline__free(struct run_timeline *tl);
int run_timeline__add(struct run_timeline *tl, const struct run_point *pt);
const struct run_point *run_timeline__points(const struct run_timeline *tl, size_t *count);
/* How many polls each point stands for now (1, 2, 4...). */
uint64_t run_timeline__stride(const struct run_timeline *tl);

/* ---- the /proc fallback ---- */

/*
 * Polls /proc for root and its descendants (by parent links): RSS from
 * VmRSS, per-process peaks from VmHWM, tree sum at each poll only. A child
 * that lives less than a poll interval is not seen, and a tree-wide spike
 * between two polls is missed: the report says so.
 */
struct run_procfs;

struct run_procfs *run_procfs__new(uint32_t root);
void run_procfs__free(struct run_procfs *p); /* NULL is fine */

/*
 * One poll: *samples (owned, valid until the next call) gets every
 * descendant alive now plus, once, those that vanished since the last poll
 * (exited, with their last figures); *tree_now_bytes the sum of VmRSS.
 */
int run_procfs__poll(struct run_procfs *p, const struct run_sample **samples, size_t *count,
		     uint64_t *tree_now_bytes);

/* ---- --attribute: call stacks recorded in run's own process ---- */

/*
 * The stacks object of `record` (stacks_api.h) loaded in this process,
 * following the command's tree from its held child on; the recording stays
 * in memory, so nothing is left on disk whatever ends run. run's own
 * memory is not traced.
 */
struct run_attribution;

struct run_attribution *run_attribution__new(void);    /* NULL + errno */
void run_attribution__free(struct run_attribution *a); /* NULL is fine */

/* Loads the programs and traces target (held, not yet exec'd). 0 or -errno after one line. */
int run_attribution__start(struct run_attribution *a, pid_t target);

/* An fd that becomes readable when notes arrive (for poll), or -1. */
int run_attribution__fd(const struct run_attribution *a);

/* Handles the notes that arrived (reads new layouts while the processes live). */
void run_attribution__poll(struct run_attribution *a);

/* Once the command has finished: collects the stacks and unloads the programs. */
void run_attribution__finish(struct run_attribution *a);

/*
 * The top growth call sites of the process that broke the first budget
 * exceeded (the whole tree for tree budgets; the largest process when none
 * was exceeded), in the shape of `memtrace report --format json`. *json is
 * the text or NULL, *note says why not; both owned by a.
 */
void run_attribution__resolve(struct run_attribution *a, const struct run_verdict *v, size_t nr,
			      const struct run_figures *fig, const char **json, const char **note);

/* ---- output ---- */

/* What the summary and the report describe. */
struct run_result {
	char *const *argv;  /* the command */
	const char *mode;   /* "bpf" or "procfs" */
	const char *caveat; /* NULL in bpf mode */
	const char *attach; /* tracer attach summary, or NULL */
	int wait_status;    /* as from waitpid, valid when started */
	bool started;	    /* the command was started */
	int exit_status;    /* what memtrace exits with */
	uint64_t duration_ns;
	uint64_t interval_ns;
	uint64_t warmup_ns;
	const struct run_budgets *budgets;
	const struct run_verdict *verdicts;
	size_t nr_verdicts;
	size_t nr_over;
	bool no_fail;
	const struct run_figures *fig;
	const struct run_procs *procs;
	const struct run_timeline *timeline;
	uint64_t losses[8]; /* tracer loss counters (enum mt_counter) */
	size_t nr_losses;
	const char *attribution_json; /* JSON text of the call sites, or NULL */
	const char *attribution_note; /* why there is none, or NULL */
};

/* The human summary (stderr in practice). */
void run_print_summary(FILE *out, const struct run_result *r);

/*
 * Write the JSON report to path ("-" = stdout) through outfile.h (temporary
 * file renamed into place, a symlink never followed); an existing path is
 * refused with -EEXIST unless force. 0 or -errno.
 */
int run_write_report(const char *path, bool force, const struct run_result *r);

#endif /* MEMTRACE_RUN_H */
