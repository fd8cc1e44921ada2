/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The loader of bpf/tracer.bpf.c: opens the skeleton, chooses attach
 * methods, sets filters, loads, attaches, seeds existing processes and
 * reads the per-process counters from the table it maps. Used by `top` and `run`.
 */
#ifndef MEMTRACE_TRACER_API_H
#define MEMTRACE_TRACER_API_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include "tracer.h"

struct tracer_opts {
	const int *pids; /* -p: trace only these tgids (seeded), or NULL */
	size_t nr_pids;
	const char *comm;	 /* -c: exact comm (<= 15 bytes), or NULL */
	const char *cgroup_path; /* --cgroup: cgroup v2 directory, or NULL */
	bool follow_forks;	 /* children of traced processes are traced */
	bool seed_existing;	 /* walk /proc at start for processes that match */
	bool track_tree;	 /* keep the sum of RSS over all traced processes and its peak */
	uint32_t max_procs;	 /* procs map capacity; 0 = MT_DEFAULT_MAX_PROCS */
	bool force_fallback;	 /* raw_tp and perf-event faults even where tp_btf works (tests) */
};

/* The tracer's own cost, from the kernel's BPF statistics. */
struct tracer_prog_cost {
	const char *name;     /* program name (static storage of the skeleton) */
	const char *attach;   /* "tp_btf", "fexit", "fentry", "raw_tp", "perf_event" */
	uint64_t run_cnt;     /* events handled since load */
	uint64_t run_time_ns; /* total time spent in the program */
};

#define TRACER_MAX_PROGS 12

struct tracer_cost {
	struct tracer_prog_cost progs[TRACER_MAX_PROGS];
	size_t nr_progs;
	uint64_t total_run_cnt;
	uint64_t total_run_time_ns;
	bool stats_enabled; /* false when BPF_ENABLE_STATS was refused */
	/*
	 * The share of the time the statistics are on under the sampling of
	 * tracer__cost_window() (1 where it was never called), and its inverse:
	 * the whole time's figures are the sampled ones times scale
	 */
	double sampled_fraction;
	uint32_t scale;
};

struct tracer;

/*
 * Open, configure, load and attach. NULL with errno set on failure, after
 * printing one line that says what failed and how to fix it.
 */
struct tracer *tracer__new(const struct tracer_opts *opts);
void tracer__free(struct tracer *t); /* NULL is fine; detaches everything */

/*
 * Read every entry of the kernel's table from memory (no syscall per
 * entry; one for the per-CPU pending faults): tgids[i] and stats[i] for
 * i < count point into buffers owned by the tracer, sized to the
 * population, valid until the next call. Each entry is one process's
 * consistent identity; counters follow the rules in tracer.h. 0 or -errno.
 */
int tracer__read(struct tracer *t, const uint32_t **tgids, const struct mt_proc_stats **stats,
		 size_t *count);

/*
 * A number that moves whenever a slot of the table is written (its figures,
 * its identity, a flush of pending faults into it) or first handed out, read
 * from memory (no syscall): while it stays, tracer__read() would give the
 * same entries, except for faults still pending on a CPU for a live process
 * (they move no slot until their flush), which a later read adds.
 */
uint64_t tracer__version(const struct tracer *t);

/*
 * The table in place, slot by slot, for a poll that reads only what changed
 * (proc_poll.c). tracer__sync() maps the slots handed out since the last
 * call, reads the per-CPU pending faults (one syscall) and gives how many
 * slots may be in use, and the slots with pending faults now (their
 * figures move without their change count; a flush into the entry moves
 * it): the caller copies them again. 0 or -errno.
 */
int tracer__sync(struct tracer *t, uint32_t *nr_slots, const uint32_t **pending_slots,
		 size_t *nr_pending);

/*
 * A look at slot < nr_slots without copying it: the owner's host tgid (0 =
 * free) and, in *changes, the slot's change count (see tracer.h).
 */
uint32_t tracer__slot_peek(const struct tracer *t, uint32_t slot, uint32_t *changes);

/*
 * A consistent copy of slot as tracer__read() gives entries (tgid and ppid
 * as our /proc shows them). A slot with faults pending at the last sync (or
 * at a later read of the CPUs' slots) gets them added, read again with the
 * copy (a syscall: at most one per CPU's pending slot a poll). 0,
 * -ENOENT for a free slot, -ESRCH for a process outside our PID namespace.
 */
