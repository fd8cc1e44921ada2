/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A recording turned into symbolized stacks, the model every report format
 * reads: one entry per recorded (process, stack, event, class) with the
 * leaf fix applied, frames innermost first, and the call site marked (the
 * innermost frame outside the C library, loader and vdso, which are the
 * allocator's frames rather than the program's).
 */
#ifndef MEMTRACE_PROFILE_H
#define MEMTRACE_PROFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "recording.h"
#include "symbolize.h"
#include "unwind.h"

struct mt_pstack {
	uint32_t pid;
	uint32_t gen;
	uint32_t event; /* enum mt_stack_event */
	uint32_t class; /* enum mt_class */
	uint32_t nframes;
	const char *comm;
	uint64_t count;
	int64_t bytes;
	struct mt_frame *frames; /* nframes, innermost first */
	uint64_t *ips;		 /* the addresses behind frames */
	uint32_t site;		 /* index of the call-site frame */
	uint32_t fp_frames;	 /* frames the kernel's walk found (before the fix) */
	bool leaf_fixed;	 /* a caller was put back by the leaf fix */
	bool unwound;		 /* from user-stack captures (CFI), not a frame-pointer walk */
};

struct profile_opts {
	uint32_t events; /* MT_EVMASK bits to keep */
	const int *pids; /* keep only these pids, when npids */
	size_t npids;
	const struct unwinder_opts *unwind; /* may be NULL */
};

struct profile {
	struct mt_pstack *stacks;
	size_t n;
	uint64_t total_count[MT_EV_NR];
	int64_t total_bytes[MT_EV_NR];
	uint64_t short_events;	 /* events whose walk gave 1-2 frames */
	uint64_t walked_events;	 /* events with a stack at all */
	uint64_t leaf_fixes;	 /* stacks that got a caller back */
	uint64_t leaf_unknown;	 /* keys of many events whose leaf's caller is shown unknown */
	uint64_t garbage_frames; /* frame-pointer walks cut at a return address in data */
	int64_t unsampled_bytes[MT_EV_NR]; /* sampled buckets without a capture */
	uint64_t captures;		   /* user-stack captures used */
	uint64_t incomplete_captures;	   /* of which the chain ends in [unknown] */
	struct unwinder_stats unwind;
	/* pprof__write: the heap at its peak as sample type "peak" (not owned), the default if
	 * lead_peak */
	const struct profile *peak;
	bool lead_peak;
};

struct profile *profile__build(const struct recording *rec, struct symbolizer *sym,
			       const struct profile_opts *opts);
/*
 * The --malloc heap at its peak: each image's peak (all: the peak of every
 * traced process together), its exact bytes shared over the captures live
 * at that moment as profile__build shares the end's. Events: malloc only.
 */
struct profile *profile__build_peak(const struct recording *rec, struct symbolizer *sym,
				    const struct profile_opts *opts, bool all);
void profile__free(struct profile *prof);

/* "name" of a frame for folded stacks and flame graphs: func, else module+0xoff. */
const char *mt_frame_label(const struct mt_frame *f, char *buf, size_t len);

/* Folded stacks (flamegraph.pl, speedscope): "comm;outer;...;inner bytes". */
int flamegraph__write_folded(const struct profile *prof, FILE *out);
/* Self-contained interactive SVG flame graph of bytes (click to zoom, search). */
int flamegraph__write_svg(const struct profile *prof, FILE *out, const char *title);
/* gzip-compressed profile.proto with one sample type per value: events and bytes. */
int pprof__write(const struct profile *prof, const struct recording *rec, FILE *out);

#endif /* MEMTRACE_PROFILE_H */
