// SPDX-License-Identifier: GPL-2.0
/*
 * The tracer's loader (include/tracer_api.h): opens, configures, seeds and
 * attaches bpf/tracer.bpf.c, then reads its table of slots from memory and
 * reaps the slots of processes gone. This file is over 800 lines: loading,
 * table reads and reaping share struct tracer's private state, and the
 * table's read protocol (include/tracer.h) is kept in one place.
 * tracer__new() is over 120 lines: the load in the order libbpf and the
 * seeding need (BTF and privileges, open and configure, map the table,
 * seed, attach), one fail label; the table mapping and the seeding are the
 * pieces to move out.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf_loader.h"
#include "tracer_api.h"
#include "tracer.skel.h"
#include "kfeatures.h"
#include "log.h"
#include "pidns_api.h"
#include "procfs.h"
#include "tracefs_ids.h"

/*
 * The attach ladder: each hook with the programs that can carry it, best
 * rung first. A rung is taken when the kernel offers it (BTF, a probe load)
 * and its programs pass the verifier; a program refused moves only its own
 * hook down a rung (see load_ladder()).
 */
enum hook_id { HOOK_FAULT, HOOK_RSS, HOOK_SYSCALLS, HOOK_FORK, HOOK_EXEC, HOOK_EXIT, NR_HOOKS };
#define MAX_RUNGS 4
#define MAX_RUNG_PROGS 5

struct rung {
	const char *name;			   /* "tp_btf", "fexit", "tracepoint", ... */
	struct bpf_program *progs[MAX_RUNG_PROGS]; /* NULL-terminated */
};

struct hook {
	const char *name; /* the tracepoint, or "syscalls" for mmap/munmap/mremap/brk */
	struct rung rungs[MAX_RUNGS];
	int nr_rungs;
};

struct tracer {
	struct tracer_bpf *skel;
	struct bpf_link **perf_links; /* per-CPU page-fault perf events (fallback) */
	int *perf_fds;
	/* the syscalls' tracepoint rung: event ids and links, in fexit_syscalls' order */
	uint32_t tp_ids[MAX_RUNG_PROGS];
	struct bpf_link *tp_links[MAX_RUNG_PROGS];
	char tp_source[64]; /* where the ids came from */
	int nr_cpus;	    /* possible CPUs: per-CPU maps and perf events */
	int stats_fd;	    /* BPF_ENABLE_STATS handle while sampling, else -1 */
	bool stats_refused;
	bool cost_windows;	     /* tracer__cost_window() samples the statistics */
	struct mt_fault_slot *slots; /* per-CPU pending faults, read buffer */
	bool have_pending;	     /* some CPU had pending faults at the last read */
	uint64_t *left_out_seq;	     /* per CPU: the mid-flush seq whose faults were left out */
	uint64_t faults_left_out;    /* MT_FAULTS_LEFT_OUT */
	uint32_t *pending;	     /* slots with pending faults at the last sync */
	size_t nr_pending;
	uint64_t *percpu_u64; /* per-CPU loss counters, read buffer */
	int cgroup_fd;
	uint32_t max_procs;
	bool track_tree;
	struct mt_proc_stats *table; /* room for the kernel's table: max_procs slots */
	size_t table_bytes;	     /* address space reserved at table */
	size_t mapped_bytes;	     /* how much of it maps the table so far */
	uint32_t *slot_index;	     /* slot -> index into keys/values at the last read */
	uint32_t *keys;		     /* read buffers, cap entries each, grown on demand */
	struct mt_proc_stats *values;
	uint32_t *value_slots; /* the slot each of values was read from */
	size_t nr_values;      /* entries of the last tracer__read() */
	size_t cap;
	int rung[NR_HOOKS];	 /* the rung each hook took, index into its rungs */
	char why[NR_HOOKS][256]; /* why a hook is below its best rung, or "" */
	char attach_summary[384];
	struct pidns *pidns; /* NULL in the initial PID namespace */
	int reap_refused;    /* reap_run not loaded or its test run refused: the loader reaps */
	char reap_log[1024]; /* reap_run's verifier log when its load failed */
	uint64_t reaped_in_kernel, reaped_by_loader;
};

#define NO_INDEX UINT32_MAX

static long perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
			    unsigned long flags)
{
	return syscall(__NR_perf_event_open, attr, pid, cpu, group_fd, flags);
}

static void hooks_of(struct tracer_bpf *skel, struct hook hooks[NR_HOOKS])
{
	const struct hook table[NR_HOOKS] = {
		[HOOK_FAULT] = { "page_fault_user",
				 { { "tp_btf", { skel->progs.fault_user } },
				   { "perf_event", { skel->progs.fault_perf } } },
				 2 },
		[HOOK_RSS] = { "rss_stat",
			       { { "tp_btf", { skel->progs.rss_stat_btf } },
				 { "raw_tp", { skel->progs.rss_stat_raw } } },
			       2 },
		[HOOK_SYSCALLS] = { "syscalls",
				    { { "fexit",
					{ skel->progs.mmap_fexit, skel->progs.munmap_fexit,
					  skel->progs.mremap_fexit, skel->progs.brk_fexit } },
				      { "tracepoint",
					{ skel->progs.mmap_tp, skel->progs.munmap_tp,
					  skel->progs.mremap_tp, skel->progs.brk_tp } },
				      { "tp_btf", { skel->progs.sys_exit_btf } },
				      { "raw_tp", { skel->progs.sys_exit_raw } } },
				    4 },
		[HOOK_FORK] = { "sched_process_fork",
				{ { "tp_btf", { skel->progs.fork_btf } },
				  { "raw_tp", { skel->progs.fork_raw } } },
				2 },
		[HOOK_EXEC] = { "sched_process_exec",
				{ { "tp_btf", { skel->progs.exec_btf } },
				  { "raw_tp", { skel->progs.exec_raw } } },
				2 },
		[HOOK_EXIT] = { "sched_process_exit",
				{ { "tp_btf", { skel->progs.exit_btf } },
				  { "raw_tp", { skel->progs.exit_raw } } },
				2 },
	};

	memcpy(hooks, table, sizeof(table));
}

/*
 * The fexit rung's targets: each syscall's own entry point, the arch's
 * syscall wrapper (its one argument is the user's registers). Only these
 * four syscalls then run a program; sys_enter/sys_exit would run one on
 * every syscall of the machine. The wrappers are named by the syscall ABI,
 * so they are as stable as the syscalls; ksys_mmap_pgoff would be
 * arch-independent, but munmap, mremap and brk have no such stable inner
 * function (their bodies are the syscall, or static and inlined).
 */
#if defined(__x86_64__)
#define SYSCALL_WRAPPER "__x64_sys_"
#elif defined(__aarch64__)
#define SYSCALL_WRAPPER "__arm64_sys_"
#else
#define SYSCALL_WRAPPER "" /* unknown: the fexit rung is not offered */
#endif

static const char *const fexit_syscalls[MAX_RUNG_PROGS] = { "mmap", "munmap", "mremap", "brk" };

/* The tracepoint rung's event ids: syscalls:sys_exit_<name> of the same four. */
static int syscall_tp_ids(struct tracer *t, char *why, size_t len)
{
	char reason[200];
	int n = 0, err;

	while (n < MAX_RUNG_PROGS && fexit_syscalls[n])
		n++;
	err = tracefs_ids__sys_exits(fexit_syscalls, n, NULL, t->tp_ids, t->tp_source,
				     sizeof(t->tp_source), reason, sizeof(reason));
	if (err)
		snprintf(why, len, "tracepoint: %s", reason);
	return err;
}

/*
 * The rise in pages that tells a THP fault from small ones (see
 * proc_store_rss() in the BPF side): half a huge page, which a THP fault
 * passes (a huge page less at most one per-CPU batch of unfolded delta)
 * and a small fault never reaches (at most a batch plus a 16-page
 * fault-around); 0 disables it (no THP, or so many CPUs that the two
 * ranges come near each other).
 */
