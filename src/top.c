// SPDX-License-Identifier: GPL-2.0
/*
 * memtrace top: live per-process memory from the kernel's counters,
 * reconciled with smaps_rollup, as a refreshing table or NDJSON.
 */
#include <argp.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include "commands.h"
#include "kfeatures.h"
#include "log.h"
#include "proc_poll.h"
#include "procfs.h"
#include "reconcile.h"
#include "selfpages.h"
#include "top.h"
#include "tracer_api.h"
#include "units.h"
#include "watchopts.h"

struct top_opts {
	int pids[MT_MAX_FILTER_PIDS];
	size_t nr_pids;
	const char *comm;
	const char *cgroup;
	uint64_t interval_ns;
	uint64_t reconcile_ns; /* 0 = never */
	uint64_t duration_ns;  /* 0 = until interrupted */
	uint64_t iterations;   /* 0 = unlimited */
	uint32_t max_procs;
	enum top_sort sort;
	bool json;
	bool batch; /* plain repeated tables, no screen control */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

enum {
	OPT_CGROUP = 0x100,
	OPT_SORT,
	OPT_JSON,
	OPT_BATCH,
};

static const struct argp_option top_options[] = {
	{ "pid", 'p', "PID[,PID...]", 0, "Trace only these processes" },
	{ "comm", 'c', "COMM", 0,
	  "Trace only processes whose command name is COMM (exact, <= 15 bytes)" },
	{ "cgroup", OPT_CGROUP, "PATH", 0,
	  "Trace only tasks in this cgroup v2 directory or below" },
	{ "iterations", 'n', "N", 0, "Stop after N intervals" },
	{ "sort", OPT_SORT, "KEY", 0,
	  "Sort by growth (default), rss, pss, swap, faults, mapped, pid or comm" },
	{ "json", OPT_JSON, NULL, 0,
	  "NDJSON: one object per process per interval, then a summary object" },
	{ "batch", OPT_BATCH, NULL, 0,
	  "Print plain tables one after another (default when not a terminal)" },
	{ "verbose", 'v', NULL, 0,
	  "Show attach paths and the tracer's cost; repeat for libbpf debug" },
	{},
};

static const char top_doc[] =
    "Live per-process memory as the kernel accounts it.\v"
    "RSS (anon, file, shmem), swap and the peak come from the kernel's own counters "
    "(kmem:rss_stat), faults from exceptions:page_fault_user, and mmap, munmap, mremap and "
    "brk from the calls that succeeded; counters count from the moment tracing started. "
    "Every --reconcile period each process's /proc/PID/smaps_rollup is read on a background "
    "thread for PSS, private (USS) and swap, and drift_bytes says how far the counters were "
    "from it. Sizes are bytes in --json, binary units (KiB, MiB) in the table. Needs root, "
    "or CAP_BPF and CAP_PERFMON. The counters are corrected at each reconcile from "
    "/proc/PID/status, so they are exact after it; SWAP shows SwapPss once a process was "
    "reconciled ('~' before). The growth sort ranks by the RSS change over the last 5 "
    "intervals, through a key that moves only when the growth leaves a band of an eighth "
    "of it or 64 KiB, so rows do not jump every interval.\n"
    "\n"
    "KEYS (on a terminal, as in htop):\n"
    "  Up/Down PgUp/PgDn Home/End  move and scroll\n"
    "  F6 < >    sort by the previous / next column; M by RSS, N by PID; I invert\n"
    "  F4 \\      filter by name or command line (Esc clears)\n"
    "  F3 /      search by name or command line (Enter: next)\n"
    "  Space Z   pause;  F5 t  tree;  g  group by program, user, cgroup\n"
    "  p         command name / full command line;  h F1 ?  help\n"
    "  q F10 Ctrl-C  quit\n"
    "\n"
    "EXAMPLES:\n"
    "  memtrace top                         all processes, by RSS growth\n"
    "  memtrace top -p 1234,5678 -i 500ms   two processes, twice a second\n"
    "  memtrace top -c postgres --sort rss  every process named postgres\n"
    "  memtrace top --json -d 10s > mem.ndjson\n"
    "  memtrace top --cgroup /sys/fs/cgroup/system.slice/nginx.service\n"
    "\n"
    "Exit status: 0 when stopped by -d, -n, Ctrl-C or SIGTERM; 1 on a runtime failure; "
    "2 on a usage error.";

static error_t parse_top_opt(int key, char *arg, struct argp_state *state)
{
	struct top_opts *opts = state->input;
	uint64_t value;
	int err;

	switch (key) {
	case 'p':
		err = parse_pid_list(arg, opts->pids, MT_MAX_FILTER_PIDS, &opts->nr_pids);
		if (err)
			argp_error(state,
				   "invalid --pid '%s': expected PID[,PID...] with at most %d "
				   "distinct positive PIDs",
				   arg, MT_MAX_FILTER_PIDS);
		break;
	case 'c':
		if (!*arg || strlen(arg) >= MT_COMM_LEN)
			argp_error(state,
				   "invalid --comm '%s': a command name is 1 to 15 bytes (as in "
				   "/proc/PID/comm)",
				   arg);
		opts->comm = arg;
		break;
	case OPT_CGROUP: {
		if (!path_is_cgroup2(arg))
			argp_error(state,
				   "invalid --cgroup '%s': not a cgroup v2 directory (give one "
				   "such as /sys/fs/cgroup/user.slice)",
				   arg);
		opts->cgroup = arg;
		break;
	}
	case 'n':
		if (parse_uint(arg, 1, UINT64_MAX, &value))
			argp_error(state,
				   "invalid --iterations '%s': expected a positive whole number",
				   arg);
		opts->iterations = value;
		break;
	case OPT_SORT:
		if (top_sort_parse(arg, &opts->sort))
			argp_error(state,
				   "invalid --sort '%s': expected growth, rss, pss, swap, faults, "
				   "mapped, pid or comm",
				   arg);
		break;
	case OPT_JSON:
		opts->json = true;
		break;
	case OPT_BATCH:
		opts->batch = true;
		break;
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

/* In the live view, keys typed on the terminal: 'q' quits as in top and htop. */
static bool keys_active;
static struct termios saved_termios;

static void keys_start(void)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_termios))
		return;
	raw = saved_termios;
	raw.c_lflag &= ~(ICANON | ECHO); /* keys without Enter, not echoed over the table */
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
		keys_active = true;
}

