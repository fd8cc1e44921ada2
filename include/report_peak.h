/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memtrace report's peak view (src/report_peak.c): for a --malloc
 * recording, the moment each process image's heap peaked and the one of
 * every traced process together, the exact bytes then, and the
 * outstanding bytes by call site at that moment (heaptrack_print's "PEAK
 * MEMORY CONSUMERS"). The sites share the exact peak out over the
 * allocation captures live then: sampled when captures are.
 */
#ifndef MEMTRACE_REPORT_PEAK_H
#define MEMTRACE_REPORT_PEAK_H

#include <json-c/json.h>
#include <stdio.h>
#include "profile.h"

struct peak_view {
	const struct recording *rec;
	struct profile *images; /* every image at its own peak */
	struct profile *all;	/* every image at the moment of the overall peak */
	size_t npeaks;		/* peak records, images and all */
};

/* Empty (npeaks 0) for a recording without peaks. 0 or -errno. */
int peak_view__build(struct peak_view *v, const struct recording *rec, struct symbolizer *sym,
		     const struct profile_opts *opts);
void peak_view__free(struct peak_view *v);

/* The text section, top sites per peak; nothing without peaks. 0 or -errno. */
int peak_view__text(const struct peak_view *v, uint32_t top, FILE *out);
/* root's "peaks" array: one object per peak, images then all. 0 or -ENOMEM. */
int peak_view__json(const struct peak_view *v, uint32_t top, struct json_object *root);

/* "func+0xoff (file:line) [module]", sanitized for a terminal (src/report.c). */
void frame_where(const struct mt_frame *f, char *buf, size_t len);

#endif /* MEMTRACE_REPORT_PEAK_H */
