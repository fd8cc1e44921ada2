// SPDX-License-Identifier: GPL-2.0
/* The shared -i/--reconcile/-d/--max-procs argp child (see watchopts.h). */
#include <stddef.h>
#include <string.h>
#include "units.h"
#include "watchopts.h"

enum {
	WOPT_RECONCILE = 0x1000, /* above every command's own long-only keys */
	WOPT_MAX_PROCS,
};

static error_t parse_watch_opt(int key, char *arg, struct argp_state *state);

/*
 * argp hands a child no pointer of its own unless the parent sets one at
 * ARGP_KEY_INIT; the child's struct argp lives inside its watch_opts, so
 * the tree of children from the root (glibc wraps the command's argp in
 * one of its own) leads back to it without the parent's help.
 */
static struct watch_opts *watch_in(const struct argp *argp, int depth)
{
	for (const struct argp_child *c = argp->children; c && c->argp && depth < 4; c++) {
		struct watch_opts *w;

		if (c->argp->parser == parse_watch_opt)
			return (struct watch_opts *)((char *)c->argp -
						     offsetof(struct watch_opts, argp));
		w = watch_in(c->argp, depth + 1);
		if (w)
			return w;
	}
	return NULL;
}

static struct watch_opts *watch_of(const struct argp_state *state)
{
	return watch_in(state->root_argp, 0);
}

static error_t parse_watch_opt(int key, char *arg, struct argp_state *state)
{
	struct watch_opts *w = watch_of(state);
	char min[32];

	if (!w)
		return ARGP_ERR_UNKNOWN;
	switch (key) {
	case 'i':
		if (parse_duration(arg, w->interval_ns, 0) || *w->interval_ns < w->min_interval_ns)
			argp_error(
			    state,
			    "invalid --interval '%s': expected a duration of at least %s like "
			    "%s",
			    arg, format_duration(min, sizeof(min), w->min_interval_ns),
			    w->interval_like);
		break;
	case WOPT_RECONCILE:
		if (parse_duration(arg, w->reconcile_ns, 1) ||
		    (*w->reconcile_ns && *w->reconcile_ns < w->min_reconcile_ns)) {
			if (w->min_reconcile_ns)
				argp_error(
				    state,
				    "invalid --reconcile '%s': expected a duration of at least "
				    "%s like %s, or 0 to never read smaps_rollup",
				    arg, format_duration(min, sizeof(min), w->min_reconcile_ns),
				    w->reconcile_like);
			else
				argp_error(
				    state,
				    "invalid --reconcile '%s': expected a duration like %s, or "
				    "0 to never read smaps_rollup",
				    arg, w->reconcile_like);
		}
		if (w->reconcile_given)
			*w->reconcile_given = true;
		break;
	case 'd':
		if (parse_duration(arg, w->duration_ns, 0))
			argp_error(state,
				   "invalid --duration '%s': expected a duration like 30s or 5m",
				   arg);
		break;
	case WOPT_MAX_PROCS:
		if (parse_u32(arg, WATCH_MAX_PROCS_MIN, WATCH_MAX_PROCS_MAX, w->max_procs))
			argp_error(state,
				   "invalid --max-procs '%s': expected a number from %d to %d", arg,
				   WATCH_MAX_PROCS_MIN, WATCH_MAX_PROCS_MAX);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

const struct argp_child *watch_opts__children(struct watch_opts *w)
{
	struct argp_option *o = w->options;

	memset(w->options, 0, sizeof(w->options));
	if (w->interval_ns)
		*o++ = (struct argp_option){ "interval",      'i',     "DURATION", 0,
					     w->interval_doc, w->group };
	if (w->reconcile_ns)
		*o++ = (struct argp_option){ "reconcile", WOPT_RECONCILE,   "DURATION",
					     0,		  w->reconcile_doc, w->group };
	if (w->duration_ns)
		*o++ = (struct argp_option){ "duration",      'd',     "DURATION", 0,
					     w->duration_doc, w->group };
	if (w->max_procs)
		*o++ = (struct argp_option){ "max-procs",
					     WOPT_MAX_PROCS,
					     "N",
					     0,
					     "Capacity of the kernel's process table (default "
					     "16384)",
					     w->group };
	w->argp = (struct argp){ .options = w->options, .parser = parse_watch_opt };
	memset(w->children, 0, sizeof(w->children));
	/* no header, group 0: merged with the command's own options in --help */
	w->children[0] = (struct argp_child){ .argp = &w->argp };
	return w->children;
}
