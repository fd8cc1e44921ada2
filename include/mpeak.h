/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The --malloc capture log behind the peak view: allocation captures wait
 * here from their capture until their block is freed, or until the harvest
 * (then they stand for outstanding bytes at the end), and those that were
 * live when a heap peaked are kept until the harvest too, for the view of
 * that moment. Fed in stream order by every path that captures allocations
 * (the uprobes through src/stacks.c, the LD_PRELOAD library through its
 * reader), so both give the same recording.
 *
 * How the moment is found without a record per allocation: each event
 * carries the heap's peak as it stood when the event was made (exact: the
 * path counts every allocation and free). A peak higher than the previous
 * event said means the heap peaked since then, with the captures live now;
 * the captures freed after that moment are kept until the peak moves again.
 * Memory: the captures live now plus those live at the peak, never the
 * whole stream. Peaks are kept per process image (pid, gen) and for every
 * traced process together ("all").
 */
#ifndef MEMTRACE_MPEAK_H
#define MEMTRACE_MPEAK_H

#include <stdint.h>
#include "recording.h"

struct mpeak;

/* An empty log, or NULL with errno set. */
struct mpeak *mpeak__new(void);
void mpeak__free(struct mpeak *m); /* NULL is fine */

/*
 * An allocation capture (u->event MT_EV_MALLOC; copied, stack included).
 * id: nonzero, unique in the run over every process. image_peak, all_peak:
 * the highest outstanding bytes of u's image and of all processes so far,
 * read before this capture's own block was counted; -1 when that path
 * has no such figure (the moment of that scope is then not followed).
 * 0, -ENOMEM, -EEXIST (an id seen live already).
 */
int mpeak__capture(struct mpeak *m, uint64_t id, const struct mt_rec_ustack *u, int64_t image_peak,
		   int64_t all_peak);

/*
 * The block captured as id was freed (or its allocation failed); the peaks
 * as mpeak__capture's. An id not live (its capture lost) is ignored: false.
 */
bool mpeak__release(struct mpeak *m, uint64_t id, int64_t image_peak, int64_t all_peak);

/*
 * The exact final peak of an image (or all, MT_PEAK_ALL), from the path's
 * counters, after the last event was fed. A peak higher than the events
 * said was reached after the last of them: the captures live now. Copied
 * into the recording by mpeak__store. 0, -ENOMEM.
 */
int mpeak__set_peak(struct mpeak *m, const struct mt_rec_peak *peak);

/*
 * Into rec: the live captures (MT_FREC_USTACK, flagged MT_USTACK_AT_PEAK /
 * _ALL_PEAK when live at a peak too), the freed ones live at a peak
 * (MT_FREC_PEAK_USTACK) and the peaks given. Captures rec refused (bad
 * lengths) are counted in *refused. 0, -ENOMEM.
 */
int mpeak__store(const struct mpeak *m, struct recording *rec, uint64_t *refused);

/* Captures live now; captures released so far; of those, kept for a peak. */
size_t mpeak__live(const struct mpeak *m);
uint64_t mpeak__released(const struct mpeak *m);
size_t mpeak__held(const struct mpeak *m);

#endif /* MEMTRACE_MPEAK_H */
