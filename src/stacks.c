// SPDX-License-Identifier: GPL-2.0
/*
 * The stacks object's loader behind include/stacks_api.h: load and attach,
 * the ring's notes and captures (--malloc's wait in src/mpeak.c's log, for
 * the end and the heap's peak), --malloc's uprobes, the harvest into the
 * recording. This file is over 800 lines: all of it works on struct
 * stacks's private state; the malloc attach (attach_uprobe() to
 * stacks__malloc_stats()) is the part to move out next, behind a private
 * header.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bpf_loader.h"
#include "hashmap.h"
#include "kfeatures.h"
#include "log.h"
#include "mpeak.h"
#include "pidns_api.h"
#include "procmaps.h"
#include "tracefs_ids.h"
#include "stacks_api.h"
#include "stacks.skel.h"

#define NR_TP_PAIRS 7	 /* at most: the five lifecycle ones and two for page faults */
#define NR_SYSCALL_TPS 6 /* the syscalls' tracepoint rung: sys_exit_<syscall_tps[i]> */

static const char *const syscall_tps[NR_SYSCALL_TPS] = { "mmap", "munmap", "mremap",
							 "brk",	 "shmat",  "shmdt" };

struct stacks {
	struct stacks_bpf *skel;
	struct stacks_opts opts;
	struct recording *rec;
	struct procmaps *maps;
	struct pidns *pidns; /* NULL in the initial PID namespace */
	struct ring_buffer *notes_rb;
	struct mt_links links; /* tracepoints, then uprobes */
	struct mt_tp_pair pairs[NR_TP_PAIRS];
	size_t npairs;
	bool perf_faults; /* page faults from the perf-event rung */
	bool syscall_tps; /* syscalls from their tracepoints, tp_ids, not sys_exit */
	uint32_t tp_ids[NR_SYSCALL_TPS];
	uint64_t ustack_errors; /* captures the recording refused */
	uint64_t *percpu;	/* per-CPU counter read buffer */
	int ncpu;
	uint64_t notes[MT_NOTE_VMA + 1];
	char attach_summary[256];
	char malloc_libc[PATH_MAX]; /* --malloc: the C library probed, "" before attach */
	struct mpeak *mlog;	    /* dwarf --malloc: the captures live now and at the peaks */
	uint64_t malloc_pids;	    /* processes the allocator uprobes were attached for */
	uint64_t malloc_missed;	    /* children the uprobes could not be attached for */
	uint64_t malloc_followed;   /* children attached at their fork note */
};

uint64_t mt_stacks_drops(const uint64_t c[MT_SC_NR])
{
	return c[MT_SC_STACK_COLLISION] + c[MT_SC_STACK_FULL] + c[MT_SC_STACK_ERR] +
	       c[MT_SC_KEYS_FULL] + c[MT_SC_NOTES_FULL] + c[MT_SC_TRACKED_FULL] +
	       c[MT_SC_INFLIGHT_FULL] + c[MT_SC_ALLOCS_FULL] + c[MT_SC_USTACK_LOST];
}

static int read_thp_always(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");

	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strstr(buf, "[always]") != NULL;
}

static void syscall_progs(struct stacks_bpf *skel, struct bpf_program *progs[NR_SYSCALL_TPS])
{
	struct bpf_program *p[NR_SYSCALL_TPS] = {
		skel->progs.stk_mmap_tp, skel->progs.stk_munmap_tp, skel->progs.stk_mremap_tp,
		skel->progs.stk_brk_tp,	 skel->progs.stk_shmat_tp,  skel->progs.stk_shmdt_tp
	};

	memcpy(progs, p, sizeof(p));
}

/*
 * The syscalls' rung before any load, as the tracer's (src/tracer.c): their
 * tracepoints (syscalls:sys_exit_*, no program for any other syscall) where
 * the event ids can be had, else sys_exit on the tp_btf/raw_tp ladder.
 * MEMTRACE_TEST_SYSCALLS=tp_btf or raw_tp (tests) skips the tracepoints.
 */
static void choose_syscall_rung(struct stacks *s)
{
	const char *force = getenv("MEMTRACE_TEST_SYSCALLS");
	char source[64], why[256];

	if (s->opts.force_raw || (force && strcmp(force, "tracepoint") != 0))
		return;
	s->syscall_tps = tracefs_ids__sys_exits(syscall_tps, NR_SYSCALL_TPS, NULL, s->tp_ids,
						source, sizeof(source), why, sizeof(why)) == 0;
	if (s->syscall_tps)
		mt_info("attach: syscall tracepoint ids from %s", source);
	else
		mt_info("attach: syscalls below their tracepoint rung: %s", why);
}