static __u32 thp_threshold_pages(void)
{
	unsigned long long bytes = 0;
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "re");
	long page = sysconf(_SC_PAGESIZE);
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	long batch = cpus * 2 > 32 ? cpus * 2 : 32;
	long huge;

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &bytes) != 1)
		bytes = 0;
	fclose(f);
	huge = page > 0 ? (long)(bytes / page) : 0;
	if (huge / 2 <= batch + 16 || huge - batch <= huge / 2 + 16)
		return 0;
	return huge / 2;
}

static int configure(struct tracer *t, const struct tracer_opts *opts)
{
	struct tracer_bpf *skel = t->skel;
	const char *reap;
	int err;

	skel->rodata->nr_mmap = __NR_mmap;
	skel->rodata->nr_munmap = __NR_munmap;
	skel->rodata->nr_brk = __NR_brk;
	skel->rodata->nr_mremap = __NR_mremap;
	skel->rodata->thp_threshold_pages = thp_threshold_pages();
	if (opts->nr_pids)
		skel->rodata->filter_flags |= MT_FILTER_PID;
	if (opts->comm) {
		skel->rodata->filter_flags |= MT_FILTER_COMM;
		strncpy((char *)skel->rodata->filter_comm, opts->comm, MT_COMM_LEN - 1);
	}
	if (opts->cgroup_path)
		skel->rodata->filter_flags |= MT_FILTER_CGROUP;
	if (opts->follow_forks)
		skel->rodata->filter_flags |= MT_FOLLOW_FORKS;
	if (opts->track_tree)
		skel->rodata->filter_flags |= MT_TRACK_TREE;
	skel->rodata->max_slots = t->max_procs;
	bpf_program__set_autoattach(skel->progs.brk_iter, false); /* run once, by seed_brks() */
	/* through perf events by attach_syscall_tps(): libbpf's attach would need tracefs */
	bpf_program__set_autoattach(skel->progs.mmap_tp, false);
	bpf_program__set_autoattach(skel->progs.munmap_tp, false);
	bpf_program__set_autoattach(skel->progs.mremap_tp, false);
	bpf_program__set_autoattach(skel->progs.brk_tp, false);
	bpf_program__set_autoattach(skel->progs.reap_run, false); /* run by tracer__reap_flush() */
	reap = getenv("MEMTRACE_TEST_REAP");
	if (reap && !strcmp(reap, "loader"))
		t->reap_refused = -EPERM;
	/* refused (bpf_loop is from 5.17): load_ladder() loads again without it */
	bpf_program__set_autoload(skel->progs.reap_run, !t->reap_refused);
	t->reap_log[0] = '\0';
	bpf_program__set_log_buf(skel->progs.reap_run, t->reap_log, sizeof(t->reap_log));
	err = bpf_map__set_max_entries(skel->maps.proc_table, t->max_procs);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.proc_slots, t->max_procs);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.free_slots, t->max_procs);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.proc_brk, t->max_procs);
	return err;
}

/*
 * Whether the kernel offers rung r of hook h before anything is loaded:
 * BTF names the tracepoint, or a probe program loads and attaches on the
 * fexit targets. If not, why says so in a few words.
 */
static bool rung_offered(struct tracer *t, const struct hook *h, int r, char *why, size_t len)
{
	const char *rung = h->rungs[r].name;
	int err;

	if (strcmp(rung, "tp_btf") == 0) {
		/* syscalls: sys_exit alone (bpf/syscalls.bpf.h) */
		const char *tp = strcmp(h->name, "syscalls") == 0 ? "sys_exit" : h->name;

		if (features__have_tp_btf(tp))
			return true;
		snprintf(why, len, "tp_btf: no btf_trace_%s in the kernel's BTF", tp);
		return false;
	}
	if (strcmp(rung, "fexit") == 0) {
		char fn[64];

		if (!SYSCALL_WRAPPER[0]) {
			snprintf(why, len, "fexit: no syscall wrapper known for this architecture");
			return false;
		}
		for (int i = 0; i < MAX_RUNG_PROGS && fexit_syscalls[i]; i++) {
			snprintf(fn, sizeof(fn), SYSCALL_WRAPPER "%s", fexit_syscalls[i]);
			err = features__probe_fexit(fn);
			if (err) {
				snprintf(why, len, "fexit/%s: %s", fn,
					 err == -ENOENT ? "not in the kernel's BTF"
					 : err == -524	? "not supported by this kernel (ENOTSUPP)"
							: strerror(-err));
				return false;
			}
		}
		return true;
	}
	if (strcmp(rung, "tracepoint") == 0)
		return syscall_tp_ids(t, why, len) == 0;
	return true; /* raw_tp and perf_event: the last rungs, always tried */
}

/* The verifier's reason, for one line: its last line that is not a statistic. */
static void verifier_reason(const char *log, char *out, size_t len)
{
	const char *end = log + strlen(log), *line = NULL;

	while (end > log) {
		const char *start = end;

		while (start > log && start[-1] != '\n')
			start--;
		if (end > start && strncmp(start, "processed ", 10) != 0 &&
		    strncmp(start, "verification time", 17) != 0 &&
		    strncmp(start, "stack depth", 11) != 0) {
			line = start;
			break;
		}
		end = start > log ? start - 1 : log;
	}
	if (!line) {
		snprintf(out, len, "refused without a verifier log");
		return;
	}
	snprintf(out, len, "%.*s", (int)(end - line), line);
}

#define LOG_BUF_SIZE (64 * 1024)

/* reap_run failed to load: the next round goes without it, the loader reaps. */
static bool reap_run_refused(struct tracer *t)
{
	char reason[128];

	if (t->reap_refused || !t->reap_log[0])
		return false;
	verifier_reason(t->reap_log, reason, sizeof(reason));
	mt_info("reap_run refused by the verifier (%s): exited processes are reaped from user "
		"space",
		reason);
	t->reap_refused = -EINVAL;
	return true;
}

/*
 * Open, configure and load with every hook on its chosen rung. A program
 * that fails to load fills the log buffer that was given to it (libbpf
 * asks for the verifier's log only after a failure), which names the hook
 * to move down a rung; the others keep theirs. One object holds every
 * program, so each round reopens it; a round costs a load, and there are
 * at most as many rounds as rungs to give up. The first round loads first,
 * the object open_and_load() opened (and load_ladder() owns from here).
 */
