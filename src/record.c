// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace record: the command line and the output. The kernel side and
 * its loader are bpf/stacks.bpf.c and src/stacks.c (stacks_api.h); the
 * held child is src/child.c; the file format is src/recording.c.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "child.h"
#include "commands.h"
#include "log.h"
#include "recording.h"
#include "stacks_api.h"
#include "treeguard.h"
#include "units.h"

#define MAX_PIDS 1024

struct record_opts {
	int pids[MAX_PIDS];
	size_t npids;
	uint64_t duration_ns;
	const char *output;
	bool force;
	uint32_t events;
	uint32_t sample_every;
	bool malloc;
	uint32_t max_stacks;
	uint32_t unwind;       /* enum mt_unwind */
	bool unwind_auto;      /* --unwind auto (the default): dwarf captures, fp per frame */
	uint32_t stack_bytes;  /* --stack-size */
	uint64_t sample_bytes; /* --sample-bytes */
	char **cmd;	       /* after "--" */
	int ncmd;
};

struct record_run {
	struct record_opts *opts;
	struct stacks *stacks;
	struct recording *rec;
	struct mt_child child;
	struct tree_guard *guard; /* -- CMD: its cgroup and the watchdog */
	int child_status;
	bool child_reaped;
	struct mt_rec_meta meta;
	uint64_t start_mono;
	char *cmdline;
};

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

/* Fail before recording, not after minutes of it. */
static int check_output(const struct record_opts *opts)
{
	char *dir;
	int err;

	if (!opts->force && access(opts->output, F_OK) == 0) {
		mt_err("%s exists: refusing to overwrite it (use -f, or -o another file)",
		       opts->output);
		return -EEXIST;
	}
	dir = strdup(opts->output);
	if (!dir)
		return -ENOMEM;
	err = access(strchr(dir, '/') ? dirname(dir) : ".", W_OK) ? -errno : 0;
	free(dir);
	if (err)
		mt_err("cannot write %s: %s", opts->output, strerror(-err));
	return err;
}

static void progress(struct record_run *r, uint64_t elapsed_ns, bool final)
{
	uint64_t c[MT_SC_NR];
	char dur[32];

	stacks__counters(r->stacks, c);
	format_duration(dur, sizeof(dur), elapsed_ns);
	fprintf(stderr,
		"\r\033[Krecording: %s, %" PRIu64 " events, %zu stacks, %" PRIu64 " drops%s", dur,
		c[MT_SC_EVENTS], stacks__nkeys(r->stacks), mt_stacks_drops(c), final ? "\n" : "");
}

/* CMD's status, and orphans of its tree that came back to us (the guard's subreaper). */
static void reap_child(struct record_run *r, bool block)
{
	int status;
	pid_t pid;

	if (r->child.pid <= 0 || r->child_reaped)
		return;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == r->child.pid) {
			r->child_reaped = true;
			r->child_status = status;
		}
	if (block && !r->child_reaped && waitpid(r->child.pid, &status, 0) == r->child.pid) {
		r->child_reaped = true;
		r->child_status = status;
	}
}

/* The processes to record: -p's, or CMD forked and held until it is traced. */
static int start_targets(struct record_run *r)
{
	struct record_opts *opts = r->opts;
	int err;

	if (opts->ncmd) {
		err = mt_child__spawn(&r->child, opts->cmd, NULL);
		if (err) {
			mt_err("cannot start %s: %s", opts->cmd[0], strerror(-err));
			return err;
		}
		/* held before exec: the cgroup (or the group) holds all it will start */
		tree_guard__adopt(r->guard, r->child.pid); /* says why at -v if only the group */
		opts->pids[0] = r->child.pid;
		opts->npids = 1;
	}
	for (size_t i = 0; i < opts->npids; i++) {
		err = stacks__track(r->stacks, opts->pids[i]);
		if (err == -ESRCH)
			mt_err("no process %d to record", opts->pids[i]);
		else if (err)
			mt_err("cannot track process %d: %s", opts->pids[i], strerror(-err));
		if (err)
			return err;
	}
	if (!opts->malloc)
		return 0;
	/* CMD is held before exec: its uprobes follow it into the new image (by mm) */
	if (opts->ncmd)
		return stacks__attach_malloc(r->stacks, getpid(), r->child.pid);
	for (size_t i = 0; i < opts->npids; i++) {
		err = stacks__attach_malloc(r->stacks, opts->pids[i], opts->pids[i]);
		if (err)
			return err;
	}
	return 0;
}