static void keys_stop(void)
{
	if (keys_active)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
	keys_active = false;
}

static void read_keys(void)
{
	char buf[16];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == 'q' || buf[i] == 'Q')
			stop_requested = 1;
}

/* The ncurses view when stdout is a terminal (NULL otherwise, or when it could not start). */
static struct top_tui *tui;

static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = {
		.tv_sec = deadline_ns / 1000000000ULL,
		.tv_nsec = deadline_ns % 1000000000ULL,
	};

	if (!keys_active && !tui) {
		while (!stop_requested &&
		       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		return;
	}
	while (!stop_requested) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		uint64_t now = mt_clock_ns(CLOCK_MONOTONIC);
		struct timespec left;

		if (now >= deadline_ns)
			return;
		left.tv_sec = (deadline_ns - now) / 1000000000ULL;
		left.tv_nsec = (deadline_ns - now) % 1000000000ULL;
		if (tui) {
			/* a key, or a signal such as SIGWINCH (getch then reports the resize) */
			if (ppoll(&pfd, 1, &left, NULL) != 0 && !top_tui__keys(tui))
				stop_requested = 1;
		} else if (ppoll(&pfd, 1, &left, NULL) > 0 && (pfd.revents & POLLIN)) {
			read_keys();
		}
	}
}

static uint64_t self_rss_bytes(void)
{
	struct proc_status st;

	if (proc_status__read(getpid(), &st))
		return 0;
	return st.vm_rss;
}

static size_t terminal_rows(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 4)
		return ws.ws_row - 3; /* summary line, header, final line */
	return 0;
}