static int load_ladder(struct tracer *t, const struct tracer_opts *opts, struct tracer_bpf *first)
{
	char *logs[NR_HOOKS][MAX_RUNG_PROGS] = {};
	struct hook hooks[NR_HOOKS];
	int err = 0;

	for (int round = 0; round <= NR_HOOKS * MAX_RUNGS; round++) {
		bool moved = false;

		t->skel = round == 0 ? first : tracer_bpf__open();
		if (!t->skel) {
			err = -errno;
			mt_err("cannot open the tracer BPF object: %s", strerror(-err));
			goto cleanup;
		}
		err = configure(t, opts);
		if (err) {
			mt_err("cannot configure the tracer: %s", strerror(-err));
			goto cleanup;
		}
		hooks_of(t->skel, hooks);
		for (int h = 0; h < NR_HOOKS; h++)
			for (int r = 0; r < hooks[h].nr_rungs; r++)
				for (int i = 0; i < MAX_RUNG_PROGS && hooks[h].rungs[r].progs[i];
				     i++) {
					struct bpf_program *prog = hooks[h].rungs[r].progs[i];
					bool chosen = r == t->rung[h];

					bpf_program__set_autoload(prog, chosen);
					if (!chosen)
						continue;
					if (strcmp(hooks[h].rungs[r].name, "fexit") == 0) {
						char fn[64];

						snprintf(fn, sizeof(fn), SYSCALL_WRAPPER "%s",
							 fexit_syscalls[i]);
						bpf_program__set_attach_target(prog, 0, fn);
					}
					if (!logs[h][i])
						logs[h][i] = malloc(LOG_BUF_SIZE);
					if (logs[h][i]) {
						logs[h][i][0] = '\0';
						bpf_program__set_log_buf(prog, logs[h][i],
									 LOG_BUF_SIZE);
					}
				}
		err = tracer_bpf__load(t->skel);
		if (!err)
			break;
		moved = reap_run_refused(t); /* libbpf stops at the first refusal: no hook's */
		for (int h = 0; h < NR_HOOKS; h++) {
			struct rung *rung = &hooks[h].rungs[t->rung[h]];

			for (int i = 0; i < MAX_RUNG_PROGS && rung->progs[i]; i++) {
				char reason[128];

				if (!logs[h][i] || !logs[h][i][0])
					continue;
				mt_debug("verifier log of %s:\n%s",
					 bpf_program__name(rung->progs[i]), logs[h][i]);
				if (t->rung[h] + 1 >= hooks[h].nr_rungs)
					break; /* nothing below: the load fails */
				verifier_reason(logs[h][i], reason, sizeof(reason));
				snprintf(t->why[h], sizeof(t->why[h]),
					 "%s refused by the verifier (%s: %s)", rung->name,
					 bpf_program__name(rung->progs[i]), reason);
				t->rung[h]++;
				moved = true;
				break;
			}
		}
		if (!moved) {
			/* not one program's fault, e.g. a kernel that lists btf_trace_* yet
			 * refuses BTF tracepoints: every hook to its last rung, once */
			for (int h = 0; h < NR_HOOKS; h++)
				if (t->rung[h] + 1 < hooks[h].nr_rungs) {
					snprintf(t->why[h], sizeof(t->why[h]),
						 "%s: loading failed (%s)",
						 hooks[h].rungs[t->rung[h]].name, strerror(-err));
					t->rung[h] = hooks[h].nr_rungs - 1;
					moved = true;
				}
		}
		tracer_bpf__destroy(t->skel);
		t->skel = NULL;
		if (!moved)
			break;
	}
cleanup:
	for (int h = 0; h < NR_HOOKS; h++)
		for (int i = 0; i < MAX_RUNG_PROGS; i++)
			free(logs[h][i]);
	return err;
}

/* Picks each hook's first offered rung, loads, and writes the summary. */
static int open_and_load(struct tracer *t, const struct tracer_opts *opts)
{
	struct hook hooks[NR_HOOKS];
	struct tracer_bpf *skel;
	size_t len = 0;
	int err;

	/* opened once: the ladder's names now, its first load next */
	skel = tracer_bpf__open();
	if (!skel) {
		err = -errno;
		mt_err("cannot open the tracer BPF object: %s", strerror(-err));
		return err;
	}
	hooks_of(skel, hooks);
	for (int h = 0; h < NR_HOOKS; h++) {
		const char *force = h == HOOK_SYSCALLS ? getenv("MEMTRACE_TEST_SYSCALLS") : NULL;
		int last = hooks[h].nr_rungs - 1;
		char why[sizeof(t->why[h])];

		t->rung[h] = opts->force_fallback ? last : 0;
		/* bench/tests only: start at the rung named, to test and compare each one */
		for (int r = 1; force && !opts->force_fallback && r <= last; r++)
			if (strcmp(force, hooks[h].rungs[r].name) == 0) {
				t->rung[h] = r;
				snprintf(t->why[h], sizeof(t->why[h]),
					 "%s: MEMTRACE_TEST_SYSCALLS=%s", hooks[h].rungs[0].name,
					 force);
			}
		/* every rung passed by says why, the best one first */
		while (t->rung[h] < last &&
		       !rung_offered(t, &hooks[h], t->rung[h], why, sizeof(why))) {
			size_t used = strlen(t->why[h]);

			snprintf(t->why[h] + used, sizeof(t->why[h]) - used, "%s%s",
				 used ? "; " : "", why);
			t->rung[h]++;
		}
	}
	/*
	 * The rungs are chosen: the probes' vmlinux BTF goes before libbpf
	 * parses its own copy at load, which then reuses the same heap pages
	 * (mt_heap_hold__begin()); a fresh page costs more than the parse here
	 */
	features__release();
	err = load_ladder(t, opts, skel);
	if (!err) {
		for (int h = 0; h < NR_HOOKS; h++) {
			len += snprintf(t->attach_summary + len, sizeof(t->attach_summary) - len,
					"%s%s: %s", h ? ", " : "", hooks[h].name,
					hooks[h].rungs[t->rung[h]].name);
			if (len >= sizeof(t->attach_summary))
				len = sizeof(t->attach_summary) - 1;
		}
	}
	return err;
}

static const char *tracer__hook_name(int hook)
{
	static const char *const names[NR_HOOKS] = {
		"page_fault_user",    "rss_stat",	    "syscalls",
		"sched_process_fork", "sched_process_exec", "sched_process_exit",
	};

	return hook >= 0 && hook < NR_HOOKS ? names[hook] : NULL;
}

static int attach_perf_faults(struct tracer *t)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_PAGE_FAULTS,
		.size = sizeof(attr),
		.sample_period = 1,
	};
	int err;

	t->perf_fds = calloc(t->nr_cpus, sizeof(*t->perf_fds));
	t->perf_links = calloc(t->nr_cpus, sizeof(*t->perf_links));
	if (!t->perf_fds || !t->perf_links)
		return -ENOMEM;
	for (int cpu = 0; cpu < t->nr_cpus; cpu++) {
		t->perf_fds[cpu] = perf_event_open(&attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (t->perf_fds[cpu] < 0) {
			if (errno == ENODEV) /* possible but offline CPU */
				continue;
			err = -errno;
			mt_err("cannot open the page-fault perf event on cpu %d: %s", cpu,
			       strerror(-err));
			return err;
		}
		t->perf_links[cpu] =
		    bpf_program__attach_perf_event(t->skel->progs.fault_perf, t->perf_fds[cpu]);
		if (!t->perf_links[cpu]) {
			err = -errno;
			mt_err("cannot attach to the page-fault perf event on cpu %d: %s", cpu,
			       strerror(-err));
			return err;
		}
	}
	return 0;
}

/*
 * The syscalls' tracepoint rung: one perf event per syscall event, on CPU 0
 * with no task (a BPF program on a tracepoint event runs on every CPU).
 */
static int attach_syscall_tps(struct tracer *t)
{
	struct bpf_program *progs[MAX_RUNG_PROGS] = { t->skel->progs.mmap_tp,
						      t->skel->progs.munmap_tp,
						      t->skel->progs.mremap_tp,
						      t->skel->progs.brk_tp };
	for (int i = 0; i < MAX_RUNG_PROGS && fexit_syscalls[i]; i++) {
		char what[64];

		snprintf(what, sizeof(what), "syscalls:sys_exit_%s", fexit_syscalls[i]);
		t->tp_links[i] = mt_attach_tp_id(progs[i], t->tp_ids[i], what);
		if (!t->tp_links[i])
			return -errno;
	}
	return 0;
}

static uint64_t ticks_to_ns(uint64_t ticks)
{
	static long hz;

	if (!hz)
		hz = sysconf(_SC_CLK_TCK);
	return ticks * (1000000000ULL / (uint64_t)(hz > 0 ? hz : 100));
}

/*
 * Map the table up to slot nr_slots. The kernel maps every page of a
 * mapping at mmap() time, and each counts in our RSS, so only the prefix in
 * use is mapped (slots are handed out from 0 up), into address space
 * reserved up front so that the table never moves. 0 or -errno.
 */