/*
 * Each tracepoint as tp_btf, or raw_tp where BTF lacks it (the STYLE ladder);
 * page faults from the exceptions tracepoints (x86), or else from a
 * software perf event (every other arch), which sees kernel-mode faults
 * on user memory too.
 */
static size_t tp_pairs(struct stacks *s)
{
	struct stacks_bpf *skel = s->skel;
	const struct mt_tp_pair life[] = {
		{ "sys_exit", skel->progs.stk_sys_exit, skel->progs.stk_sysexit_raw },
		{ "sched_process_fork", skel->progs.stk_fork, skel->progs.stk_fork_raw },
		{ "sched_process_exec", skel->progs.stk_exec, skel->progs.stk_exec_raw },
		{ "sched_process_exit", skel->progs.stk_exit, skel->progs.stk_exit_raw },
	};
	const struct mt_tp_pair user = { "page_fault_user", skel->progs.stk_fault,
					 skel->progs.stk_fault_raw };
	const struct mt_tp_pair kern = { "page_fault_kernel", skel->progs.stk_kfault,
					 skel->progs.stk_kfault_raw };
	struct bpf_program *sys_tps[NR_SYSCALL_TPS];
	size_t n = 0, skip = 0;

	syscall_progs(skel, sys_tps);
	for (int i = 0; i < NR_SYSCALL_TPS; i++) {
		bpf_program__set_autoload(sys_tps[i], s->syscall_tps);
		bpf_program__set_autoattach(sys_tps[i], false); /* through perf events */
	}
	if (s->syscall_tps) { /* life[0], sys_exit: not loaded */
		bpf_program__set_autoload(life[0].btf, false);
		bpf_program__set_autoload(life[0].raw, false);
		skip = 1;
	}
	/* raw_tp needs the tracepoint as much as tp_btf does: forced raw keeps perf where it lacks
	 */
	s->perf_faults = s->opts.force_perf || !features__have_tp_btf("page_fault_user");
	bpf_program__set_autoload(skel->progs.stk_fault_perf, s->perf_faults);
	if (s->perf_faults) {
		bpf_program__set_autoload(user.btf, false);
		bpf_program__set_autoload(user.raw, false);
	} else {
		s->pairs[n++] = user;
	}
	/* without BTF for it, the kernel tracepoint is taken to be missing (not x86) */
	if (!s->perf_faults && features__have_tp_btf("page_fault_kernel")) {
		s->pairs[n++] = kern;
	} else {
		bpf_program__set_autoload(kern.btf, false);
		bpf_program__set_autoload(kern.raw, false);
		if (!s->perf_faults)
			mt_warn("no page_fault_kernel tracepoint: faults the kernel takes on user "
				"memory (read() into a fresh buffer) are not counted");
	}
	memcpy(s->pairs + n, life + skip, sizeof(life) - skip * sizeof(life[0]));
	return n + sizeof(life) / sizeof(life[0]) - skip;
}

static int configure(struct stacks *s, bool force_raw)
{
	struct stacks_bpf *skel = s->skel;
	const struct stacks_opts *o = &s->opts;
	struct bpf_program *prog;
	size_t used = 0;
	int err;

	skel->rodata->event_mask = o->events;
	skel->rodata->sample_every = o->sample_every;
	skel->rodata->follow_forks = o->follow_forks;
	skel->rodata->thp_always = read_thp_always();
	skel->rodata->nr_mmap = SYS_mmap;
	skel->rodata->nr_brk = SYS_brk;
	skel->rodata->nr_munmap = SYS_munmap;
	skel->rodata->nr_mremap = SYS_mremap;
	skel->rodata->nr_shmat = SYS_shmat;
	skel->rodata->nr_shmdt = SYS_shmdt;
	skel->rodata->unwind_mode = o->unwind;
	skel->rodata->stack_bytes = o->stack_bytes;
	skel->rodata->sample_bytes = o->sample_bytes;
	skel->rodata->fault_period = o->fault_period;
	if (o->capture_rate) /* at least one capture a window */
		skel->rodata->window_captures =
		    (o->capture_rate * MT_RATE_WINDOW_NS + 999999999) / 1000000000;
	err = mt_set_max_entries(skel->maps.stacks, o->max_stacks, "stacks (--max-stacks)");
	if (!err && o->unwind == MT_UNWIND_DWARF)
		err = mt_set_max_entries(skel->maps.ustacks, o->ustack_ring, "stack capture ring");
	/* only the uprobes use them: preallocated, allocs alone cost 100 ms to create */
	if (!err && !o->malloc)
		err = mt_set_max_entries(skel->maps.allocs, 1, "allocs");
	if (!err && !o->malloc)
		err = mt_set_max_entries(skel->maps.allocflight, 1, "allocflight");
	if (!err && !o->malloc)
		err = mt_set_max_entries(skel->maps.memptrs, 1, "memptrs");
	if (!err && !o->malloc)
		err = mt_set_max_entries(skel->maps.mpeak, 1, "mpeak");
	if (err)
		return err;
	if (!o->malloc)
		bpf_object__for_each_program(
		    prog,
		    skel->obj) if (strncmp(bpf_program__section_name(prog), "uprobe", 6) == 0 ||
				   strncmp(bpf_program__section_name(prog), "uretprobe", 9) == 0)
		    bpf_program__set_autoload(prog, false);
	if (force_raw) /* the retry of a refused load: the last rungs */
		s->syscall_tps = false;
	s->npairs = tp_pairs(s);
	if (s->perf_faults)
		used = snprintf(s->attach_summary, sizeof(s->attach_summary),
				"page faults: perf_event (software page-faults)");
	if (s->syscall_tps)
		used += snprintf(s->attach_summary + used, sizeof(s->attach_summary) - used,
				 "%ssyscalls: tracepoint", used ? ", " : "");
	mt_ladder_choose(s->pairs, s->npairs, force_raw, s->attach_summary,
			 sizeof(s->attach_summary), &used);
	return 0;
}