struct top_ctx {
	struct top_opts *opts;
	struct tracer *tracer;
	struct proc_poll *poll;
	struct proc_poll_view view; /* this poll's processes (owned by the poll) */
	struct top_entry *entries;  /* entries_cap entries, one per process this interval */
	size_t entries_cap;
	long page_size;
};

/* A process's figures this interval: cur from the kernel, deltas from its state. */
static void fill_row(const struct top_ctx *ctx, struct top_row *row, uint32_t pid,
		     const struct mt_proc_stats *cur, const struct proc_state *st,
		     uint64_t interval_ns, uint64_t now)
{
	const struct proc_moves *mv = proc_poll__moves(ctx->poll, st);
	const struct proc_smaps *sm = proc_poll__smaps(ctx->poll, st);
	uint64_t page = ctx->page_size, pages[MT_RSS_NR];

	proc_poll__pages(ctx->poll, st, pages);
	memset(row, 0, sizeof(*row));
	row->pid = pid;
	row->ppid = cur->ppid;
	memcpy(row->comm, cur->comm, MT_COMM_LEN);
	row->comm[MT_COMM_LEN - 1] = '\0';
	row->exited = cur->flags & MT_PROC_EXITED;
	row->corrected = st->have_offset;
	row->rss_anon_bytes = pages[MT_RSS_ANON] * page;
	row->rss_file_bytes = pages[MT_RSS_FILE] * page;
	row->rss_shmem_bytes = pages[MT_RSS_SHMEM] * page;
	row->swap_bytes = pages[MT_RSS_SWAP] * page;
	row->rss_bytes = row->rss_anon_bytes + row->rss_file_bytes + row->rss_shmem_bytes;
	row->rss_peak_bytes = cur->rss_peak_pages * page;
	if (row->rss_peak_bytes < row->rss_bytes)
		row->rss_peak_bytes = row->rss_bytes;
	row->rss_delta_bytes = mv->rss_delta_bytes;
	row->growth_bytes = mv->growth_bytes;
	row->growth_key = mv->growth_key;
	row->start_ns = cur->start_ns;
	row->faults = cur->faults;
	row->thp_faults = cur->thp_faults;
	row->mmap_calls = cur->mmap_calls;
	row->mmap_bytes = cur->mmap_bytes;
	row->munmap_calls = cur->munmap_calls;
	row->munmap_bytes = cur->munmap_bytes;
	row->mremap_calls = cur->mremap_calls;
	row->mremap_grow_bytes = cur->mremap_grow_bytes;
	row->mremap_shrink_bytes = cur->mremap_shrink_bytes;
	row->brk_calls = cur->brk_calls;
	row->brk_bytes = cur->brk_bytes;
	row->faults_delta = mv->faults_delta;
	row->faults_per_sec = rate_per_sec(mv->faults_delta, interval_ns);
	row->mapped_delta_bytes = mv->mapped_delta_bytes;
	row->unmapped_delta_bytes = mv->unmapped_delta_bytes;
	if (st->have_smaps) {
		row->have_smaps = true;
		row->pss_bytes = proc_kb_bytes(sm->pss_kb);
		row->private_bytes = proc_kb_bytes(sm->private_kb);
		row->swap_pss_bytes = proc_kb_bytes(sm->swap_pss_kb);
		row->smaps_rss_bytes = proc_kb_bytes(sm->rss_kb);
		row->drift_bytes = proc_kb_bytes(sm->drift_kb);
		row->smaps_age_ns = now > sm->done_ns ? now - sm->done_ns : 0;
	}
	if (st->have_offset)
		row->correction_age_ns = now > sm->correction_ns ? now - sm->correction_ns : 0;
}