#define TABLE_MAP_STEP (64 << 10)

static int table_map(struct tracer *t, uint64_t nr_slots)
{
	size_t need = ((size_t)nr_slots * sizeof(*t->table) + TABLE_MAP_STEP - 1) &
		      ~(size_t)(TABLE_MAP_STEP - 1);
	void *p;

	if (need > t->table_bytes)
		need = t->table_bytes;
	if (need <= t->mapped_bytes)
		return 0;
	p = mmap((char *)t->table + t->mapped_bytes, need - t->mapped_bytes, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, bpf_map__fd(t->skel->maps.proc_table), t->mapped_bytes);
	if (p == MAP_FAILED) {
		int err = -errno;

		mt_err("cannot map the kernel's process table: %s", strerror(-err));
		return err;
	}
	t->mapped_bytes = need;
	return 0;
}

/* Begin and end a change of what names a slot (the protocol in tracer.h). */
static void ident_write_begin(struct mt_proc_stats *e)
{
	__atomic_fetch_add(&e->gen, 1, __ATOMIC_SEQ_CST);
}

static void ident_write_end(struct mt_proc_stats *e)
{
	__atomic_fetch_add(&e->gen, 1, __ATOMIC_SEQ_CST);
}

/*
 * Copy one slot as of one identity: retried while gen is odd or moved
 * during the copy. Word by word (every field is an aligned 32- or 64-bit
 * word): memcpy may move bytes, which could tear a counter.
 */
static void slot_read(const struct mt_proc_stats *e, struct mt_proc_stats *out)
{
	const volatile uint64_t *src = (const volatile uint64_t *)e;
	uint64_t *dst = (uint64_t *)out;

	for (unsigned int tries = 0;; tries++) {
		uint32_t gen = __atomic_load_n(&e->gen, __ATOMIC_ACQUIRE);

		if (!(gen & 1)) {
			for (size_t i = 0; i < sizeof(*e) / sizeof(*src); i++)
				dst[i] = src[i];
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&e->gen, __ATOMIC_RELAXED) == gen)
				return;
		}
		/* a writer is mid-change (a few stores), or was preempted there */
		if (tries >= 16)
			sched_yield();
	}
}

/* A free slot: one the loader reaped, else one never used; -ENOSPC when full. */
static int slot_alloc(struct tracer *t, uint32_t *slot)
{
	uint64_t next;

	if (bpf_map_lookup_and_delete_elem(bpf_map__fd(t->skel->maps.free_slots), NULL, slot) == 0)
		return 0;
	if (__atomic_load_n(&t->skel->bss->next_slot, __ATOMIC_RELAXED) >= t->max_procs)
		return -ENOSPC;
	next = __atomic_fetch_add(&t->skel->bss->next_slot, 1, __ATOMIC_SEQ_CST);
	if (next >= t->max_procs)
		return -ENOSPC;
	*slot = next;
	return 0;
}

static void slot_free(struct tracer *t, uint32_t slot)
{
	/* cannot fail for want of room: the queue holds every slot */
	bpf_map_update_elem(bpf_map__fd(t->skel->maps.free_slots), NULL, &slot, BPF_ANY);
}

/* Empty a slot no hash entry points at any more; gen tells readers. */
static void slot_clear(struct mt_proc_stats *e)
{
	ident_write_begin(e);
	__atomic_store_n(&e->tgid, 0, __ATOMIC_RELEASE);
	memset(e, 0, offsetof(struct mt_proc_stats, tgid));
	memset(e->comm, 0, sizeof(e->comm));
	__atomic_fetch_add(&e->changes, 1, __ATOMIC_RELEASE);
	ident_write_end(e);
}

static uint64_t total_resident(const struct mt_proc_stats *e)
{
	return e->rss_pages[MT_RSS_FILE] + e->rss_pages[MT_RSS_ANON] + e->rss_pages[MT_RSS_SHMEM];
}

/*
 * An entry for a process that exists already, with its current RSS from
 * /proc/PID/status, so idle processes show their size before any event.
 * Written into a free slot as the kernel side does (published once the hash
 * points at it); if the kernel side created the entry meanwhile, its
 * figures win.
 */
static int seed_process(struct tracer *t, uint32_t tgid)
{
	struct mt_proc_stats init = {}, *e;
	struct proc_status status;
	struct proc_stat stat;
	long page = sysconf(_SC_PAGESIZE);
	uint32_t key = pidns__to_host(t->pidns, tgid); /* tgid is as our /proc shows it */
	uint32_t slot;
	int err;

	if (!key)
		return -ESRCH;
	err = proc_status__read(tgid, &status);
	if (err)
		return err;
	if (status.kernel_thread)
		return -EPERM;
	err = proc_stat__read(tgid, &stat);
	if (err)
		return err;
	init.start_ns = ticks_to_ns(stat.start_ticks);
	init.ppid = pidns__to_host(t->pidns, stat.ppid);
	memcpy(init.comm, status.name, MT_COMM_LEN - 1);
	if (status.present & STATUS_HAS_SPLIT) {
		init.rss_pages[MT_RSS_FILE] = status.rss_file / page;
		init.rss_pages[MT_RSS_ANON] = status.rss_anon / page;
		init.rss_pages[MT_RSS_SHMEM] = status.rss_shmem / page;
		init.rss_pages[MT_RSS_SWAP] = status.vm_swap / page;
		init.rss_peak_pages = (status.rss_file + status.rss_anon + status.rss_shmem) / page;
		init.flags |= MT_PROC_RSS_SEEN;
	}
	err = slot_alloc(t, &slot);
	if (!err)
		err = table_map(t, slot + 1);
	if (err)
		return err;
	e = &t->table[slot];
	/* its break is in no /proc file: brk_iter or the kernel side fills it in (0 = unknown) */
	err =
	    bpf_map_update_elem(bpf_map__fd(t->skel->maps.proc_brk), &slot, &(__u64){ 0 }, BPF_ANY);
	if (err) {
		err = -errno;
		slot_free(t, slot);
		return err;
	}
	ident_write_begin(e);
	/* fields before tgid, then comm: gen and tgid are the protocol's own */
	memcpy(e, &init, offsetof(struct mt_proc_stats, tgid));
	memcpy(e->comm, init.comm, sizeof(e->comm));
	__atomic_fetch_add(&e->changes, 1, __ATOMIC_RELEASE);
	err = bpf_map_update_elem(bpf_map__fd(t->skel->maps.proc_slots), &key, &slot, BPF_NOEXIST);
	err = err ? -errno : 0;
	if (!err)
		__atomic_store_n(&e->tgid, key, __ATOMIC_RELEASE);
	ident_write_end(e);
	if (err) {
		slot_clear(e);
		slot_free(t, slot);
		if (err == -EEXIST)
			return 0;
		return err == -E2BIG ? -ENOSPC : err;
	}
	if (t->track_tree) {
		uint64_t resident = total_resident(&init);
		uint64_t total = __sync_add_and_fetch(&t->skel->bss->tree_rss_pages, resident);

		if (total > t->skel->bss->tree_peak_pages)
			t->skel->bss->tree_peak_pages = total;
	}
	return 0;
}

int tracer__add_pid(struct tracer *t, uint32_t tgid)
{
	return seed_process(t, tgid);
}

static bool comm_equals(uint32_t pid, const char *comm)
{
	char path[64], buf[MT_COMM_LEN + 2], *p = buf;
	size_t cap = sizeof(buf);
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	n = proc_read_file(path, &p, &cap, 0);
	if (n <= 0)
		return false;
	if (buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	return strcmp(buf, comm) == 0;
}

/* Whether /proc/PID/cgroup puts the process at or below cgroup v2 path rel. */
static bool in_cgroup(uint32_t pid, const char *rel)
{
	char path[64], line[4096];
	bool found = false;
	size_t rel_len = strlen(rel);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *p;

		if (strncmp(line, "0::", 3) != 0)
			continue;
		p = line + 3;
		p[strcspn(p, "\n")] = '\0';
		if (rel_len <= 1 ||
		    (strncmp(p, rel, rel_len) == 0 && (p[rel_len] == '\0' || p[rel_len] == '/')))
			found = true;
	}
	fclose(f);
	return found;
}

