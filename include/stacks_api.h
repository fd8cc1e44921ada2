/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The loader of bpf/stacks.bpf.c: opens the skeleton, chooses attach
 * methods (bpf_loader.h), sets filters and capacities, loads, attaches,
 * follows the notes ring while the traced processes run (their layouts go
 * to procmaps.h) and at the end harvests the kernel's aggregate and the
 * stacks it names into a recording. Used by `record` and `run --attribute`.
 */
#ifndef MEMTRACE_STACKS_API_H
#define MEMTRACE_STACKS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "recording.h"
#include "stacks.h"

struct stacks_opts {
	uint32_t events;       /* MT_EVMASK bits; 0 = fault, mmap and brk */
	uint32_t sample_every; /* a stack at one event in N, weights scaled by N; 0 = 1 */
	uint32_t max_stacks;   /* stacks map capacity; 0 = MT_DEFAULT_MAX_STACKS */
	bool malloc;	       /* load the allocator uprobes (attach with stacks__attach_malloc) */
	bool malloc_preload;   /* --malloc by the interposer: captures come via stacks__malloc_* */
	bool follow_forks;     /* children of traced processes are traced (-- CMD) */
	bool force_raw;	       /* raw_tp even where tp_btf works (tests) */
	bool force_perf;       /* page faults from the perf-event rung even with tracepoints */
	uint32_t unwind;       /* enum mt_unwind */
	uint32_t stack_bytes; /* dwarf: user stack copied per capture; 0 = MT_DEFAULT_STACK_BYTES */
	uint64_t sample_bytes; /* mean malloc bytes per capture; 0 = MT_DEFAULT_SAMPLE_BYTES */
	uint64_t fault_period; /* dwarf: fault bytes per capture (the least); 0 = sample_bytes */
	uint32_t capture_rate; /* dwarf: fault captures a second per CPU past which the period
				  doubles; 0 = none (a fixed period) */
	uint32_t
	    ustack_ring; /* dwarf: capture ring bytes (power of 2); 0 = MT_DEFAULT_USTACK_RING */
};

struct stacks;

/*
 * Open, configure, load and attach the tracepoints; the notes ring is
 * open. Layouts and names go to rec, which the caller owns and keeps
 * until stacks__free. NULL with errno set, after one line that says what
 * failed and how to fix it.
 */
struct stacks *stacks__new(const struct stacks_opts *opts, struct recording *rec);
void stacks__free(struct stacks *s); /* NULL is fine; detaches everything */

/*
 * Traces pid from now on and records its current layout (generation 0).
 * 0, -ESRCH (no such process), -ENOSPC (tracked map full), -errno.
 */
int stacks__track(struct stacks *s, uint32_t pid);

/*
 * --malloc: uprobes on the allocator in the C library that sample_pid
 * maps, for pid only (the kernel installs the breakpoints in that
 * process alone), or for every process (pid -1: everyone traps, the BPF
 * side filters by the tracked map; tests only). With follow_forks, each
 * traced child gets its own uprobes when its fork note arrives. 0 or
 * -errno after one line.
 */
int stacks__attach_malloc(struct stacks *s, int sample_pid, int pid);

struct stacks_malloc_stats {
	uint64_t pids;	      /* processes the uprobes were attached for */
	uint64_t missed_pids; /* traced children they could not be attached for (gone first) */
	uint64_t followed;    /* children attached at their fork note: calls before it unseen */
	uint64_t filtered;    /* allocator calls from untraced processes, ignored */
	/*
	 * dwarf: allocation captures dropped because their block was freed,
	 * held until harvest, and of the freed ones kept for a heap's peak
	 */
	uint64_t released, live, held;
	uint64_t release_lost; /* frees of captured blocks that found the ring full */
};

/* --malloc: what the uprobes reached. 0 or -errno. */
int stacks__malloc_stats(const struct stacks *s, struct stacks_malloc_stats *st);

/*
 * The --malloc capture/release stream, fed by both paths (the uprobes'
 * ring here, the interposer's reader through src/preload.c): a capture of
 * a sampled allocation with a nonzero id unique in the run, held until
 * its release (its block was freed) or the harvest (then it stands for
 * outstanding bytes). image_peak, all_peak: the image's and every traced
 * process's exact peak of outstanding bytes before this event, -1 unknown
 * (mpeak.h). pid is the recording's.
 */
int stacks__malloc_capture(struct stacks *s, uint64_t id, const struct mt_rec_ustack *u,
			   int64_t image_peak, int64_t all_peak);
void stacks__malloc_release(struct stacks *s, uint64_t id, int64_t image_peak, int64_t all_peak);
/* The exec generation of a traced pid: 0, -ESRCH (not traced). */
int stacks__malloc_gen(const struct stacks *s, uint32_t pid, uint32_t *gen);
/* An image's exact books at the end, as the interposer's reader keeps them. */
struct stacks_malloc_image {
	uint32_t pid, gen;
	uint64_t count;	     /* blocks outstanding */
	int64_t bytes;	     /* bytes outstanding */
	int64_t peak_bytes;  /* the highest bytes outstanding */
	int64_t peak_blocks; /* blocks outstanding then */
	uint64_t peak_ts_ns; /* CLOCK_REALTIME of it, 0 unknown */
	bool only_image;     /* the run's one image: also every process's peak */
};
/*
 * The interposer's exact outstanding blocks and bytes of an image, as the
 * (pid, gen, malloc) -ENODATA bucket the uprobes keep in the kernel, its
 * exact peak (for the peak view, dwarf), and its layout. Before
 * stacks__harvest. 0 or -errno.
 */
int stacks__malloc_total(struct stacks *s, const struct stacks_malloc_image *img);

/* Handles the notes that arrived, waiting up to timeout_ms for one. 0 or -errno. */
int stacks__poll(struct stacks *s, int timeout_ms);

/* An fd that becomes readable when notes arrive (the ring's epoll fd), for poll(2). */
int stacks__poll_fd(const struct stacks *s);

/* Whether every traced process has exited. */
bool stacks__idle(const struct stacks *s);
bool stacks__tracked(const struct stacks *s, uint32_t pid);

/* Per-CPU counters summed, indexed by enum mt_stack_counter. 0 or -errno. */
int stacks__counters(const struct stacks *s, uint64_t out[MT_SC_NR]);
/* Aggregate keys so far (a walk of the map: for progress lines, not hot loops). */
size_t stacks__nkeys(const struct stacks *s);
/* Notes of a type (enum mt_note_type) handled so far. */
uint64_t stacks__notes(const struct stacks *s, uint32_t type);

/*
 * Handles the last notes and captures, then adds the aggregate
 * (MT_FREC_SAMPLE; weight that found the map full under MT_STACK_AGG_FULL,
 * pid 0) and the stacks it names (numbered 0..n-1) to the recording, with
 * the layouts of every image that has samples. Captures (dwarf) go to the
 * recording as they arrive (MT_FREC_USTACK). 0 or -errno.
 */
int stacks__harvest(struct stacks *s);

/* Human description of the attach path taken, e.g. "page_fault_user: tp_btf, ...". */
const char *stacks__attach_summary(const struct stacks *s);

/* The fd of the object's map called name, or -ENOENT: for the BPF tests. */
int stacks__map_fd(const struct stacks *s, const char *name);

/* Sum of the counters that mean lost weight, stacks or notes. */
uint64_t mt_stacks_drops(const uint64_t c[MT_SC_NR]);

#endif /* MEMTRACE_STACKS_API_H */