int tracer__slot_read(struct tracer *t, uint32_t slot, struct mt_proc_stats *out);

/* Read one process's entry; 0, -ENOENT. */
int tracer__lookup(struct tracer *t, uint32_t tgid, struct mt_proc_stats *out);

/*
 * Delete an exited process's entry after its last figures were reported;
 * 0, -ENOENT, or -EBUSY for a process alive (in a PID namespace the PID
 * may name a new process by now: it is left alone).
 */
int tracer__reap(struct tracer *t, uint32_t tgid);

/*
 * Reap, at the next tracer__reap_flush(), the exited process st describes
 * (an entry of the last tracer__read(), pointer not kept): the kernel side
 * frees the slot only if it still holds that exited process (same gen).
 * A full batch is flushed first. 0, -EBUSY for a process alive, or what
 * that flush returned.
 */
int tracer__reap_queue(struct tracer *t, const struct mt_proc_stats *st);

/*
 * Reap every queued process in one call into the kernel (the loader's own
 * calls where the kernel refuses it); a slot gone or taken over meanwhile
 * is no error. 0 or -errno.
 */
int tracer__reap_flush(struct tracer *t);

/*
 * How the flushed processes were reaped: in the kernel by reap_run, or by
 * the loader's own calls (the verifier refused reap_run, e.g. no bpf_loop
 * before 5.17, or its test run was refused, or MEMTRACE_TEST_REAP=loader
 * left it unloaded). Returns that refusal as -errno, else 0.
 */
int tracer__reap_counts(const struct tracer *t, uint64_t *in_kernel, uint64_t *by_loader);

/* Add tgid to the traced set (for -p and followers); 0, -ENOSPC, -errno. */
int tracer__add_pid(struct tracer *t, uint32_t tgid);

/* Loss counters summed over CPUs, indexed by enum mt_counter. */
int tracer__losses(struct tracer *t, uint64_t out[MT_CNT_NR]);

/*
 * The kernel's BPF run-time statistics (BPF_ENABLE_STATS) cost two clock
 * reads per program run, a large share of the tracer's own cost in a VM:
 * callers switch them on only for a sample of the time. run_cnt and
 * run_time_ns then cover the sampled windows; their ratio is the cost per
 * event. 0, or -errno when the kernel refuses (figures stay 0).
 *
 * Switching them flips a static key, which patches kernel text on every
 * CPU (0.3 to 1.1 ms a switch pair measured on Debian's kernels), so
 * tracer__cost_window() samples one part in TRACER_COST_DIVISOR of one
 * interval in TRACER_COST_EVERY, and tracer__cost() gives the product as
 * the scale.
 */
#define TRACER_COST_DIVISOR 10
#define TRACER_COST_EVERY 10
int tracer__sample_cost(struct tracer *t, bool on);

/*
 * The sampling of the cost statistics, for a caller that polls every
 * interval (top, serve): call it at the start of each interval, round
 * counting intervals from 0, the interval running from start_ns to end_ns
 * (CLOCK_MONOTONIC). In one interval in TRACER_COST_EVERY it switches the
 * statistics on, calls sleep_until() to the end of the interval's first
 * 1/TRACER_COST_DIVISOR, and switches them off again; in the others it
 * does nothing. sleep_until is the caller's (it may watch keys or signals)
 * and may return early.
 */
void tracer__cost_window(struct tracer *t, uint64_t round, uint64_t start_ns, uint64_t end_ns,
			 void (*sleep_until)(uint64_t deadline_ns));

int tracer__cost(struct tracer *t, struct tracer_cost *cost);

/* Human description of the attach path taken, e.g. "faults: tp_btf, rss_stat: tp_btf". */
const char *tracer__attach_summary(const struct tracer *t);

/*
 * The attach ladder as this kernel takes it, found by loading the tracer
 * (nothing is attached): one line per hook, its rung and, below the best,
 * why. For `memtrace --version -v`; needs the privileges to load. 0 or
 * -errno.
 */
int tracer__print_ladder(FILE *out);

uint32_t tracer__max_procs(const struct tracer *t);

/*
 * With track_tree: resident bytes summed over the traced processes now, and
 * the highest that sum reached since tracing started. 0 or -EINVAL.
 */
int tracer__tree_rss(struct tracer *t, uint64_t *now_bytes, uint64_t *peak_bytes);

#endif /* MEMTRACE_TRACER_API_H */