static int seed_existing(struct tracer *t, const struct tracer_opts *opts, const char *cgroup_rel)
{
	struct dirent *ent;
	size_t full = 0;
	DIR *dir = opendir("/proc");

	if (!dir)
		return -errno;
	while ((ent = readdir(dir))) {
		char *end;
		unsigned long pid = strtoul(ent->d_name, &end, 10);
		int err;

		if (*end || !pid || !isdigit((unsigned char)ent->d_name[0]))
			continue;
		if (opts->comm && !comm_equals(pid, opts->comm))
			continue;
		if (cgroup_rel && !in_cgroup(pid, cgroup_rel))
			continue;
		err = seed_process(t, pid);
		if (err == -ENOSPC)
			full++;
	}
	closedir(dir);
	if (full)
		mt_warn("%zu existing processes not traced: --max-procs %u is full (raise it)",
			full, t->max_procs);
	return 0;
}

/*
 * One pass of brk_iter: over the tasks of process pid (as our /proc names
 * it), or over every task of the machine when pid is 0. 0 or -errno.
 */
static int brk_iter_run(struct tracer *t, uint32_t pid)
{
	union bpf_iter_link_info info = { .task.pid = pid };
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &info, .link_info_len = sizeof(info));
	struct bpf_link *link =
	    bpf_program__attach_iter(t->skel->progs.brk_iter, pid ? &opts : NULL);
	char buf[64];
	ssize_t n;
	int fd, err = 0;

	if (!link)
		return -errno;
	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0) {
		err = -errno;
	} else {
		/* the program prints nothing: read returns 0 once every task is seen */
		while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
			;
		if (n < 0)
			err = -errno;
		close(fd);
	}
	bpf_link__destroy(link);
	return err;
}

/*
 * The seeded processes' breaks, exactly, by brk_iter before the hooks are
 * attached (no /proc file has the break). A few processes named by the
 * caller: their own tasks only (a task iterator's pid, Linux 6.1; an older
 * kernel that ignores it walks them all, which finds the same), not every
 * task of the machine. Where it cannot run, the kernel side learns each
 * break at the process's next event, and a brk before that is counted as
 * MT_DROP_BRK_UNSEEN.
 */
#define BRK_ITER_PIDS 16

static void seed_brks(struct tracer *t, const struct tracer_opts *opts)
{
	int err = -EINVAL;

	/* pids as our /proc names them, which is the iterator's view in the initial namespace */
	if (!t->pidns && opts->nr_pids && opts->nr_pids <= BRK_ITER_PIDS) {
		err = 0;
		for (size_t i = 0; i < opts->nr_pids && !err; i++) {
			err = brk_iter_run(t, opts->pids[i]);
			if (err == -ESRCH || err == -ENOENT)
				err = 0; /* gone: no break to learn */
		}
		if (err)
			mt_debug("task iterator by pid failed (%s): walking every task",
				 strerror(-err));
	}
	if (err)
		err = brk_iter_run(t, 0);
	if (err)
		mt_info("the seeded processes' breaks are learnt at their next event: task "
			"iterator failed: %s",
			strerror(-err));
}

/* The cgroup v2 path relative to the cgroup2 mount, for matching /proc/PID/cgroup. */
static const char *cgroup_relative(const char *path)
{
	static const char *const mounts[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		size_t n = strlen(mounts[i]);

		if (strncmp(path, mounts[i], n) == 0 && (path[n] == '/' || path[n] == '\0'))
			return path[n] ? path + n : "/";
	}
	return path;
}

