// SPDX-License-Identifier: GPL-2.0
/*
 * Unwinds every user-stack capture of a recording twice, by libdw's walk
 * and by the walk over cached CFI rows (src/unwind.c), uncached, and
 * counts the captures whose frames differ (the first few are printed).
 * Also prints each walk's CPU time. For real recordings of Debian
 * binaries (bench/compare_perf.sh's workloads) and bench/ustack_synth's.
 *
 *   unwind_check RECORDING...      exit 1 when any capture differs
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "recording.h"
#include "unwind.h"

#define MAX_FRAMES 256

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int check(const char *path)
{
	struct unwinder_opts lo = { .no_cache = true, .no_fast = true }, fo = { .no_cache = true };
	struct unwinder *slow = NULL, *fast = NULL;
	uint64_t a[MAX_FRAMES], b[MAX_FRAMES];
	size_t n, differ = 0, frames = 0;
	const struct mt_rec_ustack *us;
	double tl = 0, tf = 0, t0, t1;
	struct unwinder_stats st;
	struct recording *rec;
	char err[256];
	int ret = 1;

	rec = recording__read(path, err, sizeof(err));
	if (!rec) {
		fprintf(stderr, "unwind_check: %s\n", err);
		return 1;
	}
	us = recording__ustacks(rec, &n);
	lo.expect = fo.expect = n;
	slow = unwinder__new(rec, &lo);
	fast = unwinder__new(rec, &fo);
	if (!slow || !fast) {
		fprintf(stderr, "unwind_check: out of memory\n");
		goto cleanup;
	}
	/* capture by capture, each walk timed on its own: no buffer of chains to fill */
	for (size_t i = 0; i < n; i++) {
		uint32_t na = 0, nb = 0, k = 0;

		t0 = cpu_now();
		if (unwinder__unwind(slow, &us[i], a, MAX_FRAMES, &na))
			na = 0;
		t1 = cpu_now();
		if (unwinder__unwind(fast, &us[i], b, MAX_FRAMES, &nb))
			nb = 0;
		tf += cpu_now() - t1;
		tl += t1 - t0;
		frames += na;
		if (na == nb && !memcmp(a, b, na * sizeof(*a)))
			continue;
		if (differ++ >= 5)
			continue;
		while (k < na && k < nb && a[k] == b[k])
			k++;
		printf("  capture %zu: frame %u: libdw %#" PRIx64 " of %u, fast %#" PRIx64
		       " of %u\n",
		       i, k, k < na ? a[k] : 0, na, k < nb ? b[k] : 0, nb);
	}
	unwinder__stats(fast, &st);
	printf("%s: %zu captures, %zu frames; %zu differ; %" PRIu64
	       " walked over cached rows; CPU libdw %.3f s, fast %.3f s\n",
	       path, n, frames, differ, st.fast, tl, tf);
	ret = differ ? 1 : 0;
cleanup:
	unwinder__free(slow);
	unwinder__free(fast);
	recording__free(rec);
	return ret;
}

int main(int argc, char **argv)
{
	int ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: unwind_check RECORDING...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++)
		ret |= check(argv[i]);
	return ret;
}