static int attach_syscall_tps(struct stacks *s)
{
	struct bpf_program *progs[NR_SYSCALL_TPS];

	syscall_progs(s->skel, progs);
	for (int i = 0; i < NR_SYSCALL_TPS; i++) {
		struct bpf_link *link;
		char what[64];
		int err;

		snprintf(what, sizeof(what), "syscalls:sys_exit_%s", syscall_tps[i]);
		link = mt_attach_tp_id(progs[i], s->tp_ids[i], what);
		if (!link)
			return -errno;
		err = mt_links__add(&s->links, link);
		if (err)
			return err;
	}
	return 0;
}

static int try_load(void *ctx, bool force_raw)
{
	struct stacks *s = ctx;
	int err;

	stacks_bpf__destroy(s->skel);
	s->skel = stacks_bpf__open();
	if (!s->skel) {
		err = -errno;
		mt_err("cannot open the stacks BPF object: %s", strerror(-err));
		return err;
	}
	err = configure(s, force_raw);
	features__release(); /* before libbpf's own copy: see mt_heap_hold__begin() */
	if (!err)
		err = stacks_bpf__load(s->skel);
	if (err) {
		stacks_bpf__destroy(s->skel);
		s->skel = NULL;
	}
	return err;
}

static void malloc_follow(struct stacks *s, uint32_t pid);

static bool current_image(const struct stacks *s, const struct mt_note *n)
{
	struct mt_tracked t;

	/* exec'd since: what /proc shows now belongs to a later note */
	return bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.tracked), &n->tgid, &t) ||
	       t.gen == n->gen;
}

/*
 * The recording's PID for a kernel (host) tgid: the one our /proc shows.
 * In a PID namespace every traced process has one (they descend from a
 * process of ours, and the fork ring gives it however short it lived);
 * one that could not be had is 0, under no process, never a host PID.
 */
static uint32_t rec_pid(struct stacks *s, uint32_t host_tgid)
{
	return host_tgid ? pidns__to_ns(s->pidns, host_tgid) : 0;
}

static int on_note(void *ctx, void *data, size_t len)
{
	struct stacks *s = ctx;
	const struct mt_note *n = data;
	uint32_t pid;

	if (len < sizeof(*n))
		return 0;
	if (n->type <= MT_NOTE_VMA)
		s->notes[n->type]++;
	pid = rec_pid(s, n->tgid);
	if (n->type == MT_NOTE_VMA) {
		struct mt_vma_note v;

		/* recorded whether or not the process is alive: that is the point */
		if (len < sizeof(v) || !pid)
			return 0;
		memcpy(&v, data, sizeof(v));
		v.hdr.tgid = pid;
		procmaps__on_vma_note(s->maps, &v);
		return 0;
	}
	if (n->type == MT_NOTE_FORK && !current_image(s, n))
		malloc_follow(s, n->tgid); /* exec'd already: still one of ours */
	if (n->type != MT_NOTE_EXIT && !current_image(s, n))
		return 0;
	if (!pid)
		return 0; /* no /proc of ours to read */
	switch (n->type) {
	case MT_NOTE_FORK:
		procmaps__read(s->maps, pid, 0, rec_pid(s, n->ppid));
		malloc_follow(s, n->tgid); /* uprobes go by host PID */
		break;
	case MT_NOTE_EXEC:
	case MT_NOTE_MAPS:
		procmaps__read(s->maps, pid, n->gen, 0);
		break;
	case MT_NOTE_EXIT:
		mt_debug("process %u exited", pid);
		break;
	}
	return 0;
}