/* Room for n entries in the read buffers; grows geometrically, never shrinks. */
static int reserve(struct tracer *t, size_t n)
{
	size_t cap = t->cap ? t->cap : 256;
	uint32_t *keys, *slots;
	struct mt_proc_stats *values;

	if (n <= t->cap)
		return 0;
	while (cap < n)
		cap *= 2;
	if (cap > t->max_procs)
		cap = t->max_procs;
	keys = realloc(t->keys, cap * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	t->keys = keys;
	values = realloc(t->values, cap * sizeof(*values));
	if (!values)
		return -ENOMEM;
	t->values = values;
	slots = realloc(t->value_slots, cap * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	t->value_slots = slots;
	t->cap = cap;
	return 0;
}

struct tracer *tracer__new(const struct tracer_opts *opts)
{
	struct mt_heap_hold hold = {};
	const void *elf;
	size_t elf_sz;
	struct tracer *t;
	__u32 zero = 0;
	int err;

	if (!features__have_btf()) {
		mt_err("kernel has no BTF (/sys/kernel/btf/vmlinux is missing): memtrace needs a "
		       "kernel "
		       "built with CONFIG_DEBUG_INFO_BTF=y");
		errno = ENOTSUP;
		return NULL;
	}
	if (features__check_privileges()) {
		mt_err("cannot load BPF programs: permission denied (run as root, or grant CAP_BPF "
		       "and "
		       "CAP_PERFMON)");
		errno = EPERM;
		return NULL;
	}

	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->stats_fd = -1;
	t->cgroup_fd = -1;
	t->max_procs = opts->max_procs ? opts->max_procs : MT_DEFAULT_MAX_PROCS;
	t->track_tree = opts->track_tree;
	t->nr_cpus = libbpf_num_possible_cpus();
	if (t->nr_cpus <= 0) {
		err = t->nr_cpus < 0 ? t->nr_cpus : -EINVAL;
		mt_err("cannot count the possible CPUs: %s", strerror(-err));
		goto fail;
	}
	err = pidns__open(&t->pidns);
	if (err)
		goto fail;

	if (opts->cgroup_path) {
		t->cgroup_fd = open(opts->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (t->cgroup_fd < 0) {
			err = -errno;
			mt_err("cannot open cgroup '%s': %s (give a cgroup v2 directory such as "
			       "/sys/fs/cgroup/system.slice)",
			       opts->cgroup_path, strerror(-err));
			goto fail;
		}
	}

	mt_heap_hold__begin(&hold);
	err = open_and_load(t, opts);
	if (err) {
		mt_heap_hold__end(&hold);
		mt_err(
		    "cannot load the tracer BPF programs: %s (run with -vv for the verifier log)",
		    strerror(-err));
		goto fail;
	}
	/*
	 * Given back before we are traced: the verifier's and CO-RE's vmlinux
	 * BTF is megabytes, and free() shrinking the heap with brk() once we
	 * are traced would be our own brk_base_unknown loss (our break is not
	 * known to the tracer yet); then the object's image, read at open only
	 */
	features__release();
	elf = tracer_bpf__elf_bytes(&elf_sz);
	mt_skel_release_elf(elf, elf_sz);
	mt_heap_hold__end(&hold);
	mt_info("attach: %s", t->attach_summary);
	if (t->tp_source[0] && bpf_program__autoload(t->skel->progs.mmap_tp))
		mt_info("attach: syscall tracepoint ids from %s", t->tp_source);
	for (int h = 0; h < NR_HOOKS; h++)
		if (t->why[h][0])
			mt_info("attach: %s below its best rung: %s", tracer__hook_name(h),
				t->why[h]);

	t->table_bytes = ((size_t)t->max_procs * sizeof(*t->table) + getpagesize() - 1) &
			 ~(size_t)(getpagesize() - 1);
	t->table = mmap(NULL, t->table_bytes, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t->table == MAP_FAILED) {
		err = -errno;
		t->table = NULL;
		mt_err("cannot reserve room for the kernel's process table: %s", strerror(-err));
		goto fail;
	}
	t->slot_index = malloc(t->max_procs * sizeof(*t->slot_index));
	if (!t->slot_index) {
		err = -ENOMEM;
		goto fail;
	}

	if (t->cgroup_fd >= 0 && bpf_map_update_elem(bpf_map__fd(t->skel->maps.cgroups), &zero,
						     &t->cgroup_fd, BPF_ANY)) {
		err = -errno;
		mt_err("cannot set the cgroup filter: %s", strerror(-err));
		goto fail;
	}

	/*
	 * Allocated before attaching: a brk() of ours that grows the heap once
	 * we are traced would be counted as a loss (seeded from /proc, our
	 * break is not known yet; brk_base_unknown)
	 */
	t->slots = calloc(t->nr_cpus, sizeof(*t->slots));
	t->percpu_u64 = calloc(t->nr_cpus, sizeof(*t->percpu_u64));
	t->pending = calloc(t->nr_cpus, sizeof(*t->pending));
	t->left_out_seq = calloc(t->nr_cpus, sizeof(*t->left_out_seq));
	if (!t->slots || !t->percpu_u64 || !t->pending || !t->left_out_seq) {
		err = -ENOMEM;
		goto fail;
	}
	err = reserve(t, 256);
	if (err)
		goto fail;

	/* seed before attaching so that BPF_NOEXIST lets the kernel's fresher figures win */
	for (size_t i = 0; i < opts->nr_pids; i++) {
		err = seed_process(t, opts->pids[i]);
		if (err == -ENOENT || err == -ESRCH) {
			mt_warn("process %d exited before tracing started", opts->pids[i]);
		} else if (err == -EPERM) {
			mt_warn("process %d is a kernel thread: not traced", opts->pids[i]);
		} else if (err) {
			mt_err("cannot trace process %d: %s", opts->pids[i], strerror(-err));
			goto fail;
		}
	}
	if (!opts->nr_pids && opts->seed_existing) {
		err = seed_existing(t, opts,
				    opts->cgroup_path ? cgroup_relative(opts->cgroup_path) : NULL);
		if (err) {
			mt_err("cannot list processes in /proc: %s", strerror(-err));
			goto fail;
		}
	}
	if (opts->nr_pids || opts->seed_existing)
		seed_brks(t, opts);

	err = tracer_bpf__attach(t->skel);
	if (err) {
		mt_err("cannot attach the tracer: %s", strerror(-err));
		goto fail;
	}
	if (!t->skel->links.fault_user) {
		err = attach_perf_faults(t);
		if (err)
			goto fail;
	}
	if (bpf_program__autoload(t->skel->progs.mmap_tp)) {
		err = attach_syscall_tps(t);
		if (err)
			goto fail;
	}
	return t;

fail:
	tracer__free(t);
	errno = -err;
	return NULL;
}

void tracer__free(struct tracer *t)
{
	if (!t)
		return;
	for (int cpu = 0; cpu < t->nr_cpus; cpu++) {
		if (t->perf_links)
			bpf_link__destroy(t->perf_links[cpu]);
		if (t->perf_fds && t->perf_fds[cpu] > 0)
			close(t->perf_fds[cpu]);
	}
	free(t->perf_links);
	free(t->perf_fds);
	for (int i = 0; i < MAX_RUNG_PROGS; i++)
		bpf_link__destroy(t->tp_links[i]);
	if (t->table)
		munmap(t->table, t->table_bytes);
	tracer_bpf__destroy(t->skel);
	if (t->stats_fd >= 0)
		close(t->stats_fd);
	if (t->cgroup_fd >= 0)
		close(t->cgroup_fd);
	free(t->keys);
	free(t->values);
	free(t->value_slots);
	free(t->slot_index);
	free(t->slots);
	free(t->left_out_seq);
	free(t->pending);
	free(t->percpu_u64);
	pidns__free(t->pidns);
	free(t);
}

/* Slots that may be in use: the kernel hands them out from 0 up. */
static uint32_t slots_in_use(const struct tracer *t)
{
	uint64_t next = __atomic_load_n(&t->skel->bss->next_slot, __ATOMIC_ACQUIRE);

	return next < t->max_procs ? (uint32_t)next : t->max_procs;
}

/*
 * The CPUs' slots, read again while any is mid-flush (odd seq): there the
 * entry may hold the pending faults already while the slot still shows them.
 * The kernel copies each CPU's value word by word in order, so seq is read
 * before pending: an even seq with a stale pending cannot be seen. A flush
 * that ended before the read but after an entry's copy moves that entry's
 * faults, which the callers check. A flush still under way after 1,000 reads
 * (its writer preempted) has its CPU's pending faults left out, not counted
 * twice, and counted once per (CPU, seq) in MT_FAULTS_LEFT_OUT. 0 or -errno.
 */
static int read_fault_slots(struct tracer *t)
{
	__u32 zero = 0;
	bool busy;

	for (unsigned int tries = 0;; tries++) {
		if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.fault_slots), &zero, t->slots))
			return -errno;
		busy = false;
		for (int cpu = 0; cpu < t->nr_cpus && !busy; cpu++)
			busy = t->slots[cpu].seq & 1;
		if (!busy || tries >= 1000)
			break;
		if (tries >= 16)
			sched_yield();
	}
	for (int cpu = 0; busy && cpu < t->nr_cpus; cpu++) {
		struct mt_fault_slot *fs = &t->slots[cpu];

		if (!(fs->seq & 1))
			continue;
		if (fs->tgid && t->left_out_seq[cpu] != fs->seq)
			t->faults_left_out += fs->pending;
		t->left_out_seq[cpu] = fs->seq;
		fs->pending = 0;
		fs->tgid = 0;
	}
	t->have_pending = false;
	for (int cpu = 0; cpu < t->nr_cpus && !t->have_pending; cpu++)
		t->have_pending = t->slots[cpu].tgid && t->slots[cpu].pending;
	return 0;
}

/* Faults of tgid in slot pending on the CPUs at the last read_fault_slots(). */
static uint64_t pending_faults(const struct tracer *t, uint32_t tgid, uint32_t slot)
{
	uint64_t sum = 0;

	if (!t->have_pending)
		return 0;
	for (int cpu = 0; cpu < t->nr_cpus; cpu++)
		if (t->slots[cpu].tgid == tgid && t->slots[cpu].slot == slot)
			sum += t->slots[cpu].pending;
	return sum;
}

/*
 * A CPU's pending faults move into their entry at any moment (the next fault
 * of another process on that CPU), so an entry's copy and a read of the
 * pending counts agree only if the entry's faults did not move from before
 * that read to after it: no flush fell between the two, and every fault is
 * counted once (a flush between a copy and a later read of the pending
 * counts would be in neither; one between an earlier read and the copy, in
 * both). Whether a flush falls there depends on what else faults on that
 * CPU, our own process included (its first touch of a code page). Each
 * retry needs another flush of this process's faults, so it ends.
 */
static int slot_read_faults(struct tracer *t, uint32_t slot, struct mt_proc_stats *out)
{
	const struct mt_proc_stats *e = &t->table[slot];
	int err;

	do {
		slot_read(e, out);
		err = read_fault_slots(t);
		if (err)
			return err;
	} while (__atomic_load_n(&e->faults, __ATOMIC_ACQUIRE) != out->faults);
	out->faults += pending_faults(t, out->tgid, slot);
	return 0;
}

/*
 * Faults still pending in per-CPU slots belong to their entries: read after
 * the copies, then every copy whose faults moved meanwhile (a flush) is
 * copied again and the pending counts read again (see slot_read_faults()).
 * Only the loader empties slots, so a copied slot keeps its tgid.
 */
