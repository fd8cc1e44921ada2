/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The poll shared by `top` and `serve`: read the kernel's process table,
 * move every process's state on (deltas since the previous poll), pick the
 * processes due for a smaps_rollup reconcile, apply finished readings and
 * reap the exited. What each command does with the figures is its own.
 */
#ifndef MEMTRACE_PROC_POLL_H
#define MEMTRACE_PROC_POLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "reconcile.h"
#include "tracer.h"
#include "tracer_api.h"

/*
 * The growth sort ranks by the RSS change over the last PROC_GROWTH_WINDOW
 * polls, through a key that moves only when the growth leaves a band of an
 * eighth of the key or PROC_GROWTH_BAND_BYTES (hysteresis), so a row keeps
 * its place while its growth wobbles.
 */
#define PROC_GROWTH_WINDOW 5
#define PROC_GROWTH_BAND_BYTES (64 * 1024)

/*
 * What the poll remembers about one process between polls, one per slot of
 * the tracer's table: only what deltas, sorting, grouping and the smaps
 * figures need, since there may be tens of thousands. The rest of the
 * slot is read in place when a row shows it (proc_poll__stats()), not
 * copied. A process whose slot has not changed since its growth window
 * settled costs a poll a look at the first fields.
 */
struct proc_state {
	uint32_t host_tgid; /* the slot's owner as the kernel names it; 0 = not in use */
	uint32_t tgid;	    /* as our /proc shows it (the row's PID) */
	uint32_t changes;   /* the slot's change count at the last copy */
	uint8_t quiet;	    /* polls since the copy last changed (saturates) */
	bool settled;	    /* copied again after the last change it saw (see tracer.h) */
	bool hidden;	    /* outside our PID namespace: no row */
	bool dirty;	    /* copied again at the next poll: faults pending on a CPU */
	/*
	 * of the latest consistent copy of the slot (pending faults added, ppid
	 * as ours): the figures the deltas come from, and what names it
	 */
	uint64_t start_ns;
	uint64_t faults, mmap_bytes, munmap_bytes;
	__u64 rss_pages[MT_RSS_NR]; /* the kernel's counters, uncorrected (the slot's type) */
	uint64_t rss_peak_pages;
	uint32_t ppid, flags;
	char comm[MT_COMM_LEN];
	uint64_t next_reconcile_ns;
	/* this poll's changes */
	int64_t rss_delta_bytes;
	uint64_t faults_delta, mapped_delta_bytes, unmapped_delta_bytes;
	uint64_t smaps_done_ns; /* CLOCK_MONOTONIC of the latest smaps_rollup reading */
	/* this poll's counters, corrected by the latest reconcile (offset_pages) */
	uint64_t pages[MT_RSS_NR];
	/*
	 * exact - counter of the latest reconcile that gave one, in pages, as
	 * reconciler__correct() applies it (kept here, by slot: no hash lookup
	 * per process and poll); valid when have_offset. 32 bits (a state per
	 * process, tens of thousands): a correction beyond 2^31 pages is not
	 * applied (have_offset stays false), never cut
	 */
	int32_t offset_pages[MT_RSS_NR];
	/*
	 * CLOCK_MONOTONIC of the status read behind that correction (valid when
	 * corrected): a reconcile whose counters kept moving gives no correction,
	 * so the correction can be older than smaps_done_ns
	 */
	uint64_t correction_ns;
	int64_t growth_bytes; /* resident change over the window (since first seen until full) */
	int64_t
	    growth_key; /* follows growth_bytes only out of a band: see PROC_GROWTH_BAND_BYTES */
	void *user;	/* the caller's; its forget callback releases it */
	/*
	 * resident pages of the last PROC_GROWTH_WINDOW polls, a ring: the
	 * growth sort; 32 bits hold 16 TiB of 4 KiB pages (saturated beyond)
	 */
	uint32_t window_pages[PROC_GROWTH_WINDOW];
	uint32_t exit_copy; /* exited: index of the poll's copy of its slot (proc_poll__stats) */
	/*
	 * the latest smaps_rollup reading, in KiB (the unit the kernel gives,
	 * so exact; 32 bits: a state per process, tens of thousands; a reading
	 * beyond 4 TiB is not kept, have_smaps stays false); valid when
	 * have_smaps; proc_kb_bytes() gives bytes
	 */
	uint32_t pss_kb, private_kb, swap_pss_kb, smaps_rss_kb, drift_kb;
	uint8_t window_len, window_pos;
	bool have_prev, have_smaps, queued, exited, corrected, have_offset;
	bool recorrect; /* a new correction changes what it shows: moved on at the next poll */
};

