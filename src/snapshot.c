// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace snapshot: the command line and the report (table or JSON).
 * Collection and grouping live in snapshot_collect.c and snapshot_group.c.
 */
#include <argp.h>
#include <errno.h>
#include <pwd.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "commands.h"
#include "json_util.h"
#include "log.h"
#include "procfs.h"
#include "snapshot.h"
#include "units.h"

#define MAX_PIDS 4096

struct snap_cmd_opts {
	enum snap_by by;
	enum snap_sort sort;
	int pids[MAX_PIDS];
	size_t npids;
	bool have_pids;
	const char *filter;
	bool total_only;
	uint64_t watch_ns;
	uint64_t unit; /* 0: human units */
	const char *unit_name;
	bool json;
	int threads;
};

enum {
	OPT_FILTER = 0x100,
	OPT_BY,
	OPT_SORT,
	OPT_UNITS,
	OPT_JSON,
	OPT_THREADS,
};

static const struct argp_option snapshot_options[] = {
	{ "pid", 'p', "PID[,PID...]", 0, "Report only these processes" },
	{ "filter", OPT_FILTER, "REGEX", 0,
	  "Report only processes whose program name or command line matches REGEX (extended)" },
	{ "by", OPT_BY, "KEY", 0, "Group by program (default), pid, user or cgroup" },
	{ "sort", OPT_SORT, "KEY", 0, "Sort by ram (default), private, shared, swap or count" },
	{ "total", 't', NULL, 0, "Print only the total RAM used (for scripts)" },
	{ "watch", 'w', "SECONDS", 0, "Repeat the report every SECONDS (e.g. 2, 500ms)" },
	{ "units", OPT_UNITS, "UNIT", 0,
	  "Print whole numbers in B, K, M or G instead of human units" },
	{ "json", OPT_JSON, NULL, 0, "One JSON document (sizes in bytes); one per line with -w" },
	{ "threads", OPT_THREADS, "N", 0, "Read with N threads (default: one per CPU)" },
	{ "verbose", 'v', NULL, 0, "Say how many processes exited or had no memory" },
	{},
};

static const char snapshot_doc[] =
    "RAM and swap per program, counted with PSS so shared pages are not counted twice.\v"
    "Reads /proc/PID/smaps_rollup (smaps before Linux 4.14) of every process;\n"
    "needs no BPF. Private is memory only this program maps, Shared its\n"
    "proportional share of pages mapped by others, RAM used = Private + Shared\n"
    "(the PSS), Swap its share of swapped-out pages (SwapPss). Hugetlb pages are\n"
    "added. Processes sharing one address space (CLONE_VM) are counted once;\n"
    "kernel threads are left out. Programs are named as ps_mem names them: a\n"
    "script run by its #! line shows as the script. Run as a normal user it\n"
    "reports what it may read and says how many processes it could not.\n"
    "\n"
    "EXAMPLES:\n"
    "  memtrace snapshot                       every program, biggest first\n"
    "  memtrace snapshot -p 1234,5678          two processes\n"
    "  memtrace snapshot --filter 'postgres|pgbouncer' --sort swap\n"
    "  memtrace snapshot --by user             RAM per user\n"
    "  memtrace snapshot --total --units M     one number in MiB, for scripts\n"
    "  memtrace snapshot --json | jq '.groups[0]'\n"
    "  memtrace snapshot -w 2                  every two seconds\n"
    "\n"
    "Exit status: 0 on success; 1 when nothing could be read; 2 on a usage error.";

static const char snapshot_usage[] = "[-p PID[,PID...]] [--by KEY] [--sort KEY] [--json]";