static int add_pending_faults(struct tracer *t, uint32_t nr_slots)
{
	bool moved;
	int err;

	do {
		err = read_fault_slots(t);
		if (err)
			return err;
		moved = false;
		for (uint32_t s = 0; s < nr_slots; s++) {
			uint32_t i = t->slot_index[s];

			if (i == NO_INDEX ||
			    __atomic_load_n(&t->table[s].faults, __ATOMIC_ACQUIRE) ==
				t->values[i].faults)
				continue;
			slot_read(&t->table[s], &t->values[i]);
			moved = true;
		}
	} while (moved);
	for (uint32_t s = 0; s < nr_slots; s++) {
		uint32_t i = t->slot_index[s];

		if (i != NO_INDEX)
			t->values[i].faults += pending_faults(t, t->keys[i], s);
	}
	return 0;
}

/*
 * In a PID namespace: keys and parents as our /proc shows them, and the
 * processes outside the namespace left out (they have no PID here).
 */
static size_t keys_to_pidns(struct tracer *t, size_t n)
{
	size_t kept = 0;

	if (!t->pidns)
		return n;
	pidns__next_round(t->pidns);
	for (size_t i = 0; i < n; i++) {
		uint32_t ns = pidns__to_ns(t->pidns, t->keys[i]);

		if (!ns)
			continue;
		t->keys[kept] = ns;
		t->values[kept] = t->values[i];
		t->value_slots[kept] = t->value_slots[i];
		t->values[kept].tgid = ns;
		t->values[kept].ppid = pidns__to_ns(t->pidns, t->values[i].ppid);
		kept++;
	}
	return kept;
}

/*
 * One pass over the slots in use, from memory: free slots cost a load,
 * used ones a copy of a slot.
 */
int tracer__read(struct tracer *t, const uint32_t **tgids, const struct mt_proc_stats **stats,
		 size_t *count)
{
	uint32_t nr_slots = slots_in_use(t);
	size_t n = 0;
	int err;

	err = table_map(t, nr_slots);
	if (err)
		return err;
	for (uint32_t s = 0; s < nr_slots; s++) {
		const struct mt_proc_stats *e = &t->table[s];

		t->slot_index[s] = NO_INDEX;
		if (!__atomic_load_n(&e->tgid, __ATOMIC_RELAXED))
			continue;
		if (n == t->cap) {
			err = reserve(t, n + 1);
			if (err)
				return err;
		}
		slot_read(e, &t->values[n]);
		if (!t->values[n].tgid)
			continue; /* reaped while we looked */
		t->keys[n] = t->values[n].tgid;
		t->value_slots[n] = s;
		t->slot_index[s] = n++;
	}
	err = add_pending_faults(t, nr_slots);
	if (err)
		return err;
	n = keys_to_pidns(t, n);
	t->nr_values = n;
	*tgids = t->keys;
	*stats = t->values;
	*count = n;
	return 0;
}

uint64_t tracer__version(const struct tracer *t)
{
	uint32_t nr_slots = slots_in_use(t), mapped = t->mapped_bytes / sizeof(*t->table);
	uint64_t sum = nr_slots;

	/* slots past the mapping are new: nr_slots moved with them */
	for (uint32_t s = 0; s < nr_slots && s < mapped; s++)
		sum += __atomic_load_n(&t->table[s].changes, __ATOMIC_ACQUIRE) +
		       (uint64_t)__atomic_load_n(&t->table[s].gen, __ATOMIC_ACQUIRE);
	return sum;
}

int tracer__sync(struct tracer *t, uint32_t *nr_slots, const uint32_t **pending_slots,
		 size_t *nr_pending)
{
	uint32_t n = slots_in_use(t);
	int err;

	err = table_map(t, n);
	if (err)
		return err;
	pidns__next_round(t->pidns);
	t->nr_pending = 0;
	err = read_fault_slots(t);
	if (err)
		return err;
	/* a flush into the entry moves its change count: only slots pending now count */
	for (int cpu = 0; cpu < t->nr_cpus; cpu++)
		if (t->slots[cpu].tgid && t->slots[cpu].pending && t->slots[cpu].slot < n)
			t->pending[t->nr_pending++] = t->slots[cpu].slot;
	*nr_slots = n;
	*pending_slots = t->pending;
	*nr_pending = t->nr_pending;
	return 0;
}

uint32_t tracer__slot_peek(const struct tracer *t, uint32_t slot, uint32_t *changes)
{
	const struct mt_proc_stats *e = &t->table[slot];
	uint32_t tgid = __atomic_load_n(&e->tgid, __ATOMIC_ACQUIRE);

	*changes = __atomic_load_n(&e->changes, __ATOMIC_ACQUIRE);
	return tgid;
}

int tracer__slot_read(struct tracer *t, uint32_t slot, struct mt_proc_stats *out)
{
	uint32_t host;

	int err;

	/* faults pending at the last read of the CPUs' slots: read them with the copy */
	host = __atomic_load_n(&t->table[slot].tgid, __ATOMIC_ACQUIRE);
	if (host && pending_faults(t, host, slot)) {
		err = slot_read_faults(t, slot, out);
		if (err)
			return err;
	} else {
		slot_read(&t->table[slot], out);
	}
	host = out->tgid;
	if (!host)
		return -ENOENT;
	if (t->pidns) {
		out->tgid = pidns__to_ns(t->pidns, host);
		if (!out->tgid)
			return -ESRCH;
		out->ppid = pidns__to_ns(t->pidns, out->ppid);
	}
	return 0;
}

/* tgid's slot through the hash; 0, -ENOENT. */
static int slot_of(struct tracer *t, uint32_t tgid, uint32_t *slot)
{
	if (bpf_map_lookup_elem(bpf_map__fd(t->skel->maps.proc_slots), &tgid, slot))
		return -errno;
	if (*slot >= t->max_procs)
		return -ENOENT;
	return table_map(t, *slot + 1);
}

int tracer__lookup(struct tracer *t, uint32_t tgid, struct mt_proc_stats *out)
{
	uint32_t ns_tgid = tgid, slot;
	int err;

	tgid = pidns__to_host(t->pidns, tgid);
	if (!tgid)
		return -ENOENT;
	err = slot_of(t, tgid, &slot);
	if (err)
		return err;
	err = slot_read_faults(t, slot, out);
	if (err)
		return err;
	if (out->tgid != tgid)
		return -ENOENT; /* reaped between the two reads */
	out->tgid = ns_tgid;
	out->ppid = pidns__to_ns(t->pidns, out->ppid);
	return 0;
}

int tracer__sample_cost(struct tracer *t, bool on)
{
	if (!on) {
		if (t->stats_fd >= 0)
			close(t->stats_fd);
		t->stats_fd = -1;
		return 0;
	}
	if (t->stats_fd >= 0 || t->stats_refused)
		return t->stats_refused ? -EPERM : 0;
	t->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (t->stats_fd < 0) {
		int err = -errno;

		t->stats_refused = true;
		mt_info("BPF run-time statistics unavailable (%s): cost figures will read 0",
			strerror(-err));
		return err;
	}
	return 0;
}

void tracer__cost_window(struct tracer *t, uint64_t round, uint64_t start_ns, uint64_t end_ns,
			 void (*sleep_until)(uint64_t deadline_ns))
{
	t->cost_windows = true;
	if (round % TRACER_COST_EVERY)
		return;
	tracer__sample_cost(t, true);
	sleep_until(start_ns + (end_ns - start_ns) / TRACER_COST_DIVISOR);
	tracer__sample_cost(t, false);
}

/*
 * Unlink tgid (host) from the hash, empty its slot and hand the slot back.
 * If the kernel gave the slot to a new process of the same PID meanwhile
 * (fork takes an exited, unreaped slot over, moving gen), the hash entry
 * goes back and the slot stays. want_gen: the gen the caller read, or NULL.
 */