struct proc_poll_opts {
	uint64_t interval_ns;  /* the caller's poll period (spreads smaps reads) */
	uint64_t reconcile_ns; /* smaps_rollup period per process; 0 = never */
	/*
	 * Called just before a state is freed: the process was reaped after its
	 * exit was reported, or its PID now names another process. May be NULL.
	 */
	void (*forget)(void *ctx, uint32_t pid, struct proc_state *st);
	void *ctx;
};

/* This poll's processes; arrays owned by the poll, valid until the next poll. */
struct proc_poll_view {
	const uint32_t *tgids;
	struct proc_state *const *states;
	size_t count;
	size_t nr_exited;   /* of count, processes whose exit this poll reports */
	uint64_t iteration; /* polls so far, this one included */
};

struct proc_poll;

/* Starts the smaps reader thread when opts->reconcile_ns; NULL + errno. */
struct proc_poll *proc_poll__new(struct tracer *tracer, const struct proc_poll_opts *opts);
/* Stops the reader, calls forget for every state left; NULL is fine. */
void proc_poll__free(struct proc_poll *p);

/*
 * One poll; 0 or -errno (the kernel's table could not be read, or no
 * memory). It reads the kernel's table in place: a slot is copied only
 * when its change count moved (once more after that, see tracer.h), and a
 * process is moved on only while it changes or its growth window has not
 * settled, or when new smaps figures or pending faults arrived for it.
 */
int proc_poll__once(struct proc_poll *p, struct proc_poll_view *view);

/*
 * Every figure of a state of this poll's view, for its row: the slot read
 * in place (a copy of one slot; a syscall only where faults were pending),
 * with what the state holds (identity, flags, faults, mapped and unmapped
 * bytes, the rss counters and peak) taken from the state, so that a row
 * agrees with its deltas; the other counters as of this read, which the
 * rules of tracer.h allow (counters may come from consecutive events). An
 * exit reported by this poll gives the copy the poll took. 0, or -ESTALE
 * when the slot no longer holds the process (its PID was reused before
 * its exit was reaped: the kernel counts that loss, MT_DROP_REUSED_UNREAPED,
 * and this row has no figures to show).
 */
int proc_poll__stats(struct proc_poll *p, const struct proc_state *st, struct mt_proc_stats *out);

/* NULL when --reconcile is 0. */
struct reconciler *proc_poll__reconciler(const struct proc_poll *p);

static inline uint64_t proc_kb_bytes(uint32_t kb)
{
	return (uint64_t)kb * 1024;
}

static inline uint64_t proc_resident_pages(const struct mt_proc_stats *stats)
{
	return stats->rss_pages[MT_RSS_ANON] + stats->rss_pages[MT_RSS_FILE] +
	       stats->rss_pages[MT_RSS_SHMEM];
}

/* The same of the corrected counters (what top and run show). */
static inline uint64_t proc_state_resident_pages(const struct proc_state *st)
{
	return st->pages[MT_RSS_ANON] + st->pages[MT_RSS_FILE] + st->pages[MT_RSS_SHMEM];
}

#endif /* MEMTRACE_PROC_POLL_H */
