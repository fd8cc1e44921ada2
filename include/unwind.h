/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User-stack captures (struct mt_rec_ustack) to call chains, with the
 * binaries' CFI (.eh_frame, .debug_frame) through elfutils libdwfl, as
 * perf's --call-graph dwarf does. One Dwfl per process image (pid, gen)
 * holds the image's recorded executable mappings, so processes that have
 * exited still unwind. The unwinder reads only two kinds of memory: the
 * copied stack [stack_addr, stack_addr + stack_len) and the contents of
 * the files the image mapped (build-id checked against the recording);
 * any other read fails and ends the walk.
 *
 * A walk that ends early (a read outside that memory, no CFI for a frame,
 * a return address outside every executable mapping of the image) ends
 * with MT_IP_UNKNOWN: the rest of the chain is unknown, never guessed.
 */
#ifndef MEMTRACE_UNWIND_H
#define MEMTRACE_UNWIND_H

#include <stdbool.h>
#include <stdint.h>
#include "recording.h"

/* Marks "the chain goes on, but its next frame could not be recovered". */
#define MT_IP_UNKNOWN UINT64_MAX

struct unwinder;

struct unwinder_opts {
	bool no_cache; /* unwind every capture, identical or not (for bench/) */
	bool no_fast;  /* every walk by libdw, none over the cached CFI rows (for tests) */
	size_t expect; /* captures this unwinder will see, if known: sizes its cache once */
};

/* rec must outlive the unwinder; opts may be NULL. NULL with errno on failure. */
struct unwinder *unwinder__new(const struct recording *rec, const struct unwinder_opts *opts);
void unwinder__free(struct unwinder *uw);

/*
 * Unwinds one capture of rec into ips (innermost first, at most max
 * entries, *nr set). ips[0] is the PC at the event; every later entry is
 * a return address (look it up at ip - 1), and the last one may be
 * MT_IP_UNKNOWN. Identical captures (same image, registers and stack
 * bytes) are unwound once and answered from a cache. Returns 0 whenever
 * the chain (at least the PC) was produced, even when the image had no
 * usable module; -EINVAL for a capture without a PC and SP for its arch
 * (*nr = 0), -ENOMEM.
 */
int unwinder__unwind(struct unwinder *uw, const struct mt_rec_ustack *u, uint64_t *ips,
		     uint32_t max, uint32_t *nr);

struct unwinder_stats {
	uint64_t unwound;     /* walks done */
	uint64_t fast;	      /* of them over cached CFI rows, not by libdw's walk */
	uint64_t cache_hits;  /* captures answered from the cache */
	uint64_t incomplete;  /* walks that ended in MT_IP_UNKNOWN */
	uint64_t images;      /* process images set up */
	uint64_t image_fails; /* images with no usable module */
};
void unwinder__stats(const struct unwinder *uw, struct unwinder_stats *st);

#endif /* MEMTRACE_UNWIND_H */
