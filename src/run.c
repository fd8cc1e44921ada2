// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace run: start a command held on a pipe, seed the tracer with it
 * (children are followed by the kernel from their fork), let it go, poll
 * the kernel's table until it exits, then judge the budgets.
 *
 * This file is over 800 lines and run_command() over 120 lines: run's life
 * in order (spawn held, attach, release, poll, judge, report) with one
 * cleanup label for all it started. The function is due to be split into
 * start, loop and judge steps over struct run_ctx once session 3's rework
 * of run's reconcile (its tree total and peaks) has landed.
 */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "commands.h"
#include "kfeatures.h"
#include "log.h"
#include "pidns_api.h"
#include "reconcile.h"
#include "run.h"
#include "tracer_api.h"
#include "treeguard.h"
#include "units.h"
#include "watchopts.h"

#define RUN_TIMELINE_POINTS 4096
#define RUN_DRAIN_BATCH 64

struct run_opts {
	struct run_budgets budgets;
	uint64_t interval_ns;
	uint64_t warmup_ns;
	uint64_t reconcile_ns; /* 0 = never read smaps_rollup */
	bool reconcile_given;
	const char *report_path;
	bool force; /* -f: replace an existing --report FILE */
	uint32_t max_procs;
	bool no_fail;
	bool require_bpf;
	bool force_procfs;
	bool attribute;
	bool quiet;
	char **cmd; /* after "--", NULL-terminated (argv's own) */
};

/* Signals arrive through a pipe so that the poll loop sees them in order. */
static int signal_pipe[2] = { -1, -1 };
/* a SIGCHLD byte is in the pipe: children to reap (one byte for any number) */
static volatile sig_atomic_t chld_pending = 1;

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = sig;

	if (sig == SIGCHLD) {
		if (chld_pending)
			return;
		chld_pending = 1;
	}
	/* a full pipe means enough signals are pending already */
	(void)!write(signal_pipe[1], &c, 1);
	errno = saved;
}

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

enum {
	OPT_MAX_RSS = 0x100,
	OPT_MAX_TOTAL_RSS,
	OPT_MAX_GROWTH,
	OPT_MAX_PSS,
	OPT_WARMUP,
	OPT_REPORT,
	OPT_NO_FAIL,
	OPT_REQUIRE_BPF,
	OPT_PROCFS,
	OPT_ATTRIBUTE,
};

static const struct argp_option run_options[] = {
	{ NULL, 0, NULL, 0, "Budgets (SIZE like 512M, 2G, 1.5GiB):", 1 },
	{ "max-rss", OPT_MAX_RSS, "SIZE", 0, "Peak RSS of any single process of the tree", 1 },
	{ "max-total-rss", OPT_MAX_TOTAL_RSS, "SIZE", 0,
	  "Peak of the RSS summed over the whole tree at any instant", 1 },
	{ "max-growth", OPT_MAX_GROWTH, "SIZE", 0,
	  "Tree RSS at the end minus at the baseline (first poll after --warmup)", 1 },
	{ "max-pss", OPT_MAX_PSS, "SIZE", 0,
	  "Highest PSS of any single process, read from smaps_rollup every --reconcile", 1 },
	{ NULL, 0, NULL, 0, "Behaviour:", 2 },
	{ "warmup", OPT_WARMUP, "DURATION", 0,
	  "Take the --max-growth baseline after DURATION "
	  "(default: the first poll)",
	  2 },
	{ "report", OPT_REPORT, "FILE", 0, "Write a JSON report to FILE (- for stdout)", 2 },
	{ "force", 'f', NULL, 0, "Replace an existing --report FILE", 2 },
	{ "no-fail", OPT_NO_FAIL, NULL, 0,
	  "Report budgets exceeded but exit with the command's status", 2 },
	{ "attribute", OPT_ATTRIBUTE, NULL, 0,
	  "Also record call stacks and name the top growth call "
	  "sites of the process that broke a budget",
	  2 },
	{ "require-bpf", OPT_REQUIRE_BPF, NULL, 0,
	  "Fail (exit 1) instead of falling back to polling "
	  "/proc when BPF cannot be used",
	  2 },
	{ "procfs", OPT_PROCFS, NULL, 0,
	  "Poll /proc instead of loading BPF (the fallback, on purpose)", 2 },
	{ "quiet", 'q', NULL, 0, "No summary on stderr (errors and budget breaches still print)",
	  2 },
	{ "verbose", 'v', NULL, 0,
	  "Show attach paths and the tracer's cost; repeat for libbpf debug", 2 },
	{},
};