static int on_ustack(void *ctx, void *data, size_t len)
{
	struct stacks *s = ctx;
	const struct mt_ustack_event *e = data;
	struct mt_rec_ustack u = {};

	if (len < sizeof(*e) || e->stack_len > len - sizeof(*e) || e->nregs > MT_UNWIND_MAX_REGS) {
		s->ustack_errors++;
		return 0;
	}
	if (e->flags & MT_USTACK_EV_RELEASE) {
		mpeak__release(s->mlog, e->id, e->image_peak, e->all_peak);
		return 0;
	}
	u.pid = rec_pid(s, e->tgid);
	u.gen = e->gen;
	u.event = e->event;
	u.class = e->class;
	u.arch = e->arch;
	u.nregs = e->nregs;
	memcpy(u.regs, e->regs, sizeof(u.regs[0]) * e->nregs);
	u.count = e->count;
	u.bytes = e->bytes;
	u.stack_addr = e->stack_addr;
	u.stack_len = e->stack_len;
	u.flags = e->flags & MT_USTACK_EV_KERNEL_FAULT ? MT_USTACK_KERNEL_FAULT : 0;
	u.stack = (uint8_t *)e->stack;
	/* a --malloc capture waits in the log until its block is freed or the harvest */
	if (e->id && e->event == MT_EV_MALLOC
		? mpeak__capture(s->mlog, e->id, &u, e->image_peak, e->all_peak)
		: recording__add_ustack(s->rec, &u))
		s->ustack_errors++;
	return 0;
}

int stacks__malloc_capture(struct stacks *s, uint64_t id, const struct mt_rec_ustack *u,
			   int64_t image_peak, int64_t all_peak)
{
	return mpeak__capture(s->mlog, id, u, image_peak, all_peak);
}

void stacks__malloc_release(struct stacks *s, uint64_t id, int64_t image_peak, int64_t all_peak)
{
	mpeak__release(s->mlog, id, image_peak, all_peak);
}

int stacks__malloc_gen(const struct stacks *s, uint32_t pid, uint32_t *gen)
{
	uint32_t host = pidns__to_host(s->pidns, pid);
	struct mt_tracked t;

	if (!host || bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.tracked), &host, &t))
		return -ESRCH;
	*gen = t.gen;
	return 0;
}

int stacks__malloc_total(struct stacks *s, const struct stacks_malloc_image *img)
{
	struct mt_rec_sample r = {
		.pid = img->pid,
		.stack_id = (int32_t)(int64_t)MT_STACK_NODATA,
		.gen = img->gen,
		.event = MT_EV_MALLOC,
		.class = MT_CLASS_NONE,
		.count = img->count,
		.bytes = img->bytes,
	};
	struct mt_rec_peak peak = {
		.pid = img->pid,
		.gen = img->gen,
		.bytes = img->peak_bytes,
		.blocks = img->peak_blocks,
		.ts_ns = img->peak_ts_ns,
		.end_bytes = img->bytes,
	};
	uint32_t now;
	int err = img->count || img->bytes ? recording__add_sample(s->rec, &r) : 0;

	if (!err && img->peak_bytes > 0 && s->opts.unwind == MT_UNWIND_DWARF)
		err = mpeak__set_peak(s->mlog, &peak);
	if (!err && img->peak_bytes > 0 && s->opts.unwind == MT_UNWIND_DWARF && img->only_image) {
		/* the interposer orders one image's events only: all processes' peak if alone */
		peak.pid = peak.gen = 0;
		peak.flags = MT_PEAK_ALL;
		err = mpeak__set_peak(s->mlog, &peak);
	}
	if (err || !img->pid)
		return err;
	/* the image's layout, as the harvest reads it for the aggregate's images */
	if (!recording__has_maps(s->rec, img->pid, img->gen) &&
	    !stacks__malloc_gen(s, img->pid, &now) && now == img->gen)
		procmaps__read(s->maps, img->pid, img->gen, 0);
	return procmaps__add_kernel_maps(s->maps, img->pid, img->gen);
}

struct stacks *stacks__new(const struct stacks_opts *opts, struct recording *rec)
{
	struct stacks *s;
	int err;

