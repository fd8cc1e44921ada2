/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The layouts of the traced process images, into a recording: their
 * executable mappings from /proc/PID/maps (read when the kernel side says
 * the layout changed) and from the kernel's own mapping notes (struct
 * mt_vma_note, for images gone before /proc could be read), with each
 * mapped file's build-id (buildid.h), plus the names of each image.
 */
#ifndef MEMTRACE_PROCMAPS_H
#define MEMTRACE_PROCMAPS_H

#include <stddef.h>
#include <stdint.h>
#include "recording.h"
#include "stacks.h"

struct procmaps;

/* Writes into rec, which the caller owns and keeps alive. NULL with errno set. */
struct procmaps *procmaps__new(struct recording *rec);
void procmaps__free(struct procmaps *pm);

/*
 * Replaces the recorded maps of (pid, gen) with what /proc/PID/maps shows
 * now, and names the image (comm, exe; ppid from /proc unless given). A
 * process gone already is recorded as "[exited]" child of ppid when ppid
 * is known. 0 or -errno (counted in the statistics).
 */
int procmaps__read(struct procmaps *pm, uint32_t pid, uint32_t gen, uint32_t ppid);

/* Keeps a kernel-reported executable mapping (and names a new program image). */
void procmaps__on_vma_note(struct procmaps *pm, const struct mt_vma_note *n);

/* Adds the kernel-reported mappings of (pid, gen) that /proc did not show. 0 or -errno. */
int procmaps__add_kernel_maps(struct procmaps *pm, uint32_t pid, uint32_t gen);

/* /proc/PID/maps readings that worked and that failed. */
void procmaps__stats(const struct procmaps *pm, uint64_t *reads, uint64_t *failed);

/* The C library process pid maps, as a path we can open (via /proc/PID/root). */
int procmaps__find_libc(int pid, char *out, size_t len);

#endif /* MEMTRACE_PROCMAPS_H */