static const char run_doc[] =
    "Run a command under the tracer, follow every process it starts, and\n"
    "check memory budgets when it ends.\n"
    "\n"
    "usage: memtrace run [options] -- CMD [ARGS...]\v"
    "RSS is file + anon + shmem as the kernel counts it (kmem:rss_stat).\n"
    "Peaks are kept in the kernel, so a spike of a few milliseconds between\n"
    "two polls still counts, and every process forked by CMD or its\n"
    "descendants is followed from its first instant.\n"
    "\n"
    "CMD runs in its own process group: SIGINT, SIGTERM, SIGHUP and SIGQUIT\n"
    "are forwarded to it (a second one sends SIGKILL), it is killed if\n"
    "memtrace dies, and what is left of the group when CMD exits is killed.\n"
    "\n"
    "--max-growth compares the tree's RSS at the last poll before CMD exited\n"
    "with the baseline: make the long-running process CMD itself (or exec it\n"
    "from the shell), or its children's exits count as shrinking.\n"
    "\n"
    "Without BPF (not root, no CAP_BPF and CAP_PERFMON) run warns and polls\n"
    "/proc: per-process peaks are the kernel's VmHWM, but processes shorter\n"
    "than a poll and tree-wide spikes between polls are missed (\"mode\":\n"
    "\"procfs\" in the report); --require-bpf makes that an error.\n"
    "\n"
    "EXAMPLES:\n"
    "  memtrace run --max-rss 512M -- ./build/tests\n"
    "  memtrace run --max-total-rss 2G --report mem.json -- make -j8\n"
    "  memtrace run --max-growth 50M --warmup 5s -- ./server --selftest\n"
    "  memtrace run --max-rss 1G --attribute --report mem.json -- ./bench\n"
    "  memtrace run --no-fail --report - -- sh -c 'gen | sort | uniq -c'\n"
    "\n"
    "Exit status:\n"
    "  CMD's own status, 128+N when signal N killed it (as a shell says)\n"
    "  3 when a budget was exceeded (unless --no-fail)\n"
    "  1 when memtrace itself failed, 2 on a usage error\n"
    "  126/127 when CMD cannot be run or is not found";

static void parse_budget(struct argp_state *state, struct run_opts *opts, enum run_budget_kind k,
			 const char *arg)
{
	if (parse_size(arg, &opts->budgets.limit[k]))
		argp_error(state, "invalid %s '%s': expected a size like 512M, 2G or 1.5GiB",
			   run_budget_option(k), arg);
	/* every process has some RSS: 0 would fail every run (growth 0 means "none") */
	if (!opts->budgets.limit[k] && k != RUN_MAX_GROWTH)
		argp_error(state, "invalid %s '%s': a budget must be above 0", run_budget_option(k),
			   arg);
	opts->budgets.set[k] = true;
}

