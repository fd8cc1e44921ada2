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
 * What moved at this poll and over the growth window. Kept only while it
 * says more than zeros: a process whose deltas and growth are 0 and whose
 * window holds its resident_pages alone (new and still, or still for
 * PROC_GROWTH_WINDOW polls) has no record, and proc_poll__moves() gives
 * zeros.
 */
struct proc_moves {
	int64_t rss_delta_bytes;
	uint64_t faults_delta, mapped_delta_bytes, unmapped_delta_bytes;
	int64_t growth_bytes; /* resident change over the window (since first seen until full) */
	int64_t
	    growth_key; /* follows growth_bytes only out of a band: see PROC_GROWTH_BAND_BYTES */
	/*
	 * resident pages of the last PROC_GROWTH_WINDOW polls, a ring: the
	 * growth sort; 32 bits hold 16 TiB of 4 KiB pages (saturated beyond)
	 */
	uint32_t window_pages[PROC_GROWTH_WINDOW];
	uint32_t exit_copy; /* exited: index of the poll's copy of its slot (proc_poll__stats) */
	uint8_t window_len, window_pos;
};

/*
 * The smaps reconcile of one process, by slot (proc_poll__smaps()): in use
 * for processes submitted for a read; none without --reconcile (the
 * address space is reserved, and written for the slots the table hands
 * out).
 */
struct proc_smaps {
	uint64_t next_reconcile_ns; /* CLOCK_MONOTONIC when it is due again */
	uint64_t done_ns;	    /* CLOCK_MONOTONIC of the latest smaps_rollup reading */
	/*
	 * CLOCK_MONOTONIC of the status read behind the correction (valid when
	 * the state's have_offset): a reconcile whose counters kept moving
	 * gives no correction, so the correction can be older than done_ns
	 */
	uint64_t correction_ns;
	/*
	 * exact - counter of the latest reconcile that gave one, in pages, as
	 * reconciler__correct() applies it; valid when the state's have_offset.
	 * 32 bits: a correction beyond 2^31 pages is not applied (have_offset
	 * stays false), never cut
	 */
	int32_t offset_pages[MT_RSS_NR];
	/*
	 * the latest smaps_rollup reading, in KiB (the unit the kernel gives,
	 * so exact; 32 bits: a reading beyond 4 TiB is not kept, have_smaps
	 * stays false); valid when the state's have_smaps; proc_kb_bytes()
	 * gives bytes
	 */
	uint32_t pss_kb, private_kb, swap_pss_kb, rss_kb, drift_kb;
};

/*
 * What the poll remembers about one process between polls, one per slot of
 * the tracer's table: only what deltas, sorting and grouping need, since
 * there may be tens of thousands. The rest of the slot is read in place
 * when a row shows it (proc_poll__stats()), not copied; what moved is in a
 * record only while the process moves (proc_poll__moves()), the smaps
 * figures in one only for the processes reconciled (proc_poll__smaps()),
 * and the corrected counters are worked out from the kept ones and the
 * correction (proc_poll__pages()). A process whose slot has not changed
 * since its growth window settled costs a poll a look at the first fields.
 * 128 bytes (pinned below): two cache lines, the first one all a poll reads
 * of a process left alone.
 */
struct proc_state {
	uint32_t host_tgid;   /* the slot's owner as the kernel names it; 0 = not in use */
	uint32_t tgid;	      /* as our /proc shows it (the row's PID) */
	uint32_t changes;     /* the slot's change count at the last copy */
	uint32_t moves;	      /* its proc_moves record, 0 = none (settled) */
	uint32_t flags;	      /* MT_PROC_* of the kept copy */
	uint8_t quiet;	      /* polls since the copy last changed (saturates) */
	bool settled : 1;     /* copied again after the last change it saw (see tracer.h) */
	bool hidden : 1;      /* outside our PID namespace: no row */
	bool dirty : 1;	      /* copied again at the next poll: faults pending on a CPU */
	bool have_prev : 1;   /* moved on at least once: the deltas have a baseline */
	bool exited : 1;      /* the kept copy says so (MT_PROC_EXITED) */
	bool queued : 1;      /* submitted for a smaps read, no result yet */
	bool reconciled : 1;  /* its proc_smaps is in use (submitted at least once) */
	bool have_smaps : 1;  /* its proc_smaps holds a reading */
	bool have_offset : 1; /* its proc_smaps holds a correction, applied (the row's corrected) */
	bool recorrect : 1; /* a new correction changes what it shows: moved on at the next poll */
	/*
	 * file + anon + shmem of the corrected counters at this poll: the next
	 * delta's baseline and the sort's
	 */
	uint64_t resident_pages;
	/*
	 * of the latest consistent copy of the slot (pending faults added, as
	 * our PID namespace names it): the figures the deltas come from, and
	 * what names it; listed once, in kept_fields[] (proc_poll.c)
	 */
	uint64_t start_ns;
	uint64_t faults, mmap_bytes, munmap_bytes;
	__u64 rss_pages[MT_RSS_NR]; /* the kernel's counters, uncorrected (the slot's type) */
	uint64_t rss_peak_pages;
	char comm[MT_COMM_LEN];
	void *user; /* the caller's; its forget callback releases it */
};
_Static_assert(sizeof(struct proc_state) == 128, "two cache lines a process");

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

/* What moved at this poll: the state's record, or zeros for a settled one. */
const struct proc_moves *proc_poll__moves(const struct proc_poll *p, const struct proc_state *st);

/* The state's smaps figures and correction, NULL when it was never submitted. */
const struct proc_smaps *proc_poll__smaps(const struct proc_poll *p, const struct proc_state *st);

/*
 * The state's counters corrected by its latest reconcile (what top and run
 * show): rss_pages + offset_pages, never below 0, where have_offset; the
 * kernel's counters as they are otherwise. Their file + anon + shmem is
 * the state's resident_pages.
 */
void proc_poll__pages(const struct proc_poll *p, const struct proc_state *st,
		      uint64_t pages[MT_RSS_NR]);

static inline uint64_t proc_kb_bytes(uint32_t kb)
{
	return (uint64_t)kb * 1024;
}

/*
 * bytes of an smaps reading (whole KiB, as the kernel gives them) into a
 * 32-bit KiB field: whether it fits exactly (*kb is left alone if not)
 */
static inline bool proc_kb_keep(uint32_t *kb, uint64_t bytes)
{
	if (bytes % 1024 || bytes / 1024 > UINT32_MAX)
		return false;
	*kb = (uint32_t)(bytes / 1024);
	return true;
}

static inline uint64_t proc_resident_pages(const struct mt_proc_stats *stats)
{
	return stats->rss_pages[MT_RSS_ANON] + stats->rss_pages[MT_RSS_FILE] +
	       stats->rss_pages[MT_RSS_SHMEM];
}

#endif /* MEMTRACE_PROC_POLL_H */