/* Polls the notes until -d, Ctrl-C, or every traced process has exited. */
static int follow(struct record_run *r)
{
	const struct record_opts *opts = r->opts;
	bool tty = isatty(STDERR_FILENO);
	uint64_t last_progress = 0, now;
	int err;

	while (!exiting) {
		err = stacks__poll(r->stacks, 100 /* ms */);
		if (err) {
			mt_err("cannot poll the notes ring buffer: %s", strerror(-err));
			return err;
		}
		reap_child(r, false);
		tree_guard__watch_tree(r->guard); /* fallback: what left CMD's group, by PID */
		now = mt_clock_ns(CLOCK_MONOTONIC);
		if (opts->duration_ns && now - r->start_mono >= opts->duration_ns)
			break;
		if (stacks__idle(r->stacks))
			break; /* every traced process has exited */
		if (tty && now - last_progress >= 1000000000ULL) {
			progress(r, now - r->start_mono, false);
			last_progress = now;
		}
	}
	r->meta.duration_ns = mt_clock_ns(CLOCK_MONOTONIC) - r->start_mono;
	if (tty)
		progress(r, r->meta.duration_ns, true);
	return 0;
}

/* A fork that never exec'd shares its parent's layout (report falls back to it). */
static bool parent_has_maps(const struct recording *rec, uint32_t pid, uint32_t gen)
{
	const struct mt_rec_proc *proc = recording__proc(rec, pid, gen);
	size_t n;
	const struct mt_rec_map *maps = recording__maps(rec, &n);

	if (gen || !proc || !proc->ppid)
		return false;
	for (size_t i = 0; i < n; i++)
		if (maps[i].pid == proc->ppid)
			return true;
	return false;
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Distinct (pid, gen) images with samples but no maps. */
static uint64_t maps_missed(const struct recording *rec)
{
	size_t ns;
	const struct mt_rec_sample *s = recording__samples(rec, &ns);
	uint64_t *images = calloc(ns ? ns : 1, sizeof(*images)), missed = 0;

	if (!images)
		return 0;
	for (size_t i = 0; i < ns; i++)
		images[i] = (uint64_t)s[i].pid << 32 | s[i].gen;
	qsort(images, ns, sizeof(*images), u64_cmp);
	for (size_t i = 0; i < ns; i++)
		if ((!i || images[i] != images[i - 1]) &&
		    !recording__has_maps(rec, images[i] >> 32, (uint32_t)images[i]) &&
		    !parent_has_maps(rec, images[i] >> 32, (uint32_t)images[i]))
			missed++;
	free(images);
	return missed;
}

static char *describe_targets(const struct record_opts *opts)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	if (opts->ncmd)
		for (int i = 0; i < opts->ncmd; i++)
			fprintf(f, "%s%s", i ? " " : "", opts->cmd[i]);
	else
		for (size_t i = 0; i < opts->npids; i++)
			fprintf(f, "%s%d", i ? "," : "-p ", opts->pids[i]);
	fclose(f);
	return text;
}

/* --malloc: where the uprobes were, what they ignored, what the captures became. */
static void print_malloc_stats(struct record_run *r)
{
	struct stacks_malloc_stats st;

	if (stacks__malloc_stats(r->stacks, &st))
		return;
	fprintf(stderr,
		"--malloc: uprobes in %" PRIu64 " processes, %" PRIu64
		" calls from other processes filtered\n",
		st.pids, st.filtered);
	if (st.followed)
		mt_warn("--malloc: %" PRIu64
			" children got their uprobes when their fork was seen, "
			"after they started: what each allocated before that is not counted",
			st.followed);
	if (st.missed_pids)
		mt_warn("--malloc: %" PRIu64 " children exited before their uprobes were attached: "
			"their allocations are not counted",
			st.missed_pids);
	if (r->opts->unwind == MT_UNWIND_DWARF)
		fprintf(stderr,
			"--malloc: %" PRIu64 " allocation captures still allocated, %" PRIu64
			" dropped as their blocks were freed\n",
			st.live, st.released);
	if (st.release_lost)
		mt_warn("--malloc: %" PRIu64 " frees of captured blocks lost (ring full): those "
			"captures still share the outstanding bytes",
			st.release_lost);
}