static void fill_entry(const struct proc_poll *poll, struct top_entry *e, enum top_sort key,
		       uint32_t pid, uint32_t index, const struct proc_state *st, uint64_t page)
{
	int64_t rss = (int64_t)(st->resident_pages * page);
	uint64_t pages[MT_RSS_NR];

	e->pid = pid;
	e->index = index;
	e->comm = st->comm;
	e->key2 = rss;
	switch (key) {
	case TOP_SORT_GROWTH:
		e->key = proc_poll__moves(poll, st)->growth_key;
		break;
	case TOP_SORT_RSS:
		e->key = rss;
		e->key2 = 0;
		break;
	case TOP_SORT_PSS:
		e->key = st->have_smaps ? (int64_t)proc_kb_bytes(proc_poll__smaps(poll, st)->pss_kb)
					: -1;
		break;
	case TOP_SORT_SWAP:
		/* what SWAP shows: shared swap counted once where smaps says how */
		proc_poll__pages(poll, st, pages);
		e->key = st->have_smaps
			     ? (int64_t)proc_kb_bytes(proc_poll__smaps(poll, st)->swap_pss_kb)
			     : (int64_t)(pages[MT_RSS_SWAP] * page);
		break;
	case TOP_SORT_FAULTS:
		e->key = (int64_t)proc_poll__moves(poll, st)->faults_delta;
		break;
	case TOP_SORT_MAPPED:
		e->key = (int64_t)proc_poll__moves(poll, st)->mapped_delta_bytes;
		break;
	case TOP_SORT_PID:
	case TOP_SORT_COMM:
		e->key = e->key2 = 0;
		break;
	}
}