static error_t parse_run_opt(int key, char *arg, struct argp_state *state)
{
	struct run_opts *opts = state->input;

	switch (key) {
	case OPT_MAX_RSS:
		parse_budget(state, opts, RUN_MAX_RSS, arg);
		break;
	case OPT_MAX_TOTAL_RSS:
		parse_budget(state, opts, RUN_MAX_TOTAL_RSS, arg);
		break;
	case OPT_MAX_GROWTH:
		parse_budget(state, opts, RUN_MAX_GROWTH, arg);
		break;
	case OPT_MAX_PSS:
		parse_budget(state, opts, RUN_MAX_PSS, arg);
		break;
	case OPT_WARMUP:
		if (parse_duration(arg, &opts->warmup_ns, 1))
			argp_error(state,
				   "invalid --warmup '%s': expected a duration like 5s or 500ms",
				   arg);
		break;
	case OPT_REPORT:
		if (!*arg)
			argp_error(state,
				   "invalid --report '': expected a file name, or - for stdout");
		opts->report_path = arg;
		break;
	case 'f':
		opts->force = true;
		break;
	case OPT_NO_FAIL:
		opts->no_fail = true;
		break;
	case OPT_REQUIRE_BPF:
		opts->require_bpf = true;
		break;
	case OPT_PROCFS:
		opts->force_procfs = true;
		break;
	case OPT_ATTRIBUTE:
		opts->attribute = true;
		break;
	case 'q':
		opts->quiet = true;
		break;
	case 'v':
		mt_verbose++;
		break;
	case ARGP_KEY_ARG:
		/* the first non-option starts CMD: the rest is its argv */
		opts->cmd = &state->argv[state->next - 1];
		state->next = state->argc;
		break;
	case ARGP_KEY_END:
		if (!opts->cmd)
			argp_error(state, "no command to run: give one after --, as in "
					  "'memtrace run --max-rss 1G -- ./tests'");
		if (opts->force_procfs && opts->require_bpf)
			argp_error(state,
				   "--procfs and --require-bpf contradict each other: keep one");
		if (opts->force_procfs && opts->attribute)
			argp_error(state, "--attribute needs BPF: drop --procfs");
		if (opts->attribute)
			opts->require_bpf = true; /* call stacks exist only with BPF */
		/* refused before CMD runs, not after it; the write checks again atomically */
		if (opts->report_path && strcmp(opts->report_path, "-") && !opts->force &&
		    faccessat(AT_FDCWD, opts->report_path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			argp_error(state,
				   "--report %s exists: refusing to overwrite it (use -f, or "
				   "another file)",
				   opts->report_path);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

struct run_ctx {
	struct run_opts *opts;
	pid_t child; /* the process whose exit ends the run */
	pid_t group; /* its process group */
	int pidfd;
	int epfd;	  /* the signal pipe, pidfd and attribution's fd, for wait_event() */
	bool pidfd_ready; /* the command has exited: reap it */
	bool child_done;
	int child_status;
	int signals_seen;
	int forwarded_sig; /* the last signal forwarded, 0 if none */
	bool tty_given;	   /* the terminal's foreground was handed to the group */
	struct tracer *tracer;
	struct run_procfs *procfs;
	struct reconciler *reconciler;
	struct reconcile_result *results;
	struct run_procs *procs;
	struct run_timeline *timeline;
	struct run_figures fig;
	bool have_baseline;
	uint64_t start_ns;
	uint64_t next_reconcile_ns;
	long page_size;
	uint64_t losses[MT_CNT_NR];
	struct run_attribution *attribution;
	struct tree_guard *guard; /* the command's cgroup and the watchdog */
	/* the last full read of the kernel's table, which a poll that finds the table unchanged
	 * reuses */
	bool have_read;
	uint64_t table_version;
	int64_t read_offset_pages;
	uint32_t read_live;
};

/*
 * The child: its own process group, killed when memtrace dies, held until
 * the tracer has its PID, then exec. Only async-signal-safe calls here.
 */
static void child_main(char **cmd, int go_fd, pid_t parent, const struct run_attribution *a)
{
	char c;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127); /* memtrace died before the death signal was armed */
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		signal(forwarded_signals[i], SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (read(go_fd, &c, 1) != 1)
		_exit(127); /* memtrace gave up before starting us */
	close(go_fd);
	execvp(cmd[0], cmd);
	{
		int err = errno;
		char msg[512];
		int len =
		    snprintf(msg, sizeof(msg), "memtrace: cannot run '%s': %s%s\n", cmd[0],
			     strerror(err), err == ENOENT ? " (check the name and PATH)" : "");

		if (len > 0)
			(void)!write(STDERR_FILENO, msg, len); /* nobody to tell if it fails */
		_exit(err == ENOENT ? 127 : 126);
	}
}

static int spawn_held(struct run_ctx *ctx, char **cmd, int *go_fd)
{
	int fds[2];
	pid_t parent = getpid(), pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(fds[0]);
		close(fds[1]);
		return err;
	}
	if (pid == 0) {
		close(fds[1]);
		child_main(cmd, fds[0], parent, ctx->attribution);
	}
	close(fds[0]);
	/* both sides set the group, so that neither can run ahead of it */
	setpgid(pid, pid);
	ctx->child = pid;
	ctx->group = pid;
	*go_fd = fds[1];
	return 0;
}

/* Interactive use: the command gets the terminal, so that Ctrl-C and reads reach it. */
static void give_terminal(struct run_ctx *ctx)
{
	if (!isatty(STDIN_FILENO) || tcgetpgrp(STDIN_FILENO) != getpgrp())
		return;
	if (tcsetpgrp(STDIN_FILENO, ctx->group) == 0)
		ctx->tty_given = true;
}

static void take_terminal_back(struct run_ctx *ctx)
{
	sigset_t set, old;

	if (!ctx->tty_given)
		return;
	/* a background group that sets the foreground gets SIGTTOU: block it */
	sigemptyset(&set);
	sigaddset(&set, SIGTTOU);
	sigprocmask(SIG_BLOCK, &set, &old);
	tcsetpgrp(STDIN_FILENO, getpgrp());
	sigprocmask(SIG_SETMASK, &old, NULL);
	ctx->tty_given = false;
}

/* Reap every child that ended: the command, and orphans reparented to us (subreaper). */
static void reap_children(struct run_ctx *ctx)
{
	int status;
	pid_t pid;

	/* no wait4() per wake: only once a child has ended (SIGCHLD, the pidfd) */
	if (!chld_pending && !ctx->pidfd_ready)
		return;
	chld_pending = 0; /* before the waits: a later exit sends its own SIGCHLD */
	ctx->pidfd_ready = false;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == ctx->child) {
			ctx->child_done = true;
			ctx->child_status = status;
		}
	}
}

static void handle_signals(struct run_ctx *ctx)
{
	unsigned char sigs[16];
	ssize_t n = read(signal_pipe[0], sigs, sizeof(sigs));

	for (ssize_t i = 0; i < n; i++) {
		int sig = sigs[i];

		if (sig == SIGCHLD)
			continue; /* chld_pending says it */
		ctx->signals_seen++;
		if (ctx->child_done)
			continue;
		if (ctx->signals_seen == 1) {
			mt_info("forwarding signal %d to the command's process group", sig);
			kill(-ctx->group, sig);
			ctx->forwarded_sig = sig;
		} else {
			mt_warn("second signal: killing the command's process group");
			kill(-ctx->group, SIGKILL);
		}
	}
}

/*
 * One process of the kernel's table in the form both sources share, and
 * the pages its correction adds to the raw counters (for the tree sum).
 * Exact as of the latest reconcile while the counters have not moved since
 * (reconciler__correct_fresh: run keeps maxima, which must not keep an
 * offset that outlived a fold), the raw counters otherwise. The kernel's
 * peak is a raw counter's; the record's peak is raised by rss_bytes too, so
 * a process held at its peak gets the exact figure.
 */
static void sample_from_tracer(const struct run_ctx *ctx, uint32_t tgid,
			       const struct mt_proc_stats *st, struct run_sample *s,
			       int64_t *offset_pages)
{
	uint64_t page = ctx->page_size, pages[MT_RSS_NR];

	reconciler__correct_fresh(ctx->reconciler, tgid, st, pages);
	*offset_pages = (int64_t)(pages[MT_RSS_FILE] + pages[MT_RSS_ANON] + pages[MT_RSS_SHMEM]) -
			(int64_t)(st->rss_pages[MT_RSS_FILE] + st->rss_pages[MT_RSS_ANON] +
				  st->rss_pages[MT_RSS_SHMEM]);
	memset(s, 0, sizeof(*s));
	s->pid = tgid;
	s->ppid = st->ppid;
	s->start_ns = st->start_ns;
	memcpy(s->comm, st->comm, MT_COMM_LEN);
	s->comm[MT_COMM_LEN - 1] = '\0';
	s->rss_bytes = (pages[MT_RSS_FILE] + pages[MT_RSS_ANON] + pages[MT_RSS_SHMEM]) * page;
	s->peak_bytes = st->rss_peak_pages * page;
	s->faults = st->faults;
	s->exited = st->flags & MT_PROC_EXITED;
}

static int poll_tracer(struct run_ctx *ctx, bool last, uint64_t *tree_now, uint64_t *tree_peak,
		       uint32_t *nr_live)
{
	uint64_t version = tracer__version(ctx->tracer);
	const struct mt_proc_stats *stats;
	const uint32_t *tgids;
	int64_t offsets = 0, tree;
	size_t count;
	int err;

	/*
	 * Nothing written in the table since the last read: its figures stand
	 * (no syscall). Faults pending on a CPU for a live process are added by
	 * a later read, the last one at the latest. Corrections move on their
	 * own, so with a reconciler every poll reads.
	 */
	if (!last && !ctx->reconciler && ctx->have_read && version == ctx->table_version) {
		offsets = ctx->read_offset_pages;
		*nr_live = ctx->read_live;
		goto tree;
	}
	err = tracer__read(ctx->tracer, &tgids, &stats, &count);
	if (err)
		return err;
	*nr_live = 0;
	for (size_t i = 0; i < count; i++) {
		struct run_sample s;
		int64_t offset;

		sample_from_tracer(ctx, tgids[i], &stats[i], &s, &offset);
		err = run_procs__update(ctx->procs, &s);
		if (err)
			return err;
		if (s.exited) {
			/*
			 * its final figures are in the table now (short-lived peaks lived
			 * only here) and taken: a slot not freed is tried again next poll
			 */
			tracer__reap_queue(ctx->tracer, &stats[i]);
			reconciler__forget(ctx->reconciler, s.pid);
		} else {
			/* the kernel's tree sum holds the live processes only */
			offsets += offset;
			(*nr_live)++;
			/* fallback guard: a setsid() child is held by its PID alone */
			tree_guard__watch(ctx->guard, s.pid);
		}
	}
	err = tracer__reap_flush(ctx->tracer);
	if (err)
		mt_debug("reap: %s: those slots are tried again at the next poll", strerror(-err));
	ctx->have_read = !err; /* a failed reap is tried again by the next read */
	ctx->table_version = version;
	ctx->read_offset_pages = offsets;
	ctx->read_live = *nr_live;
tree:
	err = tracer__tree_rss(ctx->tracer, tree_now, tree_peak);
	if (err)
		return err;
	/*
	 * The tree sum corrected as its processes are; the kernel's peak (a
	 * spike between polls) stays raw, within the per-CPU batch per process,
	 * and the peak is raised to the corrected sum now.
	 */
	tree = (int64_t)*tree_now + offsets * ctx->page_size;
	*tree_now = tree > 0 ? (uint64_t)tree : 0;
	if (*tree_peak < ctx->fig.tree_peak_bytes)
		*tree_peak = ctx->fig.tree_peak_bytes;
	if (*tree_peak < *tree_now)
		*tree_peak = *tree_now;
	return 0;
}

static int poll_procfs(struct run_ctx *ctx, uint64_t *tree_now, uint64_t *tree_peak,
		       uint32_t *nr_live)
{
	const struct run_sample *samples;
	size_t count;
	int err;

	err = run_procfs__poll(ctx->procfs, &samples, &count, tree_now);
	if (err)
		return err;
	*nr_live = 0;
	for (size_t i = 0; i < count; i++) {
		err = run_procs__update(ctx->procs, &samples[i]);
		if (err)
			return err;
		if (!samples[i].exited) {
			(*nr_live)++;
			tree_guard__watch(ctx->guard, samples[i].pid);
		}
	}
	/* between polls nothing is known: the peak is the highest poll */
	if (*tree_now > ctx->fig.tree_peak_bytes)
		*tree_peak = *tree_now;
	else
		*tree_peak = ctx->fig.tree_peak_bytes;
	return 0;
}

static void reconcile_step(struct run_ctx *ctx, uint64_t now)
{
	size_t n, count;
	const struct run_proc *all;

	if (!ctx->reconciler)
		return;
	while ((n = reconciler__drain(ctx->reconciler, ctx->results, RUN_DRAIN_BATCH)) > 0) {
		for (size_t i = 0; i < n; i++) {
			const struct reconcile_result *res = &ctx->results[i];
			struct run_proc *p = run_procs__find(ctx->procs, res->pid);
			uint64_t pss;

			if (res->err || !p)
				continue;
			/* tests wait for this line: the next poll's figures carry the correction */
			if (res->exact_ok)
				mt_debug("reconciled pid %u: status read, counters corrected",
					 res->pid);
			pss = res->pss_bytes;
			if (pss > p->peak_pss_bytes)
				p->peak_pss_bytes = pss;
		}
	}
	if (now < ctx->next_reconcile_ns)
		return;
	ctx->next_reconcile_ns = now + ctx->opts->reconcile_ns;
	all = run_procs__all(ctx->procs, &count);
	for (size_t i = 0; i < count; i++)
		if (!all[i].exited)
			reconciler__submit(ctx->reconciler, all[i].pid); /* -EAGAIN is counted */
}

static int poll_once(struct run_ctx *ctx)
{
	struct run_point pt = {};
	uint64_t now = mt_clock_ns(CLOCK_MONOTONIC), tree_now = 0, tree_peak = 0;
	uint32_t nr_live = 0;
	bool main_alive;
	int err;

	err = ctx->tracer ? poll_tracer(ctx, ctx->child_done, &tree_now, &tree_peak, &nr_live)
			  : poll_procfs(ctx, &tree_now, &tree_peak, &nr_live);
	if (err)
		return err;
	/* judged from this very reading: the exit may have come since we last reaped */
	main_alive = !ctx->child_done && run_procs__find(ctx->procs, ctx->child);
	ctx->fig.tree_peak_bytes = tree_peak;
	if (main_alive) {
		if (!ctx->have_baseline && now - ctx->start_ns >= ctx->opts->warmup_ns) {
			ctx->fig.tree_start_bytes = tree_now;
			ctx->have_baseline = true;
			/* tests wait for this line rather than for a guessed time */
			mt_info("growth baseline taken: %llu bytes", (unsigned long long)tree_now);
		}
		ctx->fig.tree_end_bytes = tree_now;
	}
	pt.t_ns = now - ctx->start_ns;
	pt.tree_bytes = tree_now;
	pt.tree_max_bytes = tree_now;
	pt.nr_procs = nr_live;
	err = run_timeline__add(ctx->timeline, &pt);
	if (err)
		return err;
	reconcile_step(ctx, now);
	/* tests wait for a poll rather than for a guessed time */
	mt_debug("poll at %llu ms: tree %llu bytes", (unsigned long long)(pt.t_ns / 1000000),
		 (unsigned long long)tree_now);
	return 0;
}

static int open_pidfd(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

/*
 * The fds wait_event() waits on, registered once (an epoll set costs a wake
 * less than poll()'s registering of each fd on every call). 0 or -errno.
 */
static int wait_setup(struct run_ctx *ctx)
{
	int fds[3] = { signal_pipe[0], ctx->pidfd,
		       ctx->attribution ? run_attribution__fd(ctx->attribution) : -1 };

	ctx->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ctx->epfd < 0)
		return -errno;
	for (int i = 0; i < 3; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fds[i] };

		if (fds[i] >= 0 && epoll_ctl(ctx->epfd, EPOLL_CTL_ADD, fds[i], &ev))
			return -errno;
	}
	return 0;
}