	if (features__check_privileges()) {
		mt_err("cannot record: permission denied (run as root or grant CAP_BPF and "
		       "CAP_PERFMON)");
		errno = EPERM;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->opts = *opts;
	/* tests only (tests/vm/README.md): the perf-event fault rung of other arches, on x86 */
	if (getenv("MEMTRACE_TEST_FAULTS") && strcmp(getenv("MEMTRACE_TEST_FAULTS"), "perf") == 0)
		s->opts.force_perf = true;
	if (!s->opts.events)
		s->opts.events =
		    MT_EVMASK(MT_EV_FAULT) | MT_EVMASK(MT_EV_MMAP) | MT_EVMASK(MT_EV_BRK);
	if (!s->opts.sample_every)
		s->opts.sample_every = 1;
	if (!s->opts.max_stacks)
		s->opts.max_stacks = MT_DEFAULT_MAX_STACKS;
	if (!s->opts.stack_bytes)
		s->opts.stack_bytes = MT_DEFAULT_STACK_BYTES;
	if (!s->opts.sample_bytes)
		s->opts.sample_bytes = MT_DEFAULT_SAMPLE_BYTES;
	if (!s->opts.fault_period)
		s->opts.fault_period = s->opts.sample_bytes;
	if (!s->opts.ustack_ring)
		s->opts.ustack_ring = MT_DEFAULT_USTACK_RING;
	s->rec = rec;
	s->ncpu = libbpf_num_possible_cpus();
	s->maps = procmaps__new(rec);
	err = pidns__open(&s->pidns); /* says why it failed */
	if (err)
		goto fail;
	s->percpu = s->ncpu > 0 ? calloc(s->ncpu, sizeof(*s->percpu)) : NULL;
	s->mlog = mpeak__new();
	if (!s->maps || !s->percpu || !s->mlog) {
		err = s->ncpu < 0 ? s->ncpu : -ENOMEM;
		mt_err("cannot set up the recorder: %s", strerror(-err));
		goto fail;
	}
	mt_setup_libbpf_log();
	choose_syscall_rung(s);
	err = mt_bpf_load("stacks", try_load, s, opts->force_raw);
	if (err)
		goto fail;
	mt_info("attach: %s", s->attach_summary);
	/* tracepoints only: uprobes need a binary (stacks__attach_malloc) */
	err = mt_ladder_attach(s->pairs, s->npairs, &s->links);
	if (!err && s->perf_faults)
		err = mt_attach_perf_faults(s->skel->progs.stk_fault_perf, &s->links);
	if (!err && s->syscall_tps) /* configure() loaded their programs */
		err = attach_syscall_tps(s);
	if (err)
		goto fail;
	s->notes_rb = ring_buffer__new(bpf_map__fd(s->skel->maps.notes), on_note, s, NULL);
	if (!s->notes_rb) {
		err = -errno;
		mt_err("cannot open the notes ring buffer: %s", strerror(-err));
		goto fail;
	}
	if (s->opts.unwind == MT_UNWIND_DWARF &&
	    ring_buffer__add(s->notes_rb, bpf_map__fd(s->skel->maps.ustacks), on_ustack, s)) {
		err = -errno;
		mt_err("cannot open the stack capture ring buffer: %s", strerror(-err));
		goto fail;
	}
	return s;
fail:
	stacks__free(s);
	errno = -err;
	return NULL;
}

void stacks__free(struct stacks *s)
{
	if (!s)
		return;
	ring_buffer__free(s->notes_rb);
	mt_links__destroy(&s->links);
	stacks_bpf__destroy(s->skel);
	procmaps__free(s->maps);
	pidns__free(s->pidns);
	free(s->percpu);
	mpeak__free(s->mlog);
	free(s);
}

int stacks__track(struct stacks *s, uint32_t pid)
{
	struct mt_tracked t = {};
	uint32_t host;
	int err;

	if (kill(pid, 0) && errno == ESRCH)
		return -ESRCH;
	host = pidns__to_host(s->pidns, pid); /* the kernel side knows host tgids only */
	if (!host)
		return -ESRCH;
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.tracked), &host, &t, BPF_ANY)) {
		err = -errno;
		return err == -E2BIG ? -ENOSPC : err;
	}
	/* a held child is still a copy of us: its pre-exec frames resolve against these */
	procmaps__read(s->maps, pid, 0, 0);
	return 0;
}

static int attach_uprobe(struct stacks *s, struct bpf_program *prog, pid_t pid, const char *libc,
			 const char *func, bool ret, bool quiet)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .func_name = func, .retprobe = ret);
	struct bpf_link *link;
	int err;

	link = bpf_program__attach_uprobe_opts(prog, pid, libc, 0, &uo);
	if (!link) {
		err = -errno;
		if (quiet) /* a child that exited first: counted by the caller */
			mt_debug("cannot attach %s to %s in %s for %d: %s",
				 ret ? "uretprobe" : "uprobe", func, libc, pid, strerror(-err));
		else
			mt_err("cannot attach %s to %s in %s: %s", ret ? "uretprobe" : "uprobe",
			       func, libc, strerror(-err));
		return err;
	}
	return mt_links__add(&s->links, link);
}

