// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "log.h"
#include "selfpages.h"

struct mapping {
	uintptr_t start, end;
	uint64_t rss_kb;
	bool candidate; /* read-only, private, backed by a file on a path */
	bool anon;	/* Anonymous > 0: a private copy lives in it */
};

static void release(struct mapping *m, struct selfpages_stats *st)
{
	if (!m->candidate)
		return;
	if (m->anon) {
		st->skipped++;
	} else if (madvise((void *)m->start, m->end - m->start, MADV_DONTNEED) == 0) {
		st->mappings++;
		st->rss_before_kb += m->rss_kb;
	} else {
		mt_debug("cannot release %#" PRIxPTR "-%#" PRIxPTR ": %s", m->start, m->end,
			 strerror(errno));
	}
	m->candidate = false;
}

int selfpages__release_startup(struct selfpages_stats *stats)
{
	struct selfpages_stats st = {};
	struct mapping m = {};
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int err;

	/* our own smaps: not a traced process's file, no untrusted.h needed */
	f = fopen("/proc/self/smaps", "re");
	if (!f) {
		err = -errno;
		mt_debug("cannot read /proc/self/smaps: %s", strerror(-err));
		return err;
	}
	/*
	 * a mapping is released once its own block (Anonymous included) was
	 * read; madvise(MADV_DONTNEED) splits or moves no mapping, so the walk
	 * of the rest goes on unchanged
	 */
	while (getline(&line, &cap, f) > 0) {
		unsigned long start, end;
		char perms[5], path[8];
		uint64_t kb;

		if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %7s", &start, &end, perms, path) >= 3) {
			release(&m, &st);
			m = (struct mapping){ .start = start, .end = end };
			/*
			 * r--p or r-xp on a path: code and constants, never written by
			 * us; anon_inode: (our BPF maps), /dev and /memfd: not files to
			 * fault back in from the page cache
			 */
			m.candidate = perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p' &&
				      strchr(line, '/') && !strstr(line, " /dev/") &&
				      !strstr(line, " /memfd:") && !strstr(line, "(deleted)");
		} else if (sscanf(line, "Rss: %" SCNu64 " kB", &kb) == 1) {
			m.rss_kb = kb;
		} else if (sscanf(line, "Anonymous: %" SCNu64 " kB", &kb) == 1) {
			m.anon = kb > 0;
		}
	}
	release(&m, &st);
	free(line);
	fclose(f);
	mt_debug("released %" PRIu64 " read-only file mappings (%" PRIu64
		 " kB resident), kept %" PRIu64 " with private copies",
		 st.mappings, st.rss_before_kb, st.skipped);
	if (stats)
		*stats = st;
	return 0;
}