/* The recording's metadata, the file, and the closing lines on stderr. */
static int write_output(struct record_run *r)
{
	const struct record_opts *opts = r->opts;
	uint64_t counters[MT_SC_NR];
	char size[32];
	size_t ns;
	int err;

	err = stacks__counters(r->stacks, counters);
	if (err)
		return err;
	r->meta.events = opts->events;
	r->meta.sample_every = opts->sample_every;
	r->meta.malloc = opts->malloc;
	r->meta.ncounters = MT_SC_NR;
	memcpy(r->meta.counters, counters, sizeof(counters));
	r->meta.maps_missed = maps_missed(r->rec);
	r->cmdline = describe_targets(opts);
	r->meta.cmdline = r->cmdline;
	err = recording__set_meta(r->rec, &r->meta);
	if (!err)
		err = recording__write(r->rec, opts->output, opts->force);
	if (err) {
		mt_err("cannot write %s: %s", opts->output, strerror(-err));
		return err;
	}
	recording__samples(r->rec, &ns);
	fprintf(stderr,
		"recorded %" PRIu64 " events (%" PRIu64
		" with a stack) in %zu call stacks into %s\n",
		counters[MT_SC_EVENTS], counters[MT_SC_SAMPLED], ns, opts->output);
	if (opts->unwind == MT_UNWIND_DWARF)
		fprintf(stderr,
			"%" PRIu64 " stack captures (%s each at most), %" PRIu64 " lost (%" PRIu64
			" bytes of growth without a capture, kept in the totals)\n",
			counters[MT_SC_USTACKS], format_size(size, sizeof(size), opts->stack_bytes),
			counters[MT_SC_USTACK_LOST], counters[MT_SC_USTACK_LOST_BYTES]);
	if (opts->malloc)
		print_malloc_stats(r);
	if (counters[MT_SC_KFAULTS])
		mt_info("%" PRIu64 " faults the kernel took on user memory counted",
			counters[MT_SC_KFAULTS]);
	for (int i = MT_SC_STACK_COLLISION; i < MT_SC_NR; i++)
		if (counters[i] && i != MT_SC_USTACKS && i != MT_SC_KFAULTS &&
		    i != MT_SC_USTACK_LOST_BYTES)
			mt_warn("%s: %" PRIu64, mt_counter_name(i), counters[i]);
	if (r->meta.maps_missed)
		mt_warn("%" PRIu64 " process images exited before their maps could be read: their "
			"frames show as addresses",
			r->meta.maps_missed);
	return 0;
}

/* Lets CMD exec; its exec failure ends the recording with the shell's 127 or 126. */
static int release_child(struct record_run *r, int *exit_code)
{
	int err = mt_child__release(&r->child);

	if (!err)
		return 0;
	mt_err("cannot run %s: %s", r->opts->cmd[0], strerror(-err));
	reap_child(r, true);
	if (r->child_reaped && WIFEXITED(r->child_status))
		*exit_code = WEXITSTATUS(r->child_status);
	return err;
}

static void stop_child(struct record_run *r)
{
	if (r->child.pid <= 0)
		return;
	mt_child__close(&r->child); /* a child never released exits without exec */
	if (!r->child_reaped) {
		/* its own process group: the whole tree, as Ctrl-C would reach it */
		if (exiting || r->opts->duration_ns)
			kill(-r->child.pid, SIGTERM);
		reap_child(r, true);
	}
	if (r->child_reaped && WIFEXITED(r->child_status) && WEXITSTATUS(r->child_status))
		mt_info("%s exited with status %d", r->opts->cmd[0], WEXITSTATUS(r->child_status));
}

/* 0 or -errno; *exit_code is set when CMD could not be run (127, 126). */
static int run_record(struct record_opts *opts, int *exit_code)
{
	struct record_run r = { .opts = opts, .child = MT_CHILD_INIT };
	struct stacks_opts so = {
		.events = opts->events,
		.sample_every = opts->sample_every,
		.max_stacks = opts->max_stacks,
		.malloc = opts->malloc,
		.follow_forks = opts->ncmd > 0,
		.unwind = opts->unwind,
		.stack_bytes = opts->stack_bytes,
		.sample_bytes = opts->sample_bytes,
	};
	int err;

	err = check_output(opts);
	if (err)
		return err;
	r.rec = recording__new();
	if (!r.rec)
		return -ENOMEM;
	/* nothing CMD starts outlives the recording, even if we are SIGKILLed */
	if (opts->ncmd) {
		r.guard = tree_guard__new();
		if (!r.guard) {
			err = -errno;
			mt_err("cannot start the watchdog that ends the command with memtrace: %s",
			       strerror(-err));
			goto cleanup;
		}
	}
	r.stacks = stacks__new(&so, r.rec);
	if (!r.stacks) {
		err = -errno;
		goto cleanup;
	}
	err = start_targets(&r);
	if (err)
		goto cleanup;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	r.meta.start_ns = mt_clock_ns(CLOCK_REALTIME);
	r.start_mono = mt_clock_ns(CLOCK_MONOTONIC);
	if (opts->ncmd) {
		err = release_child(&r, exit_code);
		if (err)
			goto cleanup;
	}
	mt_info("recording %s into %s", opts->ncmd ? opts->cmd[0] : "processes", opts->output);
	err = follow(&r);
	if (!err)
		err = stacks__harvest(r.stacks);
	if (err) {
		mt_err("cannot collect the recorded stacks: %s", strerror(-err));
		goto cleanup;
	}
	err = write_output(&r);
cleanup:
	stacks__free(r.stacks);
	stop_child(&r);
	tree_guard__free(r.guard); /* what CMD left running ends with the recording */
	free(r.cmdline);
	recording__free(r.rec);
	return err;
}