static int reap_host(struct tracer *t, uint32_t tgid, const uint32_t *want_gen)
{
	int fd = bpf_map__fd(t->skel->maps.proc_slots);
	struct mt_proc_stats last, *e;
	uint32_t slot, gen;
	int err;

	err = slot_of(t, tgid, &slot);
	if (err)
		return err;
	e = &t->table[slot];
	slot_read(e, &last);
	gen = last.gen;
	/* alive: in a PID namespace ns_tgid may name a new process by now */
	if (!(last.flags & MT_PROC_EXITED) || (want_gen && gen != *want_gen))
		return -EBUSY;
	if (bpf_map_delete_elem(fd, &tgid))
		return -errno;
	if (__atomic_load_n(&e->gen, __ATOMIC_ACQUIRE) != gen) {
		bpf_map_update_elem(fd, &tgid, &slot, BPF_NOEXIST);
		return 0;
	}
	slot_clear(e);
	slot_free(t, slot);
	pidns__forget(t->pidns, tgid);
	return 0;
}

int tracer__reap(struct tracer *t, uint32_t ns_tgid)
{
	return reap_host(t, pidns__to_host(t->pidns, ns_tgid), NULL);
}

int tracer__reap_queue(struct tracer *t, const struct mt_proc_stats *st)
{
	struct tracer_bpf__bss *bss = t->skel->bss;
	uint32_t tgid = pidns__to_host(t->pidns, st->tgid);
	uintptr_t at;
	int err = 0;

	if (!(st->flags & MT_PROC_EXITED))
		return -EBUSY;
	if (!tgid)
		return -ENOENT;
	if (bss->reap_nr == MT_REAP_BATCH)
		err = tracer__reap_flush(t);
	bss->reap_batch[bss->reap_nr].tgid = tgid;
	bss->reap_batch[bss->reap_nr].gen = st->gen;
	/* an entry of the last read names its slot: reap_run needs no hash lookup */
	at = (uintptr_t)st - (uintptr_t)t->values;
	bss->reap_batch[bss->reap_nr].slot =
	    at < t->nr_values * sizeof(*st) ? t->value_slots[at / sizeof(*st)] : MT_REAP_ANY_SLOT;
	bss->reap_nr++;
	return err;
}

/*
 * One BPF_PROG_TEST_RUN of reap_run for the whole batch; where the kernel
 * refuses to run it, the loader's own three calls per process instead.
 */
int tracer__reap_flush(struct tracer *t)
{
	struct tracer_bpf__bss *bss = t->skel->bss;
	LIBBPF_OPTS(bpf_test_run_opts, run);
	int err = 0;

	if (!bss->reap_nr)
		return 0;
	if (!t->reap_refused &&
	    bpf_prog_test_run_opts(bpf_program__fd(t->skel->progs.reap_run), &run)) {
		t->reap_refused = -errno;
		mt_debug("reap_run: %s: reaping from user space", strerror(errno));
	}
	if (t->reap_refused) {
		for (uint32_t i = 0; i < bss->reap_nr; i++)
			bss->reap_batch[i].err =
			    reap_host(t, bss->reap_batch[i].tgid, &bss->reap_batch[i].gen);
	}
	for (uint32_t i = 0; i < bss->reap_nr; i++) {
		int e = bss->reap_batch[i].err;

		if (e == 0 && t->reap_refused) {
			t->reaped_by_loader++; /* reap_host() forgot its namespace PID */
		} else if (e == 0) {
			pidns__forget(t->pidns, bss->reap_batch[i].tgid);
			t->reaped_in_kernel++;
		} else if (e != -ENOENT && e != -EBUSY && !err) {
			err = e;
		}
	}
	bss->reap_nr = 0;
	return err;
}

int tracer__reap_counts(const struct tracer *t, uint64_t *in_kernel, uint64_t *by_loader)
{
	*in_kernel = t->reaped_in_kernel;
	*by_loader = t->reaped_by_loader;
	return t->reap_refused;
}

int tracer__tree_rss(struct tracer *t, uint64_t *now_bytes, uint64_t *peak_bytes)
{
	long page = sysconf(_SC_PAGESIZE);

	if (!t->track_tree)
		return -EINVAL;
	*now_bytes =
	    (uint64_t)(int64_t)__atomic_load_n(&t->skel->bss->tree_rss_pages, __ATOMIC_RELAXED) *
	    page;
	*peak_bytes = __atomic_load_n(&t->skel->bss->tree_peak_pages, __ATOMIC_RELAXED) * page;
	return 0;
}

int tracer__losses(struct tracer *t, uint64_t out[MT_CNT_NR])
{
	int fd = bpf_map__fd(t->skel->maps.counters);

	for (__u32 i = 0; i < MT_CNT_NR; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, t->percpu_u64))
			continue;
		for (int cpu = 0; cpu < t->nr_cpus; cpu++)
			out[i] += t->percpu_u64[cpu];
	}
	out[MT_FAULTS_LEFT_OUT] += t->faults_left_out;
	return 0;
}

int tracer__cost(struct tracer *t, struct tracer_cost *cost)
{
	struct bpf_program *prog;

	memset(cost, 0, sizeof(*cost));
	cost->stats_enabled = !t->stats_refused;
	cost->scale = t->cost_windows ? TRACER_COST_DIVISOR * TRACER_COST_EVERY : 1;
	cost->sampled_fraction = 1.0 / cost->scale;
	bpf_object__for_each_program(prog, t->skel->obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		struct tracer_prog_cost *pc;
		int fd = bpf_program__fd(prog);

		if (fd < 0 || cost->nr_progs >= TRACER_MAX_PROGS)
			continue;
		if (bpf_program__expected_attach_type(prog) == BPF_TRACE_ITER)
			continue; /* brk_iter: run once at the start, no hook */
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			continue;
		pc = &cost->progs[cost->nr_progs++];
		pc->name = bpf_program__name(prog);
		switch (bpf_program__type(prog)) {
		case BPF_PROG_TYPE_TRACING:
			pc->attach =
			    bpf_program__expected_attach_type(prog) == BPF_TRACE_RAW_TP	  ? "tp_btf"
			    : bpf_program__expected_attach_type(prog) == BPF_TRACE_FENTRY ? "fentry"
											  : "fexit";
			break;
		case BPF_PROG_TYPE_PERF_EVENT:
			pc->attach = "perf_event";
			break;
		case BPF_PROG_TYPE_TRACEPOINT:
			pc->attach = "tracepoint";
			break;
		default:
			pc->attach = "raw_tp";
		}
		pc->run_cnt = info.run_cnt;
		pc->run_time_ns = info.run_time_ns;
		cost->total_run_cnt += info.run_cnt;
		cost->total_run_time_ns += info.run_time_ns;
	}
	return 0;
}

const char *tracer__attach_summary(const struct tracer *t)
{
	return t->attach_summary;
}

uint32_t tracer__max_procs(const struct tracer *t)
{
	return t->max_procs;
}

int tracer__print_ladder(FILE *out)
{
	struct tracer_opts opts = {};
	struct tracer t = { .max_procs = 1 };
	int err = open_and_load(&t, &opts);

	tracer_bpf__destroy(t.skel);
	if (err) {
		fprintf(out, "%-34s cannot load: %s\n", "attach ladder", strerror(-err));
		return err;
	}
	for (int h = 0; h < NR_HOOKS; h++) {
		char label[64];
		const char *rung = strstr(t.attach_summary, tracer__hook_name(h));

		snprintf(label, sizeof(label), "hook %s", tracer__hook_name(h));
		rung = rung ? strchr(rung, ':') + 2 : "?";
		fprintf(out, "%-34s %.*s%s%s%s\n", label, (int)strcspn(rung, ","), rung,
			t.why[h][0] ? " (" : "", t.why[h], t.why[h][0] ? ")" : "");
	}
	return 0;
}