/* The allocator uprobes on s->malloc_libc for pid alone. 0 or -errno after one line. */
static int attach_malloc_pid(struct stacks *s, int pid, bool quiet)
{
	struct stacks_bpf *skel = s->skel;
	const struct {
		struct bpf_program *prog;
		const char *func;
		bool ret;
	} probes[] = {
		{ skel->progs.stk_malloc, "malloc", false },
		{ skel->progs.stk_malloc_ret, "malloc", true },
		{ skel->progs.stk_calloc, "calloc", false },
		{ skel->progs.stk_malloc_ret, "calloc", true },
		{ skel->progs.stk_realloc, "realloc", false },
		{ skel->progs.stk_malloc_ret, "realloc", true },
		{ skel->progs.stk_aligned, "aligned_alloc", false },
		{ skel->progs.stk_malloc_ret, "aligned_alloc", true },
		{ skel->progs.stk_memalign, "posix_memalign", false },
		{ skel->progs.stk_memalign_ret, "posix_memalign", true },
		{ skel->progs.stk_mmap, "mmap", false },
		{ skel->progs.stk_malloc_ret, "mmap", true },
		{ skel->progs.stk_free, "free", false },
		{ skel->progs.stk_munmap, "munmap", false },
	};
	int err;

	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		err = attach_uprobe(s, probes[i].prog, pid, s->malloc_libc, probes[i].func,
				    probes[i].ret, quiet);
		if (err)
			return err;
	}
	s->malloc_pids++;
	return 0;
}

/*
 * A child of a traced command: its own uprobes (the breakpoints it
 * inherited are taken out at its first call, uprobe filters go by mm).
 * What it allocates before they are in place is not seen; its frees of
 * those blocks count as unknown frees.
 */
static void malloc_follow(struct stacks *s, uint32_t pid)
{
	if (!s->malloc_libc[0] || !s->opts.follow_forks)
		return;
	if (attach_malloc_pid(s, pid, true))
		s->malloc_missed++;
	else
		s->malloc_followed++;
}

int stacks__attach_malloc(struct stacks *s, int sample_pid, int pid)
{
	int err;

	err = procmaps__find_libc(sample_pid, s->malloc_libc, sizeof(s->malloc_libc));
	if (err) {
		s->malloc_libc[0] = '\0';
		mt_err("cannot find the C library of process %d for --malloc: %s", sample_pid,
		       strerror(-err));
		return err;
	}
	err = attach_malloc_pid(s, pid, false);
	if (err)
		return err;
	mt_info("--malloc: uprobes on %s for %s", s->malloc_libc,
		pid < 0 ? "every process" : "one process (and the children it starts)");
	return 0;
}

int stacks__malloc_stats(const struct stacks *s, struct stacks_malloc_stats *st)
{
	uint64_t *v = s->percpu, sum[2] = {};

	memset(st, 0, sizeof(*st));
	st->pids = s->malloc_pids;
	st->missed_pids = s->malloc_missed;
	st->followed = s->malloc_followed;
	st->released = mpeak__released(s->mlog);
	st->live = mpeak__live(s->mlog);
	st->held = mpeak__held(s->mlog);
	if (!s->opts.malloc)
		return 0;
	for (uint32_t i = 0; i < 2; i++) {
		if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.mstat), &i, v))
			return -errno;
		for (int c = 0; c < s->ncpu; c++)
			sum[i] += v[c];
	}
	st->filtered = sum[0];
	st->release_lost = sum[1];
	return 0;
}

int stacks__poll(struct stacks *s, int timeout_ms)
{
	int err = ring_buffer__poll(s->notes_rb, timeout_ms);

	/* captures wake us only when their ring fills up: read what waits anyway */
	if (err >= 0 || err == -EINTR)
		err = ring_buffer__consume(s->notes_rb);
	return err < 0 && err != -EINTR ? err : 0;
}

int stacks__poll_fd(const struct stacks *s)
{
	return ring_buffer__epoll_fd(s->notes_rb);
}

bool stacks__idle(const struct stacks *s)
{
	uint32_t next;

	return bpf_map_get_next_key(bpf_map__fd(s->skel->maps.tracked), NULL, &next) != 0;
}

bool stacks__tracked(const struct stacks *s, uint32_t pid)
{
	uint32_t host = pidns__to_host(s->pidns, pid);
	struct mt_tracked t;

	return host && bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.tracked), &host, &t) == 0;
}

int stacks__counters(const struct stacks *s, uint64_t out[MT_SC_NR])
{
	int fd = bpf_map__fd(s->skel->maps.stcnt);

	memset(out, 0, MT_SC_NR * sizeof(*out));
	for (uint32_t i = 0; i < MT_SC_NR; i++) {
		if (bpf_map_lookup_elem(fd, &i, s->percpu))
			return -errno;
		for (int c = 0; c < s->ncpu; c++)
			out[i] += s->percpu[c];
	}
	return 0;
}

