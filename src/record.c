// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace record: the command line and the output. The kernel side and
 * its loader are bpf/stacks.bpf.c and src/stacks.c (stacks_api.h); the
 * held child is src/child.c; the file format is src/recording.c; the
 * allocator interposer's reader is src/preload.c (preload_api.h). This
 * file is over 800 lines: the command line and the run of both --malloc
 * paths; the interposer's glue here (choose_preload, the sink wrappers,
 * print_preload_stats) is the part to move out next, behind a private
 * header shared with record_opts.
 */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include "child.h"
#include "commands.h"
#include "log.h"
#include "preload.h"
#include "preload_api.h"
#include "recording.h"
#include "stacks_api.h"
#include "treeguard.h"
#include "units.h"

#define MAX_PIDS 1024

#ifdef __x86_64__
#define PRELOAD_CAPTURES 1 /* src/preload/ copies the registers of this arch only */
#else
#define PRELOAD_CAPTURES 0
#endif

/* --malloc-via: how the allocator is traced */
enum malloc_via {
	VIA_AUTO = 0,	 /* the interposer for -- CMD where it can work, else uprobes */
	VIA_PRELOAD = 1, /* the interposer, or a usage error where it cannot be used */
	VIA_UPROBE = 2,	 /* uprobes on the C library's allocator */
};

struct record_opts {
	int pids[MAX_PIDS];
	size_t npids;
	uint64_t duration_ns;
	const char *output;
	bool force;
	uint32_t events;
	uint32_t sample_every;
	bool malloc;
	uint32_t malloc_via; /* enum malloc_via */
	uint32_t max_stacks;
	uint32_t unwind;       /* enum mt_unwind */
	bool unwind_auto;      /* --unwind auto (the default): dwarf captures, fp per frame */
	uint32_t stack_bytes;  /* --stack-size */
	uint64_t sample_bytes; /* --sample-bytes */
	uint64_t fault_period; /* --sample-bytes, else MT_DEFAULT_FAULT_PERIOD */
	uint32_t capture_rate; /* --capture-rate */
	char **cmd;	       /* after "--" */
	int ncmd;
};

