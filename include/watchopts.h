/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The options of the commands that watch processes over time (top, serve,
 * run): -i/--interval, --reconcile, -d/--duration and --max-procs, parsed
 * by one argp child parser. Each command keeps its own --help lines and
 * bounds: it fills a struct watch_opts with where each value goes, what is
 * allowed and how --help says it, and puts watch_opts__children() in its
 * struct argp. A value out of bounds is a usage error of one line naming
 * it (argp_error: exit 2).
 */
#ifndef MEMTRACE_WATCHOPTS_H
#define MEMTRACE_WATCHOPTS_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>

#define WATCH_MAX_PROCS_MIN 16
#define WATCH_MAX_PROCS_MAX 4194304 /* the kernel's PID_MAX_LIMIT */

struct watch_opts {
	/* where the values go; NULL: the command has no such option */
	uint64_t *interval_ns;
	uint64_t *reconcile_ns;
	uint64_t *duration_ns;
	uint32_t *max_procs;
	bool *reconcile_given; /* set true by --reconcile (may be NULL) */
	/* bounds, and the examples the error messages give */
	uint64_t min_interval_ns;
	uint64_t min_reconcile_ns; /* a nonzero --reconcile below it is refused; 0: any */
	const char *interval_like; /* "500ms or 2s" */
	const char *reconcile_like;
	/* the --help lines, and their argp option group */
	const char *interval_doc;
	const char *reconcile_doc;
	const char *duration_doc;
	int group;
	/* private: built by watch_opts__children */
	struct argp_option options[5];
	struct argp argp;
	struct argp_child children[2];
};

/*
 * The children array for the command's struct argp (.children): the
 * options of w that have a destination, merged into the command's own
 * --help. w must outlive argp_parse.
 */
const struct argp_child *watch_opts__children(struct watch_opts *w);

#endif /* MEMTRACE_WATCHOPTS_H */