size_t stacks__nkeys(const struct stacks *s)
{
	int fd = bpf_map__fd(s->skel->maps.agg);
	struct mt_stack_key key, next;
	void *prev = NULL;
	size_t n = 0;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		n++;
	}
	return n;
}

uint64_t stacks__notes(const struct stacks *s, uint32_t type)
{
	return type <= MT_NOTE_VMA ? s->notes[type] : 0;
}

const char *stacks__attach_summary(const struct stacks *s)
{
	return s->attach_summary;
}

int stacks__map_fd(const struct stacks *s, const char *name)
{
	int fd = bpf_object__find_map_fd_by_name(s->skel->obj, name);

	return fd < 0 ? -ENOENT : fd;
}

struct agg_entries {
	struct mt_stack_key *keys;
	struct mt_stack_val *vals;
	size_t n, cap;
};

static int agg_reserve(struct agg_entries *a)
{
	size_t cap = a->cap ? a->cap * 2 : 1024;
	void *k, *v;

	if (a->n < a->cap)
		return 0;
	k = realloc(a->keys, cap * sizeof(*a->keys));
	if (!k)
		return -ENOMEM;
	a->keys = k;
	v = realloc(a->vals, cap * sizeof(*a->vals));
	if (!v)
		return -ENOMEM;
	a->vals = v;
	a->cap = cap;
	return 0;
}

/* Every key of the aggregate with weight left (a malloc key can be all freed). */
static int read_agg(struct stacks *s, struct agg_entries *a)
{
	int fd = bpf_map__fd(s->skel->maps.agg), err;
	struct mt_stack_key key, next;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		err = agg_reserve(a);
		if (err)
			return err;
		if (bpf_map_lookup_elem(fd, &key, &a->vals[a->n]))
			continue; /* deleted meanwhile */
		if (a->vals[a->n].count == 0 && a->vals[a->n].bytes == 0)
			continue;
		a->keys[a->n++] = key;
	}
	return 0;
}

/*
 * The stacks the aggregate names, into the recording numbered 0..n-1 in
 * first-seen order; ids maps each kernel hash to its number.
 */
static int store_stacks(struct stacks *s, const struct agg_entries *a, struct hashmap *ids)
{
	int stack_fd = bpf_map__fd(s->skel->maps.stacks), err;
	struct mt_stack stack;
	size_t next_id = 0;

	for (size_t i = 0; i < a->n; i++) {
		uint64_t h = a->keys[i].stack;
		uint32_t nr = 0;

		if (MT_STACK_IS_ERR(h) || hashmap__find(ids, h, NULL))
			continue;
		if (bpf_map_lookup_elem(stack_fd, &h, &stack))
			memset(&stack, 0, sizeof(stack)); /* cannot happen: never deleted */
		while (nr < MT_STACK_DEPTH && stack.ips[nr])
			nr++;
		err = hashmap__add(ids, h, next_id);
		if (!err)
			err =
			    recording__add_stack(s->rec, next_id, (const uint64_t *)stack.ips, nr);
		if (err)
			return err;
		next_id++;
	}
	return 0;
}

static int store_sample(struct stacks *s, const struct mt_stack_key *k,
			const struct mt_stack_val *v, const struct hashmap *ids)
{
	struct mt_rec_sample r = {};
	uintptr_t id = 0;

	r.pid = k->tgid; /* translated by the caller */
	if (MT_STACK_IS_ERR(k->stack))
		r.stack_id = (int32_t)(int64_t)k->stack;
	else
		r.stack_id = hashmap__find(ids, k->stack, &id) ? (int32_t)id : -1;
	r.gen = k->gen;
	r.event = k->event;
	r.class = k->class;
	r.count = v->count;
	r.bytes = v->bytes;
	r.leaf_ip = v->leaf_ip;
	r.leaf_sp = v->leaf_sp;
	r.leaf_nr = v->leaf_nr > MT_LEAF_WORDS ? MT_LEAF_WORDS : v->leaf_nr;
	memcpy(r.leaf_words, v->leaf_words, sizeof(r.leaf_words));
	return recording__add_sample(s->rec, &r);
}

