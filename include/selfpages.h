/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memtrace's own resident memory: the file pages that start-up touched
 * (libbpf's BTF parsing, libelf, the loader, the commands' setup) and a
 * poll never runs again.
 */
#ifndef MEMTRACE_SELFPAGES_H
#define MEMTRACE_SELFPAGES_H

#include <stdint.h>

struct selfpages_stats {
	uint64_t mappings;	/* read-only file mappings released */
	uint64_t skipped;	/* read-only file mappings kept: they hold private copies */
	uint64_t rss_before_kb; /* their Rss before, from /proc/self/smaps */
};

/*
 * Drops from our page tables every page of the read-only, private,
 * file-backed mappings (code and constants of memtrace and its libraries)
 * that holds no private copy (smaps Anonymous 0: no relocated RELRO page,
 * no breakpoint or uprobe written into it). The pages stay in the page
 * cache: what a later poll runs faults back in, the rest stops counting in
 * our RSS. Writable mappings, anonymous memory and the BPF maps we mapped
 * are never touched. Call once, after start-up. 0 or -errno (smaps not
 * readable); stats may be NULL.
 */
int selfpages__release_startup(struct selfpages_stats *stats);

#endif /* MEMTRACE_SELFPAGES_H */