/* ---- command line ---- */

enum {
	OPT_EVENTS = 0x100,
	OPT_SAMPLE,
	OPT_MALLOC,
	OPT_MAX_STACKS,
	OPT_UNWIND,
	OPT_STACK_SIZE,
	OPT_SAMPLE_BYTES,
};

static const char record_doc[] =
    "Record which call stacks grow memory: user stacks at page faults, mmap\n"
    "and brk (and with --malloc, the C library's allocator).\n"
    "\n"
    "usage: memtrace record [options] -p PID[,PID...]\n"
    "       memtrace record [options] -- CMD [ARGS...]\n"
    "\n"
    "Stops after -d, on Ctrl-C, or when every traced process has exited.\n"
    "With -- CMD, children of CMD are followed across fork and exec; at -d\n"
    "or Ctrl-C CMD is sent SIGTERM. Weights are bytes: a fault weighs its\n"
    "page (4 KiB; 2 MiB where the VMA is eligible for a transparent huge\n"
    "page), mmap and brk what they grew. See the README.\n"
    "\n"
    "EXAMPLES:\n"
    "  memtrace record -- make -j8          # a build and everything it runs\n"
    "  memtrace record -p 1234 -d 30s -o app.data\n"
    "  memtrace record --events fault --sample 100 -p 1234\n"
    "  memtrace record --malloc -- ./server # adds the outstanding-malloc view\n"
    "\v"
    "Then: memtrace report -i memtrace.data";

static const struct argp_option record_options[] = {
	{ "pid", 'p', "PID[,PID...]", 0, "Record these running processes (all their threads)", 0 },
	{ "duration", 'd', "DURATION", 0, "Stop after DURATION (500ms, 30s, 5m)", 0 },
	{ "output", 'o', "FILE", 0, "Write the recording to FILE (default memtrace.data)", 0 },
	{ "force", 'f', NULL, 0, "Overwrite an existing output file", 0 },
	{ "events", OPT_EVENTS, "LIST", 0, "Comma list of fault, mmap, brk (default all)", 0 },
	{ "sample", OPT_SAMPLE, "N", 0, "Take a stack at one event in N, weights scaled by N", 0 },
	{ "malloc", OPT_MALLOC, NULL, 0,
	  "Also trace the allocator of the traced processes (outstanding bytes)", 0 },
	{ "max-stacks", OPT_MAX_STACKS, "N", 0, "Stack map capacity (default 16384; fp)", 0 },
	{ "unwind", OPT_UNWIND, "MODE", 0,
	  "auto (default), dwarf: copy registers and the stack top for report's CFI unwinder; "
	  "fp: the kernel's frame-pointer walk",
	  0 },
	{ "stack-size", OPT_STACK_SIZE, "SIZE", 0,
	  "User stack copied per capture (default 8K, 512 to 64K; auto, dwarf)", 0 },
	{ "sample-bytes", OPT_SAMPLE_BYTES, "SIZE", 0,
	  "Mean fault bytes between two captures, randomized (default 64K; auto, dwarf)", 0 },
	{ "verbose", 'v', NULL, 0, "More diagnostics (repeat for libbpf's)", 0 },
	{},
};

/* a whole number option from min to max, said by name when it is not */
static int parse_count(const char *arg, const char *name, uint32_t min, uint32_t max, uint32_t *out)
{
	if (!parse_u32(arg, min, max, out))
		return 0;
	mt_err("invalid %s '%s': expected a whole number from %u to %u", name, arg, min, max);
	return -EINVAL;
}