struct record_run {
	struct record_opts *opts;
	struct stacks *stacks;
	struct recording *rec;
	struct mt_child child;
	struct tree_guard *guard;	/* -- CMD: its cgroup and the watchdog */
	struct preload_reader *preload; /* --malloc through the interposer, else NULL */
	char **child_env;		/* CMD's environment with the interposer */
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

/* In the held child: CMD's environment with the interposer (an assignment: async-signal-safe). */
static void set_child_env(void *arg)
{
	extern char **environ;
	const struct record_run *r = arg;

	environ = r->child_env;
}

/* The processes to record: -p's, or CMD forked and held until it is traced. */
static int start_targets(struct record_run *r)
{
	struct record_opts *opts = r->opts;
	int err;

	if (opts->ncmd) {
		struct mt_child_opts co = { .before_exec = set_child_env, .arg = r };

		err = mt_child__spawn(&r->child, opts->cmd, r->child_env ? &co : NULL);
		if (r->preload)
			preload_reader__close_child_end(r->preload); /* CMD holds its copy */
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
	if (!opts->malloc || r->preload)
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

/*
 * The notes, and with the interposer its registrations and rings: those
 * are drained at least every 10 ms (a full ring makes the program wait)
 * and at once when a process registers (it waits for the answer).
 */
static int poll_sources(struct record_run *r)
{
	struct pollfd fds[2] = { { .fd = stacks__poll_fd(r->stacks), .events = POLLIN },
				 { .fd = -1, .events = POLLIN } };
	int err;

	if (!r->preload)
		err = stacks__poll(r->stacks, 100 /* ms */);
	else {
		fds[1].fd = preload_reader__fd(r->preload);
		poll(fds, 2, 10 /* ms */);
		err = stacks__poll(r->stacks, 0);
	}
	if (err) {
		mt_err("cannot poll the notes ring buffer: %s", strerror(-err));
		return err;
	}
	err = r->preload ? preload_reader__poll(r->preload) : 0;
	if (err)
		mt_err("cannot read the allocator interposer's socket: %s", strerror(-err));
	return err;
}

/* Polls the notes until -d, Ctrl-C, or every traced process has exited. */
static int follow(struct record_run *r)
{
	const struct record_opts *opts = r->opts;
	bool tty = isatty(STDERR_FILENO);
	uint64_t last_progress = 0, now;
	int err;

	while (!exiting) {
		err = poll_sources(r);
		if (err)
			return err;
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

/* --malloc through the interposer: what it saw, what it could not. */
static void print_preload_stats(struct record_run *r)
{
	struct stacks_malloc_stats ms;
	struct preload_stats st;
	uint64_t execs = stacks__notes(r->stacks, MT_NOTE_EXEC);

	preload_reader__stats(r->preload, &st);
	stacks__malloc_stats(r->stacks, &ms);
	fprintf(stderr,
		"--malloc: interposer in %" PRIu64 " process images (%" PRIu64
		" started by exec), %" PRIu64 " allocator records\n",
		st.images, st.exec_images, st.records);
	if (r->opts->unwind == MT_UNWIND_DWARF)
		fprintf(stderr,
			"--malloc: %" PRIu64 " allocation captures still allocated, %" PRIu64
			" dropped as their blocks were freed\n",
			ms.live, ms.released);
	/* every exec of a traced process that loads the library registers at its start */
	if (execs > st.exec_images)
		mt_warn("--malloc: %" PRIu64 " exec'd process images did not load the interposer "
			"(static or set-user-ID programs, or a cleared environment): their "
			"allocations are not counted",
			execs - st.exec_images);
	if (st.shadowed)
		mt_warn("--malloc: %" PRIu64 " process images call an allocator of their own "
			"(linked into the program, ahead of the interposer): their allocations are "
			"not counted",
			st.shadowed);
	if (st.refused)
		mt_warn("--malloc: %" PRIu64 " interposer registrations refused (not a traced "
			"process, or not the protocol): their allocations are not counted",
			st.refused);
	if (st.corrupt)
		mt_warn("--malloc: %" PRIu64 " process images wrote malformed records: what "
			"followed in their rings is not counted",
			st.corrupt);
	if (st.lost_bytes)
		mt_warn("--malloc: %" PRIu64 " bytes allocated could not be tracked (no memory): "
			"counted, never taken back",
			st.lost_bytes);
	if (st.unknown_frees)
		mt_info("--malloc: %" PRIu64 " frees of blocks allocated before the image "
			"registered (a fork's inherited blocks)",
			st.unknown_frees);
	if (st.capture_errors)
		mt_warn("--malloc: %" PRIu64 " allocation captures could not be kept: their bytes "
			"count, without call sites",
			st.capture_errors);
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
			" dropped as their blocks were freed (%" PRIu64 " of them kept: live at "
			"a heap's peak)\n",
			st.live, st.released, st.held);
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
	if (r->preload)
		print_preload_stats(r);
	else if (opts->malloc)
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

/* The interposer's sink: the stacks object's capture/release stream. */
static int sink_gen(void *ctx, uint32_t pid, uint32_t *gen)
{
	return stacks__malloc_gen(ctx, pid, gen);
}

static int sink_capture(void *ctx, uint64_t id, const struct mt_rec_ustack *u, int64_t image_peak,
			int64_t all_peak)
{
	return stacks__malloc_capture(ctx, id, u, image_peak, all_peak);
}

static void sink_release(void *ctx, uint64_t id, int64_t image_peak, int64_t all_peak)
{
	stacks__malloc_release(ctx, id, image_peak, all_peak);
}

static int sink_total(void *ctx, const struct preload_books *b)
{
	const struct stacks_malloc_image img = {
		.pid = b->pid,
		.gen = b->gen,
		.count = b->count,
		.bytes = b->bytes,
		.peak_bytes = b->peak_bytes,
		.peak_blocks = b->peak_blocks,
		.peak_ts_ns = b->peak_ts_ns,
		.only_image = b->only_image,
	};

	return stacks__malloc_total(ctx, &img);
}

/*
 * --malloc: the interposer (true, *lib set) or uprobes. auto says in one
 * line why it takes uprobes for -- CMD; preload where it cannot work is
 * an error (-EINVAL, said).
 */
static int choose_preload(const struct record_opts *opts, char *lib, size_t size, bool *use)
{
	char why[PATH_MAX + 128] = "";

	*use = false;
	if (!opts->malloc || opts->malloc_via == VIA_UPROBE || !opts->ncmd)
		return 0; /* -p with preload is refused by the parser */
	if (!PRELOAD_CAPTURES)
		snprintf(why, sizeof(why), "the interposer's stack captures are x86-64 only");
	else if (opts->unwind != MT_UNWIND_DWARF)
		snprintf(why, sizeof(why),
			 "--unwind fp walks stacks in the kernel, the interposer copies them");
	else if (preload_find_library(lib, size))
		snprintf(why, sizeof(why),
			 "no %s beside memtrace or in ../lib/memtrace/ (make builds it, make "
			 "install installs it)",
			 MT_PRELOAD_LIB);
	else if (strpbrk(lib, " :"))
		snprintf(why, sizeof(why), "the interposer's path %s has a space or colon", lib);
	else
		preload_check_command(opts->cmd[0], why, sizeof(why));
	if (!why[0]) {
		*use = true;
		return 0;
	}
	if (opts->malloc_via == VIA_PRELOAD) {
		mt_err("--malloc-via preload cannot work here: %s", why);
		return -EINVAL;
	}
	fprintf(stderr, "--malloc: uprobes, not the interposer: %s\n", why);
	return 0;
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
		.fault_period = opts->fault_period,
		.capture_rate = opts->capture_rate,
	};
	char lib[PATH_MAX];
	bool use_preload;
	int err;

	err = check_output(opts);
	if (!err)
		err = choose_preload(opts, lib, sizeof(lib), &use_preload);
	if (err)
		return err;
	so.malloc = opts->malloc && !use_preload; /* the uprobe programs are not loaded then */
	so.malloc_preload = use_preload;
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
	if (use_preload) {
		const struct preload_opts po = {
			.sample_bytes = opts->sample_bytes,
			.stack_bytes = opts->stack_bytes,
		};
		const struct preload_sink sink = {
			.ctx = r.stacks,
			.gen_of = sink_gen,
			.capture = sink_capture,
			.release = sink_release,
			.total = sink_total,
		};

		r.preload = preload_reader__new(&po, &sink);
		r.child_env = r.preload ? preload_reader__child_env(r.preload, lib, NULL) : NULL;
		if (!r.child_env) {
			err = -errno;
			mt_err("cannot set up the allocator interposer: %s", strerror(-err));
			goto cleanup;
		}
		mt_info("--malloc: the interposer %s", lib);
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
	if (!err && r.preload)
		err = preload_reader__harvest(r.preload);
	if (!err)
		err = stacks__harvest(r.stacks);
	if (err) {
		mt_err("cannot collect the recorded stacks: %s", strerror(-err));
		goto cleanup;
	}
	err = write_output(&r);
cleanup:
	preload_reader__free(r.preload); /* a process still writing sees memtrace gone */
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
	OPT_MALLOC_VIA,
	OPT_CAPTURE_RATE,
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
	{ "malloc-via", OPT_MALLOC_VIA, "HOW", 0,
	  "auto (default): an LD_PRELOAD interposer for -- CMD, uprobes for -p and where it "
	  "cannot work; preload; uprobe",
	  0 },
	{ "max-stacks", OPT_MAX_STACKS, "N", 0, "Stack map capacity (default 16384; fp)", 0 },
	{ "unwind", OPT_UNWIND, "MODE", 0,
	  "auto (default), dwarf: copy registers and the stack top for report's CFI unwinder; "
	  "fp: the kernel's frame-pointer walk",
	  0 },
	{ "stack-size", OPT_STACK_SIZE, "SIZE", 0,
	  "User stack copied per capture (default 8K, 512 to 64K; auto, dwarf)", 0 },
	{ "sample-bytes", OPT_SAMPLE_BYTES, "SIZE", 0,
	  "Mean fault bytes between two captures, randomized, under --capture-rate (default "
	  "16K), and malloc bytes (default 64K); auto, dwarf",
	  0 },
	{ "capture-rate", OPT_CAPTURE_RATE, "N", 0,
	  "Fault captures a second per CPU past which the period doubles, 0 for none (default "
	  "20000; auto, dwarf)",
	  0 },
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

static int parse_malloc_via(const char *arg, uint32_t *via)
{
	if (strcmp(arg, "auto") == 0)
		*via = VIA_AUTO;
	else if (strcmp(arg, "preload") == 0)
		*via = VIA_PRELOAD;
	else if (strcmp(arg, "uprobe") == 0)
		*via = VIA_UPROBE;
	else {
		mt_err("invalid --malloc-via '%s': expected auto, preload or uprobe", arg);
		return -EINVAL;
	}
	return 0;
}

/* --malloc-via against the other options, once all are parsed. */
static int check_malloc_via(const struct record_opts *opts)
{
	if (opts->malloc_via == VIA_PRELOAD && !opts->ncmd)
		mt_err("--malloc-via preload needs -- CMD: a running process (-p) takes uprobes "
		       "(--malloc-via uprobe or auto)");
	else if (opts->malloc_via == VIA_PRELOAD && opts->unwind != MT_UNWIND_DWARF)
		mt_err("--malloc-via preload needs --unwind auto or dwarf: the interposer copies "
		       "stacks for report to unwind");
	else if (opts->malloc_via != VIA_AUTO && !opts->malloc)
		mt_err("--malloc-via needs --malloc");
	else
		return 0;
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
	case OPT_MALLOC_VIA:
		if (parse_malloc_via(arg, &opts->malloc_via))
			argp_usage(state);
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
		opts->fault_period = opts->sample_bytes;
		break;
	case OPT_CAPTURE_RATE:
		if (parse_count(arg, "--capture-rate", 0, 10000000, &opts->capture_rate))
			argp_usage(state);
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
		if (check_malloc_via(opts))
			argp_usage(state);
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
	opts->fault_period = MT_DEFAULT_FAULT_PERIOD;
	opts->capture_rate = MT_DEFAULT_CAPTURE_RATE;
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