/* Wait for the next tick, a signal or the command's exit. */
static void wait_event(struct run_ctx *ctx, uint64_t deadline)
{
	struct epoll_event evs[3];
	uint64_t now = mt_clock_ns(CLOCK_MONOTONIC);
	int timeout_ms = deadline > now ? (int)((deadline - now + 999999) / 1000000) : 0;
	int n = epoll_wait(ctx->epfd, evs, 3, timeout_ms);

	for (int i = 0; i < n; i++) {
		if (evs[i].data.fd == signal_pipe[0])
			handle_signals(ctx);
		else if (evs[i].data.fd == ctx->pidfd)
			ctx->pidfd_ready = true;
	}
}

static int start_source(struct run_ctx *ctx, bool *bpf)
{
	struct run_opts *opts = ctx->opts;
	int pids[1] = { ctx->child };
	struct tracer_opts topts = {
		.pids = pids,
		.nr_pids = 1,
		.follow_forks = true,
		.track_tree = true,
		.max_procs = opts->max_procs,
	};

	*bpf = false;
	if (!opts->force_procfs) {
		if (features__check_privileges() == 0) {
			ctx->tracer = tracer__new(&topts);
			if (ctx->tracer) {
				*bpf = true;
				return 0;
			}
			if (opts->require_bpf)
				return -errno;
			mt_warn(
			    "cannot use BPF: falling back to polling /proc, which misses processes "
			    "shorter than --interval and spikes between polls (use --require-bpf "
			    "to "
			    "fail instead)");
		} else if (opts->require_bpf) {
			mt_err(
			    "cannot load BPF programs: permission denied (run as root, or grant "
			    "CAP_BPF and CAP_PERFMON; --require-bpf forbids the /proc fallback)");
			return -EPERM;
		} else {
			mt_warn(
			    "not allowed to load BPF (run as root, or grant CAP_BPF and "
			    "CAP_PERFMON): "
			    "polling /proc instead, which misses processes shorter than --interval "
			    "and spikes between polls");
		}
	}
	ctx->procfs = run_procfs__new(ctx->child);
	if (!ctx->procfs) {
		int err = -errno;

		mt_err("cannot set up /proc polling: %s", strerror(-err));
		return err;
	}
	return 0;
}