static error_t record_parse(int key, char *arg, struct argp_state *state)
{
	struct record_opts *opts = state->input;
	int err;

	switch (key) {
	case 'p':
		err = parse_pid_list(arg, opts->pids, MAX_PIDS, &opts->npids);
		if (err) {
			mt_err("invalid --pid '%s': expected PIDs like 1234 or 1,2,3 (at most %d, "
			       "no repeats)",
			       arg, MAX_PIDS);
			argp_usage(state);
		}
		break;
	case 'd':
		if (parse_duration(arg, &opts->duration_ns, 0)) {
			mt_err("invalid --duration '%s': expected a duration like 500ms or 30s",
			       arg);
			argp_usage(state);
		}
		break;
	case 'o':
		if (!*arg) {
			mt_err("invalid --output '': expected a file name");
			argp_usage(state);
		}
		opts->output = arg;
		break;
	case 'f':
		opts->force = true;
		break;
	case OPT_EVENTS:
		if (mt_parse_events(arg, &opts->events)) {
			mt_err("invalid --events '%s': expected a comma list of fault, mmap, brk",
			       arg);
			argp_usage(state);
		}
		break;
	case OPT_SAMPLE:
		if (parse_count(arg, "--sample", 1, 1000000, &opts->sample_every))
			argp_usage(state);
		break;
	case OPT_MALLOC:
		opts->malloc = true;
		break;
	case OPT_MAX_STACKS:
		if (parse_count(arg, "--max-stacks", 64, 1 << 22, &opts->max_stacks))
			argp_usage(state);
		break;
	case OPT_UNWIND:
		if (strcmp(arg, "auto") && strcmp(arg, "dwarf") && strcmp(arg, "fp")) {
			mt_err("invalid --unwind '%s': expected auto, dwarf or fp", arg);
			argp_usage(state);
		}
		opts->unwind = strcmp(arg, "fp") ? MT_UNWIND_DWARF : MT_UNWIND_FP;
		opts->unwind_auto = strcmp(arg, "auto") == 0;
		break;
	case OPT_STACK_SIZE: {
		uint64_t v;

		if (parse_size(arg, &v) || v < 512 || v > MT_MAX_STACK_BYTES || v % 8) {
			mt_err("invalid --stack-size '%s': expected a size from 512 to 64K, a "
			       "multiple of 8, like 8K",
			       arg);
			argp_usage(state);
		}
		opts->stack_bytes = v;
		break;
	}
	case OPT_SAMPLE_BYTES:
		if (parse_size(arg, &opts->sample_bytes) || opts->sample_bytes < 4096 ||
		    opts->sample_bytes > (1ULL << 30)) {
			mt_err(
			    "invalid --sample-bytes '%s': expected a size from 4K to 1G, like 64K",
			    arg);
			argp_usage(state);
		}
		break;
	case 'v':
		mt_verbose++;
		break;
	case ARGP_KEY_ARG:
		/* the first non-option starts CMD: the rest is its argv */
		opts->cmd = &state->argv[state->next - 1];
		opts->ncmd = state->argc - state->next + 1;
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (!opts->ncmd && !opts->npids) {
			mt_err("nothing to record: give -p PID or -- CMD");
			argp_usage(state);
		}
		if (opts->ncmd && opts->npids) {
			mt_err("-p and -- CMD cannot be combined");
			argp_usage(state);
		}
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

int cmd_record(int argc, char **argv)
{
	struct record_opts *opts = calloc(1, sizeof(*opts));
	const struct argp argp = {
		record_options, record_parse, NULL, record_doc, NULL, NULL, NULL
	};
	int err, child_exit = 0;

	if (!opts) {
		mt_err("out of memory");
		return MT_EXIT_FAILURE;
	}
	opts->output = "memtrace.data";
	opts->events = MT_EVMASK(MT_EV_FAULT) | MT_EVMASK(MT_EV_MMAP) | MT_EVMASK(MT_EV_BRK);
	opts->sample_every = 1;
	opts->max_stacks = MT_DEFAULT_MAX_STACKS;
	opts->unwind = MT_UNWIND_DWARF;
	opts->unwind_auto = true;
	opts->stack_bytes = MT_DEFAULT_STACK_BYTES;
	opts->sample_bytes = MT_DEFAULT_SAMPLE_BYTES;
	argp_err_exit_status = MT_EXIT_USAGE;
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, opts)) {
		free(opts);
		return MT_EXIT_USAGE;
	}
	err = run_record(opts, &child_exit);
	free(opts);
	if (child_exit)
		return child_exit; /* CMD could not be run: as a shell says it */
	return err ? MT_EXIT_FAILURE : MT_EXIT_OK;
}