static int grow_entries(struct top_ctx *ctx, size_t n)
{
	size_t cap = ctx->entries_cap ? ctx->entries_cap : 256;
	struct top_entry *entries;

	if (n <= ctx->entries_cap)
		return 0;
	while (cap < n)
		cap *= 2;
	entries = realloc(ctx->entries, cap * sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	ctx->entries = entries;
	ctx->entries_cap = cap;
	return 0;
}

/* One poll (proc_poll.c), then every process's sort keys; rows are built at print. */
static int poll_once(struct top_ctx *ctx, size_t *nr_rows, size_t *nr_exited)
{
	const struct proc_poll_view *v = &ctx->view;
	int err;

	err = proc_poll__once(ctx->poll, &ctx->view);
	if (err)
		return err;
	err = grow_entries(ctx, v->count);
	if (err)
		return err;
	for (size_t i = 0; i < v->count; i++)
		fill_entry(ctx->poll, &ctx->entries[i], ctx->opts->sort, v->tgids[i], i,
			   v->states[i], ctx->page_size);
	*nr_rows = v->count;
	*nr_exited = v->nr_exited;
	return 0;
}

/* Sort, then build and print each row. */
static int print_interval(struct top_ctx *ctx, size_t n, const struct top_summary *summary,
			  bool tty)
{
	size_t shown = n, max_rows = tty ? terminal_rows() : 0, filled = 0;
	uint64_t now = mt_clock_ns(CLOCK_MONOTONIC);
	struct mt_proc_stats cur;
	struct top_row row;
	int err;

	if (tui) {
		struct top_row *rows;

		/* the view sorts, filters and groups by itself: every process goes to it */
		err = top_tui__rows(tui, n, &rows);
		for (size_t i = 0; rows && i < n; i++)
			if (proc_poll__stats(ctx->poll, ctx->view.states[i], &cur) == 0)
				fill_row(ctx, &rows[filled++], ctx->view.tgids[i], &cur,
					 ctx->view.states[i], summary->interval_ns, now);
		if (!err)
			err = top_tui__update(tui, filled, summary);
		if (!err)
			top_tui__draw(tui);
		return err;
	}
	top_sort_entries(ctx->entries, n, ctx->opts->sort);
	if (!ctx->opts->json) {
		if (max_rows && max_rows < n)
			shown = max_rows;
		err = top_print_table_header(stdout, summary, tty);
		if (err)
			return err;
	}
	for (size_t i = 0; i < shown; i++) {
		const struct top_entry *e = &ctx->entries[i];

		/* its PID reused before its exit was reaped: the kernel counts that loss */
		if (proc_poll__stats(ctx->poll, ctx->view.states[e->index], &cur))
			continue;
		fill_row(ctx, &row, e->pid, &cur, ctx->view.states[e->index], summary->interval_ns,
			 now);
		err = ctx->opts->json ? top_print_json_row(stdout, &row, summary)
				      : top_print_table_row(stdout, &row);
		if (err)
			return err;
	}
	return ctx->opts->json ? top_print_json_summary(stdout, summary)
			       : top_print_table_footer(stdout, shown, n, tty);
}

static void fill_summary(struct top_ctx *ctx, struct top_summary *s, uint64_t interval_ns,
			 size_t nr, size_t exited, uint64_t cpu_ns)
{
	memset(s, 0, sizeof(*s));
	s->ts_ns = mt_clock_ns(CLOCK_REALTIME);
	s->interval_ns = interval_ns;
	s->iteration = ctx->view.iteration;
	s->nr_procs = nr;
	s->nr_exited = exited;
	s->max_procs = tracer__max_procs(ctx->tracer);
	tracer__losses(ctx->tracer, s->losses);
	tracer__cost(ctx->tracer, &s->cost);
	if (proc_poll__reconciler(ctx->poll))
		reconciler__stats(proc_poll__reconciler(ctx->poll), &s->smaps);
	s->poll_cpu_ns = cpu_ns;
	s->loader_rss_bytes = self_rss_bytes();
}

static void print_cost_verbose(const struct top_summary *s)
{
	char a[24], b[24], c[24], d[24];

	if (mt_verbose < 1)
		return;
	for (size_t i = 0; i < s->cost.nr_progs; i++) {
		const struct tracer_prog_cost *pc = &s->cost.progs[i];

		mt_info("bpf %-14s %-10s %10llu events %8llu ns/event", pc->name, pc->attach,
			(unsigned long long)pc->run_cnt,
			(unsigned long long)(pc->run_cnt ? pc->run_time_ns / pc->run_cnt : 0));
	}
	mt_info("smaps: %llu reads, %s in total, slowest %s; poll cpu %s; loader rss %s",
		(unsigned long long)s->smaps.reads,
		format_duration(a, sizeof(a), s->smaps.read_time_ns),
		format_duration(b, sizeof(b), s->smaps.max_read_ns),
		format_duration(c, sizeof(c), s->poll_cpu_ns),
		format_size(d, sizeof(d), s->loader_rss_bytes));
}

static int run_top(struct top_opts *opts)
{
	struct tracer_opts topts = {
		.pids = opts->pids,
		.nr_pids = opts->nr_pids,
		.comm = opts->comm,
		.cgroup_path = opts->cgroup,
		.seed_existing = true,
		.max_procs = opts->max_procs,
	};
	struct proc_poll_opts popts = {
		.interval_ns = opts->interval_ns,
		.reconcile_ns = opts->reconcile_ns,
	};
	struct top_ctx ctx = { .opts = opts, .page_size = sysconf(_SC_PAGESIZE) };
	bool tty = isatty(STDOUT_FILENO) && !opts->json && !opts->batch;
	uint64_t start, deadline = 0, next, last, round = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	int err = 0;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL); /* a closed terminal or ssh: stop as cleanly */
	signal(SIGPIPE, SIG_IGN);
	if (!tty)
		setvbuf(stdout, NULL, _IOLBF, 0);

	ctx.tracer = tracer__new(&topts);
	if (!ctx.tracer)
		return -errno;
	if (!features__tracefs_mounted())
		mt_info(
		    "tracefs is not mounted: not needed (syscall tracepoint ids, when that rung is "
		    "taken, come from a private mount)");

	ctx.poll = proc_poll__new(ctx.tracer, &popts);
	if (!ctx.poll) {
		err = -errno;
		mt_err("cannot start the smaps reader thread: %s", strerror(-err));
		goto cleanup;
	}

	/* the terminal is taken over last, once nothing can fail with a message on it */
	if (tty) {
		tui = top_tui__new(opts->sort);
		if (!tui) {
			if (errno != ENOENT) /* else the library is missing, and it said which */
				mt_warn("cannot start the terminal UI (TERM=%s): plain refreshing "
					"table",
					getenv("TERM") ? getenv("TERM") : "");
			keys_start();
		}
	}

	start = last = mt_clock_ns(CLOCK_MONOTONIC);
	if (opts->duration_ns)
		deadline = start + opts->duration_ns;
	next = start + opts->interval_ns;
	while (!stop_requested) {
		struct top_summary summary;
		uint64_t now, cpu0;
		size_t nr, exited;

		if (deadline && next > deadline)
			next = deadline;
		tracer__cost_window(ctx.tracer, round++, last, next, sleep_until);
		sleep_until(next);
		now = mt_clock_ns(CLOCK_MONOTONIC);

		cpu0 = mt_clock_ns(CLOCK_THREAD_CPUTIME_ID);
		err = poll_once(&ctx, &nr, &exited);
		if (err) {
			top_tui__free(tui); /* the message must land on the restored terminal */
			tui = NULL;
			mt_err("cannot read the kernel's process table: %s", strerror(-err));
			goto cleanup;
		}
		/* the poll's cost: reading the kernel's table and moving the state on */
		fill_summary(&ctx, &summary, now - last, nr, exited,
			     mt_clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0);
		err = print_interval(&ctx, nr, &summary, tty);
		if (err && tui) {
			top_tui__free(tui);
			tui = NULL;
			mt_err("cannot update the terminal UI: %s", strerror(-err));
			goto cleanup;
		}
		if (err) {
			/* a closed pipe is how `| head` says it has enough */
			err = 0;
			break;
		}
		if (!tui) /* stderr would draw over the view */
			print_cost_verbose(&summary);
		/* start-up and the first poll (every process new) ran their code once */
		if (ctx.view.iteration == 1)
			selfpages__release_startup(NULL);
		last = now;
		if ((opts->iterations && ctx.view.iteration >= opts->iterations) ||
		    (deadline && now >= deadline))
			break;
		next += opts->interval_ns;
		if (next < now) /* we fell behind (suspend, slow terminal): restart the grid */
			next = now + opts->interval_ns;
	}

cleanup:
	top_tui__free(tui);
	tui = NULL;
	keys_stop();
	proc_poll__free(ctx.poll);
	tracer__free(ctx.tracer);
	free(ctx.entries);
	return err;
}