static error_t parse_snapshot_opt(int key, char *arg, struct argp_state *state)
{
	struct snap_cmd_opts *o = state->input;
	int err;

	switch (key) {
	case 'p':
		err = parse_pid_list(arg, o->pids, MAX_PIDS, &o->npids);
		if (err == -ERANGE)
			argp_error(state, "invalid --pid '%s': at most %d PIDs, each at most %d",
				   arg, MAX_PIDS, INT32_MAX);
		else if (err)
			argp_error(state,
				   "invalid --pid '%s': expected PID[,PID...] without duplicates",
				   arg);
		o->have_pids = true;
		break;
	case OPT_FILTER:
		o->filter = arg;
		break;
	case OPT_BY:
		if (snapshot_by_parse(arg, &o->by))
			argp_error(state, "invalid --by '%s': expected " SNAP_BY_CHOICES, arg);
		break;
	case OPT_SORT:
		if (strcmp(arg, "ram") == 0)
			o->sort = SNAP_SORT_RAM;
		else if (strcmp(arg, "private") == 0)
			o->sort = SNAP_SORT_PRIVATE;
		else if (strcmp(arg, "shared") == 0)
			o->sort = SNAP_SORT_SHARED;
		else if (strcmp(arg, "swap") == 0)
			o->sort = SNAP_SORT_SWAP;
		else if (strcmp(arg, "count") == 0)
			o->sort = SNAP_SORT_COUNT;
		else
			argp_error(
			    state,
			    "invalid --sort '%s': expected ram, private, shared, swap or count",
			    arg);
		break;
	case 't':
		o->total_only = true;
		break;
	case 'w':
		/* a floor: a snapshot reads every process's smaps, back to back is a busy loop */
		if (parse_duration(arg, &o->watch_ns, 0) || o->watch_ns < 100000000ULL)
			argp_error(state,
				   "invalid --watch '%s': expected at least 100ms, as seconds "
				   "like 2 or 0.5 or a duration like 500ms",
				   arg);
		break;
	case OPT_UNITS:
		if (strcmp(arg, "B") == 0)
			o->unit = 1, o->unit_name = "B";
		else if (strcmp(arg, "K") == 0)
			o->unit = 1ULL << 10, o->unit_name = "KiB";
		else if (strcmp(arg, "M") == 0)
			o->unit = 1ULL << 20, o->unit_name = "MiB";
		else if (strcmp(arg, "G") == 0)
			o->unit = 1ULL << 30, o->unit_name = "GiB";
		else
			argp_error(state, "invalid --units '%s': expected B, K, M or G", arg);
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_THREADS: {
		uint64_t v;

		if (parse_uint(arg, 1, 16, &v))
			argp_error(state, "invalid --threads '%s': expected 1 to 16", arg);
		o->threads = (int)v;
		break;
	}
	case 'v':
		mt_verbose++;
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument '%s'", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void fmt_size(const struct snap_cmd_opts *o, char *buf, size_t len, uint64_t bytes)
{
	if (o->unit) /* rounded half up, in integers (no libm: see units.c) */
		snprintf(buf, len, "%llu",
			 (unsigned long long)(bytes / o->unit +
					      (bytes % o->unit >= o->unit - bytes % o->unit)));
	else
		format_size(buf, len, bytes);
}

/* Table rows are one line each: control bytes in names would break them. */
static void print_name(const char *name)
{
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		putchar(*c < 0x20 || *c == 0x7f ? '?' : *c);
}

static void print_table(const struct snap_cmd_opts *o, const struct snap_group *groups, int n,
			const struct snap_totals *t)
{
	char a[32], b[32], c[32], d[32];

	if (o->total_only) {
		fmt_size(o, a, sizeof(a), t->private_bytes + t->shared_bytes);
		printf("%s\n", a);
		return;
	}
	static const char *const key_names[] = {
		[SNAP_BY_PROGRAM] = "Program",
		[SNAP_BY_PID] = "Process",
		[SNAP_BY_USER] = "User",
		[SNAP_BY_CGROUP] = "Cgroup",
	};
	const char *key = key_names[o->by];

	if (o->unit)
		printf("%12s %12s %12s %12s  %s (sizes in %s)\n", "Private", "Shared", "RAM used",
		       "Swap", key, o->unit_name);
	else
		printf("%12s %12s %12s %12s  %s\n", "Private", "Shared", "RAM used", "Swap", key);
	for (int i = 0; i < n; i++) {
		const struct snap_group *g = &groups[i];

		fmt_size(o, a, sizeof(a), g->private_bytes);
		fmt_size(o, b, sizeof(b), g->shared_bytes);
		fmt_size(o, c, sizeof(c), snap_group_ram(g));
		fmt_size(o, d, sizeof(d), g->swap_bytes);
		printf("%12s %12s %12s %12s  ", a, b, c, d);
		print_name(g->name);
		if (o->by == SNAP_BY_PID)
			printf(" [%d]", g->pid);
		if (g->count > 1)
			printf(" (%u)", g->count);
		putchar('\n');
	}
	fmt_size(o, a, sizeof(a), t->private_bytes);
	fmt_size(o, b, sizeof(b), t->shared_bytes);
	fmt_size(o, c, sizeof(c), t->private_bytes + t->shared_bytes);
	fmt_size(o, d, sizeof(d), t->swap_bytes);
	printf("%.*s\n", 66, "------------------------------------------------------------------");
	printf("%12s %12s %12s %12s  total: %u process%s\n", a, b, c, d, t->processes,
	       t->processes == 1 ? "" : "es");
}

static const char *by_names[] = { "program", "pid", "user", "cgroup" };
static const char *sort_names[] = { "ram", "private", "shared", "swap", "count" };

static void add_sizes(struct json_object *obj, uint64_t private_bytes, uint64_t shared_bytes,
		      uint64_t swap_bytes)
{
	json_object_object_add(obj, "private_bytes", json_object_new_uint64(private_bytes));
	json_object_object_add(obj, "shared_bytes", json_object_new_uint64(shared_bytes));
	json_object_object_add(obj, "ram_bytes",
			       json_object_new_uint64(private_bytes + shared_bytes));
	json_object_object_add(obj, "swap_bytes", json_object_new_uint64(swap_bytes));
}

static int print_json(const struct snap_cmd_opts *o, const struct snap_group *groups, int n,
		      const struct snap_totals *t)
{
	struct json_object *doc = json_object_new_object(), *total, *arr;
	const char *text;

	if (!doc)
		return -ENOMEM;
	json_object_object_add(doc, "by", json_object_new_string(by_names[o->by]));
	json_object_object_add(doc, "sort", json_object_new_string(sort_names[o->sort]));
	if (!o->total_only) {
		arr = json_object_new_array();
		for (int i = 0; i < n; i++) {
			const struct snap_group *g = &groups[i];
			struct json_object *row = json_object_new_object();

			json_object_object_add(row, "name",
					       mt_json_string(g->name, strlen(g->name)));
			if (o->by == SNAP_BY_PID)
				json_object_object_add(row, "pid", json_object_new_int(g->pid));
			if (o->by == SNAP_BY_USER)
				json_object_object_add(row, "uid", json_object_new_int64(g->uid));
			json_object_object_add(row, "processes", json_object_new_int64(g->count));
			add_sizes(row, g->private_bytes, g->shared_bytes, g->swap_bytes);
			json_object_array_add(arr, row);
		}
		json_object_object_add(doc, "groups", arr);
	}
	total = json_object_new_object();
	json_object_object_add(total, "processes", json_object_new_int64(t->processes));
	add_sizes(total, t->private_bytes, t->shared_bytes, t->swap_bytes);
	json_object_object_add(doc, "total", total);
	json_object_object_add(doc, "unreadable", json_object_new_int64(t->unreadable));
	json_object_object_add(doc, "failed", json_object_new_int64(t->failed));
	text = json_object_to_json_string_ext(doc, o->watch_ns ? JSON_C_TO_STRING_PLAIN
							       : JSON_C_TO_STRING_PRETTY |
								     JSON_C_TO_STRING_SPACED);
	printf("%s\n", text);
	json_object_put(doc);
	return 0;
}

/* strerror() capitalises; our messages are lowercase */
static const char *err_text(int err)
{
	static __thread char buf[128];

	snprintf(buf, sizeof(buf), "%s", strerror(-err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* With -p every process the user named and we could not count gets a line. */
static void report_named_failures(const struct snap_proc *procs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct snap_proc *p = &procs[i];

		switch (p->state) {
		case SNAP_GONE:
			mt_err("process %d exited before it could be read", p->pid);
			break;
		case SNAP_NO_MM:
			mt_err("process %d has no memory of its own (kernel thread or zombie)",
			       p->pid);
			break;
		case SNAP_UNREADABLE:
			mt_err("cannot read /proc/%d/smaps_rollup: %s (run with sudo)", p->pid,
			       err_text(p->err));
			break;
		case SNAP_FAILED:
			mt_err("cannot read /proc/%d/smaps_rollup: %s", p->pid, err_text(p->err));
			break;
		default:
			break;
		}
	}
}

/* One report: collect, count shared mms once, group, print. 0, or 1 when nothing was read. */
static int report_once(const struct snap_cmd_opts *o, const regex_t *re)
{
	struct snapshot_opts sopts = {
		.by = o->by,
		.filter = re,
		.threads = o->threads,
		.no_names = o->total_only && !re,
	};
	struct snap_group *groups = NULL;
	struct snap_proc *procs = NULL;
	struct snap_strings *names = NULL;
	struct snap_totals totals;
	int *pids = NULL, ngroups, ret = MT_EXIT_FAILURE, err;
	size_t n = 0, readable = 0;
	uint64_t t0 = mt_clock_ns(CLOCK_MONOTONIC), t1, t2, t3;

	if (o->have_pids) {
		pids = malloc(o->npids * sizeof(*pids));
		if (!pids) {
			mt_err("cannot allocate the PID list: out of memory");
			goto cleanup;
		}
		/* a PID that does not exist is named once and left out */
		for (size_t i = 0; i < o->npids; i++) {
			if (proc_exists(o->pids[i]))
				pids[n++] = o->pids[i];
			else
				mt_err("no process with PID %d", o->pids[i]);
		}
		procs = calloc(n ? n : 1, sizeof(*procs));
		if (!procs) {
			mt_err("cannot allocate %zu process records: out of memory", n);
			goto cleanup;
		}
		err = snapshot_collect(pids, n, &sopts, procs, &names);
	} else {
		err = snapshot_collect_all(getpid(), &sopts, &procs, &n, &names);
		if (err == -ENOMEM) {
			mt_err("cannot allocate the process records: out of memory");
			goto cleanup;
		}
	}
	if (err) {
		mt_err("cannot read processes: %s", err_text(err));
		goto cleanup;
	}
	t1 = mt_clock_ns(CLOCK_MONOTONIC);
	err = snapshot_dedupe(procs, n, snap_kcmp_vm);
	t2 = mt_clock_ns(CLOCK_MONOTONIC);
	if (err < 0) {
		mt_err("cannot compare address spaces: %s", err_text(err));
		goto cleanup;
	}
	mt_info("%d processes share an address space with another and are counted once", err);
	ngroups = snapshot_group(procs, n, o->by, o->sort, snap_user_name, &groups, &totals);
	t3 = mt_clock_ns(CLOCK_MONOTONIC);
	mt_debug("list+collect %.2f ms, dedupe %.2f ms, group %.2f ms", (double)(t1 - t0) / 1e6,
		 (double)(t2 - t1) / 1e6, (double)(t3 - t2) / 1e6);
	if (ngroups < 0) {
		mt_err("cannot group processes: %s", err_text(ngroups));
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++)
		readable += procs[i].state == SNAP_OK || procs[i].state == SNAP_FILTERED;
	if (o->have_pids)
		report_named_failures(procs, n);
	else if (totals.unreadable && geteuid() != 0)
		mt_warn("%u process%s not readable; run with sudo for all", totals.unreadable,
			totals.unreadable == 1 ? "" : "es");
	else if (totals.unreadable)
		/* root too can be refused, e.g. a sandbox's init under another user namespace */
		mt_warn("%u process%s not readable even as root (permission denied)",
			totals.unreadable, totals.unreadable == 1 ? "" : "es");
	if (!o->have_pids && totals.failed)
		mt_warn("%u process%s could not be parsed (run with -v for details)", totals.failed,
			totals.failed == 1 ? "" : "es");
	if (mt_verbose) {
		unsigned int no_mm = 0;

		for (size_t i = 0; i < n; i++) {
			no_mm += procs[i].state == SNAP_NO_MM;
			if (!o->have_pids && procs[i].state == SNAP_FAILED)
				mt_info("process %d: %s", procs[i].pid, err_text(procs[i].err));
		}
		mt_info("%zu PIDs: %u counted, %u exited while read, %u without memory "
			"(kernel threads, zombies)",
			n, totals.processes, totals.gone, no_mm);
	}
	if (o->have_pids && !readable) {
		mt_err("none of the given processes could be read");
		goto cleanup;
	}
	if (o->json)
		err = print_json(o, groups, ngroups, &totals);
	else
		print_table(o, groups, ngroups, &totals);
	if (err < 0) {
		mt_err("cannot build the JSON document: out of memory");
		goto cleanup;
	}
	ret = MT_EXIT_OK;
cleanup:
	for (size_t i = 0; procs && i < n; i++)
		free(procs[i].cgroup);
	free(groups);
	free(procs);
	snap_strings__free(names);
	free(pids);
	return ret;
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct argp argp = {
		.options = snapshot_options,
		.parser = parse_snapshot_opt,
		.args_doc = snapshot_usage,
		.doc = snapshot_doc,
	};
	struct snap_cmd_opts *o;
	regex_t re;
	bool have_re = false;
	int ret = MT_EXIT_FAILURE, err;

	/* the PID list makes the options too big for the stack */
	o = calloc(1, sizeof(*o));
	if (!o) {
		mt_err("cannot allocate options: out of memory");
		return MT_EXIT_FAILURE;
	}
	argp_err_exit_status = MT_EXIT_USAGE;
	err = argp_parse(&argp, argc, argv, 0, NULL, o);
	if (err) {
		ret = MT_EXIT_USAGE;
		goto cleanup;
	}
	mt_json_errors = o->json;
	if (o->filter) {
		err = regcomp(&re, o->filter, REG_EXTENDED | REG_NOSUB);
		if (err) {
			char msg[128];

			regerror(err, &re, msg, sizeof(msg));
			mt_err("invalid --filter '%s': %s", o->filter, msg);
			ret = MT_EXIT_USAGE;
			goto cleanup;
		}
		have_re = true;
	}
	if (o->watch_ns)
		setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		struct timespec ts;

		ret = report_once(o, have_re ? &re : NULL);
		if (!o->watch_ns || ret != MT_EXIT_OK)
			break;
		fflush(stdout);
		ts.tv_sec = (time_t)(o->watch_ns / 1000000000ULL);
		ts.tv_nsec = (long)(o->watch_ns % 1000000000ULL);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		if (!o->json && !o->total_only)
			putchar('\n');
	}
cleanup:
	if (have_re)
		regfree(&re);
	free(o);
	return ret;
}