static const char procfs_caveat[] =
    "polled /proc: per-process peaks are the kernel's VmHWM, but processes that lived less "
    "than one interval are missing and the tree peak is the highest poll, not the highest "
    "instant";

static int run_command(struct run_opts *opts, int *exit_status)
{
	struct run_ctx ctx = { .opts = opts,
			       .child = -1,
			       .pidfd = -1,
			       .epfd = -1,
			       .page_size = sysconf(_SC_PAGESIZE) };
	struct sigaction sa = { .sa_handler = on_signal };
	struct run_verdict verdicts[RUN_BUDGET_NR];
	struct run_result res = {};
	uint64_t next, end_ns;
	size_t nr_verdicts = 0, nr_over;
	bool bpf = false;
	int go_fd = -1, err = 0;
	char **cmd = opts->cmd;

	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK)) {
		err = -errno;
		mt_err("cannot create the signal pipe: %s", strerror(-err));
		return err;
	}
	ctx.procs = run_procs__new();
	ctx.timeline = run_timeline__new(RUN_TIMELINE_POINTS);
	ctx.results = calloc(RUN_DRAIN_BATCH, sizeof(*ctx.results));
	if (!ctx.procs || !ctx.timeline || !ctx.results) {
		err = -ENOMEM;
		mt_err("out of memory");
		goto cleanup;
	}
	/* orphans of the tree come back to us rather than escaping to init */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* and nothing of the tree outlives us, even if we are SIGKILLed */
	ctx.guard = tree_guard__new();
	if (!ctx.guard) {
		err = -errno;
		mt_err("cannot start the watchdog that ends the command with memtrace: %s",
		       strerror(-err));
		goto cleanup;
	}

	if (opts->attribute) {
		ctx.attribution = run_attribution__new();
		if (!ctx.attribution) {
			err = -errno;
			goto cleanup;
		}
	}

	/* forked before the tracer is loaded: the held copy of us is still small */
	err = spawn_held(&ctx, cmd, &go_fd);
	if (err) {
		mt_err("cannot start '%s': %s", opts->cmd[0], strerror(-err));
		goto cleanup;
	}
	tree_guard__adopt(ctx.guard, ctx.child); /* says why at -v if only the group holds */
	for (size_t i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaction(forwarded_signals[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sa.sa_flags = 0;

	if (ctx.attribution) {
		err = run_attribution__start(ctx.attribution, ctx.child);
		if (err)
			goto cleanup;
	}

	err = start_source(&ctx, &bpf);
	if (err)
		goto cleanup;
	if (opts->reconcile_ns) {
		ctx.reconciler = reconciler__new(ctx.tracer, 1024);
		if (!ctx.reconciler) {
			err = -errno;
			mt_err("cannot start the smaps reader thread: %s", strerror(-err));
			goto cleanup;
		}
	}
	ctx.pidfd = open_pidfd(ctx.child);
	if (ctx.pidfd < 0)
		mt_debug("pidfd_open: %s: noticing the exit by SIGCHLD instead", strerror(errno));
	err = wait_setup(&ctx);
	if (err) {
		mt_err("cannot set up the wait for the command: %s", strerror(-err));
		goto cleanup;
	}

	give_terminal(&ctx);
	ctx.start_ns = mt_clock_ns(CLOCK_MONOTONIC);
	if (write(go_fd, "g", 1) != 1)
		err = -errno;
	if (err) {
		mt_err("cannot start '%s': %s", opts->cmd[0], strerror(-err));
		goto cleanup;
	}
	if (go_fd >= 0) {
		close(go_fd);
		go_fd = -1;
	}

	next = ctx.start_ns + opts->interval_ns;
	for (;;) {
		wait_event(&ctx, next);
		reap_children(&ctx);
		if (ctx.attribution)
			run_attribution__poll(ctx.attribution);
		if (!ctx.child_done && mt_clock_ns(CLOCK_MONOTONIC) < next)
			continue;
		err = poll_once(&ctx);
		if (err) {
			mt_err("cannot read the traced processes: %s", strerror(-err));
			goto cleanup;
		}
		if (ctx.child_done)
			break;
		next += opts->interval_ns;
		if (next < mt_clock_ns(CLOCK_MONOTONIC))
			next = mt_clock_ns(CLOCK_MONOTONIC) + opts->interval_ns;
	}
	end_ns = mt_clock_ns(CLOCK_MONOTONIC);
	take_terminal_back(&ctx);
	if (ctx.attribution)
		run_attribution__finish(ctx.attribution);
	/* what CMD left running (its group, its cgroup) does not outlive the run */
	kill(-ctx.group, SIGKILL);
	tree_guard__kill(ctx.guard);

	run_figures_from_procs(ctx.procs, &ctx.fig);
	if (ctx.have_baseline)
		ctx.fig.growth_bytes =
		    (int64_t)ctx.fig.tree_end_bytes - (int64_t)ctx.fig.tree_start_bytes;
	ctx.fig.have_growth = ctx.have_baseline;
	nr_over = run_judge(&opts->budgets, &ctx.fig, verdicts, &nr_verdicts);
	*exit_status = run_exit_status(ctx.child_status, nr_over, opts->no_fail);

	if (ctx.tracer) {
		uint64_t in_kernel, by_loader;
		int refused = tracer__reap_counts(ctx.tracer, &in_kernel, &by_loader);

		tracer__losses(ctx.tracer, ctx.losses);
		mt_info(
		    "reaped %llu exited processes' slots in the kernel, %llu from user space%s%s%s",
		    (unsigned long long)in_kernel, (unsigned long long)by_loader,
		    refused ? " (reap_run: " : "", refused ? strerror(-refused) : "",
		    refused ? ")" : "");
	}
	res.argv = opts->cmd;
	res.mode = bpf ? "bpf" : "procfs";
	res.caveat = bpf ? NULL : procfs_caveat;
	res.attach = ctx.tracer ? tracer__attach_summary(ctx.tracer) : NULL;
	res.wait_status = ctx.child_status;
	res.started = true;
	res.exit_status = *exit_status;
	res.duration_ns = end_ns - ctx.start_ns;
	res.interval_ns = opts->interval_ns;
	res.warmup_ns = opts->warmup_ns;
	res.budgets = &opts->budgets;
	res.verdicts = verdicts;
	res.nr_verdicts = nr_verdicts;
	res.nr_over = nr_over;
	res.no_fail = opts->no_fail;
	res.fig = &ctx.fig;
	res.procs = ctx.procs;
	res.timeline = ctx.timeline;
	if (ctx.tracer) {
		memcpy(res.losses, ctx.losses, sizeof(ctx.losses));
		res.nr_losses = MT_CNT_NR;
	}
	if (ctx.attribution)
		run_attribution__resolve(ctx.attribution, verdicts, nr_verdicts, &ctx.fig,
					 &res.attribution_json, &res.attribution_note);

	if (!opts->quiet || nr_over)
		run_print_summary(stderr, &res);
	if (opts->report_path) {
		err = run_write_report(opts->report_path, opts->force, &res);
		if (err == -EEXIST) {
			mt_err("--report %s appeared while CMD ran: not overwritten (use -f)",
			       opts->report_path);
			goto cleanup;
		} else if (err) {
			mt_err("cannot write the report to %s: %s", opts->report_path,
			       strerror(-err));
			goto cleanup;
		}
	}

cleanup:
	if (go_fd >= 0)
		close(go_fd); /* a held child sees EOF and exits 127 */
	if (ctx.child > 0 && !ctx.child_done) {
		take_terminal_back(&ctx);
		kill(-ctx.group, SIGKILL);
		waitpid(ctx.group, NULL, 0);
	}
	tree_guard__free(ctx.guard);
	run_attribution__free(ctx.attribution);
	reconciler__free(ctx.reconciler);
	tracer__free(ctx.tracer);
	run_procfs__free(ctx.procfs);
	if (ctx.pidfd >= 0)
		close(ctx.pidfd);
	if (ctx.epfd >= 0)
		close(ctx.epfd);
	signal(SIGCHLD, SIG_DFL);
	chld_pending = 1;
	run_procs__free(ctx.procs);
	run_timeline__free(ctx.timeline);
	free(ctx.results);
	for (int i = 0; i < 2; i++) {
		if (signal_pipe[i] >= 0)
			close(signal_pipe[i]);
		signal_pipe[i] = -1;
	}
	return err;
}

int cmd_run(int argc, char **argv)
{
	static struct run_opts opts;
	struct watch_opts watch = {
		.interval_ns = &opts.interval_ns,
		.reconcile_ns = &opts.reconcile_ns,
		.max_procs = &opts.max_procs,
		.reconcile_given = &opts.reconcile_given,
		.min_interval_ns = 10000000ULL,
		.min_reconcile_ns = 10000000ULL,
		.interval_like = "100ms or 1s",
		.reconcile_like = "1s",
		.interval_doc =
		    "Poll every DURATION (default 100ms; peaks are kept by the kernel in "
		    "between)",
		.reconcile_doc = "Read smaps_rollup for PSS every DURATION (default 1s with "
				 "--max-pss, else never)",
		.group = 2, /* Behaviour */
	};
	const struct argp argp = {
		.options = run_options,
		.parser = parse_run_opt,
		.args_doc = "-- CMD [ARGS...]",
		.doc = run_doc,
		.children = watch_opts__children(&watch),
	};
	int status = MT_EXIT_FAILURE, err;

	opts = (struct run_opts){ .interval_ns = 100000000ULL };
	argp_err_exit_status = MT_EXIT_USAGE;
	if (argp_parse(&argp, argc, argv, ARGP_IN_ORDER, NULL, &opts))
		return MT_EXIT_USAGE;
	if (!opts.reconcile_given && opts.budgets.set[RUN_MAX_PSS])
		opts.reconcile_ns = 1000000000ULL;
	if (opts.budgets.set[RUN_MAX_PSS] && !opts.reconcile_ns) {
		mt_err("--max-pss needs smaps_rollup reads: drop --reconcile 0");
		return MT_EXIT_USAGE;
	}
	mt_setup_libbpf_log();
	/* PIDs from fork() and from /proc must agree, in either mode */
	if (pidns__check_proc())
		return MT_EXIT_FAILURE;

	err = run_command(&opts, &status);
	return err ? MT_EXIT_FAILURE : status;
}