int cmd_top(int argc, char **argv)
{
	static struct top_opts opts;
	struct watch_opts watch = {
		.interval_ns = &opts.interval_ns,
		.reconcile_ns = &opts.reconcile_ns,
		.duration_ns = &opts.duration_ns,
		.max_procs = &opts.max_procs,
		.min_interval_ns = 10000000ULL,
		.interval_like = "500ms or 2s",
		.reconcile_like = "5s",
		.interval_doc = "Refresh every DURATION (default 1s; e.g. 500ms, 2s)",
		.reconcile_doc = "Read smaps_rollup for PSS, USS, swap and drift every DURATION "
				 "(default 5s; 0 = never)",
		.duration_doc = "Stop after DURATION",
	};
	const struct argp argp = {
		.options = top_options,
		.parser = parse_top_opt,
		.args_doc = "",
		.doc = top_doc,
		.children = watch_opts__children(&watch),
	};
	int err;

	opts = (struct top_opts){
		.interval_ns = 1000000000ULL,
		.reconcile_ns = 5000000000ULL,
		.sort = TOP_SORT_GROWTH,
	};
	argp_err_exit_status = MT_EXIT_USAGE;
	err = argp_parse(&argp, argc, argv, 0, NULL, &opts);
	if (err)
		return MT_EXIT_USAGE;
	mt_json_errors = opts.json;
	mt_setup_libbpf_log();

	for (size_t i = 0; i < opts.nr_pids; i++) {
		if (!proc_exists(opts.pids[i])) {
			mt_err("no process with PID %d (check the PID with ps)", opts.pids[i]);
			return MT_EXIT_USAGE;
		}
	}
	err = run_top(&opts);
	return err ? MT_EXIT_FAILURE : MT_EXIT_OK;
}