/* Weight that found the aggregate full: kept in the totals, under no process (pid 0). */
static int store_overflow(struct stacks *s)
{
	int fd = bpf_map__fd(s->skel->maps.aggover), err;
	struct {
		uint64_t count;
		int64_t bytes;
	} * vals;

	vals = calloc(s->ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t slot = 0; slot < MT_EV_NR * MT_CLASS_NR; slot++) {
		struct mt_rec_sample r = { .stack_id = (int32_t)(int64_t)MT_STACK_AGG_FULL };

		if (bpf_map_lookup_elem(fd, &slot, vals)) {
			err = -errno;
			goto cleanup;
		}
		for (int c = 0; c < s->ncpu; c++) {
			r.count += vals[c].count;
			r.bytes += vals[c].bytes;
		}
		if (!r.count && !r.bytes)
			continue;
		r.event = slot / MT_CLASS_NR;
		r.class = slot % MT_CLASS_NR;
		err = recording__add_sample(s->rec, &r);
		if (err)
			goto cleanup;
	}
	err = 0;
cleanup:
	free(vals);
	return err;
}

/* CLOCK_REALTIME of a bpf_ktime_get_ns() reading (CLOCK_MONOTONIC), 0 for 0. */
static uint64_t mono_to_real(uint64_t mono_ns)
{
	struct timespec mono, real;

	if (!mono_ns || clock_gettime(CLOCK_MONOTONIC, &mono) ||
	    clock_gettime(CLOCK_REALTIME, &real))
		return 0;
	return mono_ns + ((uint64_t)real.tv_sec * 1000000000ULL + real.tv_nsec) -
	       ((uint64_t)mono.tv_sec * 1000000000ULL + mono.tv_nsec);
}

static void peak_from(struct mt_rec_peak *r, const struct mt_mpeak *v, bool fp)
{
	r->bytes = v->peak_bytes > 0 ? v->peak_bytes : 0;
	r->blocks = v->peak_blocks > 0 ? v->peak_blocks : 0;
	r->ts_ns = mono_to_real(v->peak_ns);
	r->end_bytes = v->live_bytes;
	if (v->races)
		r->flags |= MT_PEAK_RACED;
	if (fp)
		r->flags |= MT_PEAK_NO_SITES;
}

/*
 * --malloc: each image's exact peak (and all processes') from the kernel's
 * counters, then the capture log, into the recording.
 */
static int store_peaks(struct stacks *s)
{
	int fd = bpf_map__fd(s->skel->maps.mpeak), err = 0;
	bool fp = s->opts.unwind != MT_UNWIND_DWARF;
	uint64_t key, next, refused = 0;
	struct mt_rec_peak r;
	struct mt_mpeak v;
	void *prev = NULL;
	uint32_t zero = 0;

	while (!err && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue;
		memset(&r, 0, sizeof(r));
		r.pid = rec_pid(s, key >> 32);
		r.gen = (uint32_t)key;
		peak_from(&r, &v, fp);
		if (r.pid) /* a PID our namespace cannot name: only in the overall peak */
			err = mpeak__set_peak(s->mlog, &r);
	}
	if (!err && !bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.mpeakall), &zero, &v) &&
	    v.peak_bytes > 0) {
		memset(&r, 0, sizeof(r));
		r.flags = MT_PEAK_ALL;
		peak_from(&r, &v, fp);
		err = mpeak__set_peak(s->mlog, &r);
	}
	if (!err)
		err = mpeak__store(s->mlog, s->rec, &refused);
	s->ustack_errors += refused;
	return err;
}

int stacks__harvest(struct stacks *s)
{
	struct agg_entries a = {};
	struct hashmap *ids = NULL, *images = NULL;
	int err;

	ring_buffer__consume(s->notes_rb);
	ids = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 1024);
	images = hashmap__new(hashmap_hash_u64, hashmap_equal_u64, NULL, 64);
	err = ids && images ? read_agg(s, &a) : -ENOMEM;
	if (!err)
		err = store_stacks(s, &a, ids);
	for (size_t i = 0; !err && i < a.n; i++) {
		const struct mt_stack_key *k = &a.keys[i];
		uintptr_t image;

		a.keys[i].tgid = rec_pid(s, k->tgid);
		image = (uintptr_t)k->tgid << 32 | k->gen;
		err = store_sample(s, k, &a.vals[i], ids);
		if (err || !k->tgid || hashmap__find(images, image, NULL))
			continue; /* the image's maps are settled */
		err = hashmap__add(images, image, 1);
		/* still alive: read now; then what the kernel reported and /proc did not show */
		if (!err && !recording__has_maps(s->rec, k->tgid, k->gen))
			procmaps__read(s->maps, k->tgid, k->gen, 0);
		if (!err)
			err = procmaps__add_kernel_maps(s->maps, k->tgid, k->gen);
	}
	if (!err)
		err = store_overflow(s);
	if (!err && (s->opts.malloc || s->opts.malloc_preload))
		err = store_peaks(s);
	if (!err && s->ustack_errors)
		mt_warn("%" PRIu64 " stack captures could not be stored", s->ustack_errors);
	hashmap__free(ids);
	hashmap__free(images);
	free(a.keys);
	free(a.vals);
	return err;
}
