// SPDX-License-Identifier: GPL-2.0
/*
 * Loads the real tracer, restricts it to a workload whose answers are known
 * (touch N pages, map M bytes, unmap U, grow brk by B) and compares every
 * counter with the answer and with the kernel's own accounting
 * (/proc/PID/status, smaps_rollup). Needs root. This file is over 800
 * lines: every case loads the same tracer and shares its workload helpers
 * and checks; the slot-table cases (reuse, reap, change counts, pending
 * faults) are the part to move into a file of their own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "workload.h"
#include "kfeatures.h"
#include "log.h"
#include "procfs.h"
#include "smaps.h"
#include "tracefs_ids.h"
#include "tracer_api.h"

#define PAGES 16384UL			/* 64 MiB touched */
#define MAP_BYTES (32UL << 20)		/* mapped, never touched */
#define UNMAP_BYTES (8UL << 20)		/* unmapped out of those */
#define BRK_BYTES ((2UL << 20) + 12288) /* one brk() */

static long page_size;

/*
 * Since v6.2 mm counters are percpu_counters: the cheap read that rss_stat
 * and /proc/PID/status both use lags the exact sum by up to the batch
 * (max(32, 2 * nr_cpus) pages) on each CPU. Two readings (before, after)
 * can each be off by that much.
 */
static uint64_t rss_slack_pages(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_CONF);
	long batch = cpus * 2 > 32 ? cpus * 2 : 32;

	return 2 * (uint64_t)(cpus * batch);
}

static void check_range(const char *what, uint64_t value, uint64_t lo, uint64_t hi)
{
	if (value < lo || value > hi)
		fail_msg("%s = %llu, expected %llu..%llu", what, (unsigned long long)value,
			 (unsigned long long)lo, (unsigned long long)hi);
}

static void check_no_losses(struct tracer *t)
{
	uint64_t losses[MT_CNT_NR];

	assert_int_equal(tracer__losses(t, losses), 0);
	for (int i = 0; i < MT_CNT_NR; i++)
		if (losses[i])
			fail_msg("loss counter %d = %llu, expected 0", i,
				 (unsigned long long)losses[i]);
}

static uint64_t resident_pages(const struct mt_proc_stats *s)
{
	return s->rss_pages[MT_RSS_ANON] + s->rss_pages[MT_RSS_FILE] + s->rss_pages[MT_RSS_SHMEM];
}

#if defined(__x86_64__)
#define MMAP_ENTRY "__x64_sys_mmap"
#else
#define MMAP_ENTRY "__arm64_sys_mmap"
#endif

/* Whether the tracepoint rung can have its event ids (tracefs mounted, or a private mount). */
static bool syscall_tps_offered(void)
{
	static const char *const mmap_only[] = { "mmap" };
	char source[64], why[256];
	uint32_t id;

	return tracefs_ids__sys_exits(mmap_only, 1, NULL, &id, source, sizeof(source), why,
				      sizeof(why)) == 0;
}

static struct tracer *trace_pid(pid_t pid)
{
	int pids[1] = { pid };
	struct tracer_opts opts = { .pids = pids, .nr_pids = 1, .seed_existing = true };
	struct tracer *t = tracer__new(&opts);

	if (!t)
		fail_msg("tracer__new: %s", strerror(errno));
	return t;
}

static void start_memload(struct workload *w)
{
	char pages[32], map[32], unmap[32], brk[32];
	char *argv[] = { "memload", "--wait",  "--hold", "--pages", pages, "--map",
			 map,	    "--unmap", unmap,	 "--brk",   brk,   NULL };

	snprintf(pages, sizeof(pages), "%lu", PAGES);
	snprintf(map, sizeof(map), "%lu", MAP_BYTES);
	snprintf(unmap, sizeof(unmap), "%lu", UNMAP_BYTES);
	snprintf(brk, sizeof(brk), "%lu", BRK_BYTES);
	assert_int_equal(workload_start(w, argv), 0);
}

static void test_tracer__known_workload(void **state)
{
	struct mt_proc_stats before, after;
	struct proc_status status;
	struct smaps_rollup smaps;
	struct smaps_reader *reader;
	struct workload w;
	struct tracer *t;
	uint64_t slack = rss_slack_pages(), counter_rss, drift;

	start_memload(&w);
	t = trace_pid(w.pid);
	/* syscalls on the best rung the kernel offers: fexit where trampolines work, then
	 * the syscall tracepoints where their ids can be had */
	if (features__probe_fexit(MMAP_ENTRY) == 0)
		assert_non_null(strstr(tracer__attach_summary(t), "syscalls: fexit"));
	else if (syscall_tps_offered())
		assert_non_null(strstr(tracer__attach_summary(t), "syscalls: tracepoint"));
	else
		assert_non_null(strstr(tracer__attach_summary(t), "syscalls: tp_btf"));
	print_message("attach: %s\n", tracer__attach_summary(t));
	assert_int_equal(tracer__lookup(t, w.pid, &before), 0);
	assert_int_equal(workload_go(&w), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &after), 0);

	/* one first-touch fault per page; a few more for code, stack and libc pages */
	check_range("faults", after.faults - before.faults, PAGES, PAGES + 64);
	assert_int_equal(after.thp_faults - before.thp_faults, 0);
	assert_int_equal(after.mmap_bytes - before.mmap_bytes, PAGES * page_size + MAP_BYTES);
	assert_int_equal(after.mmap_calls - before.mmap_calls, 2);
	assert_int_equal(after.munmap_bytes - before.munmap_bytes, UNMAP_BYTES);
	assert_int_equal(after.munmap_calls - before.munmap_calls, 1);
	assert_int_equal(after.brk_bytes - before.brk_bytes, (int64_t)BRK_BYTES);
	assert_int_equal(after.brk_calls - before.brk_calls, 1);
	check_range("anon rss growth (pages)",
		    after.rss_pages[MT_RSS_ANON] - before.rss_pages[MT_RSS_ANON], PAGES - slack,
		    PAGES + slack);
	check_range("rss peak (pages)", after.rss_peak_pages, resident_pages(&after),
		    resident_pages(&after) + slack);

	/* the kernel's own figures: /proc/PID/status reads the same counters */
	assert_int_equal(proc_status__read(w.pid, &status), 0);
	counter_rss = resident_pages(&after) * page_size;
	check_range("counter rss vs VmRSS (bytes)", counter_rss,
		    status.vm_rss > slack * page_size ? status.vm_rss - slack * page_size : 0,
		    status.vm_rss + slack * page_size);

	/* and the exact page-table walk: drift at most 1% of RSS */
	reader = smaps_reader__new();
	assert_non_null(reader);
	assert_int_equal(smaps_reader__read(reader, w.pid, &smaps), 0);
	drift = counter_rss > smaps.rss ? counter_rss - smaps.rss : smaps.rss - counter_rss;
	check_range("drift_bytes", drift, 0, smaps.rss / 100);
	smaps_reader__free(reader);

	check_no_losses(t);
	assert_int_equal(workload_finish(&w), 0);
	tracer__free(t);
}

/*
 * The ladder's lower rungs, forced: raw tracepoints everywhere and page
 * faults from a per-CPU software perf event, as on kernels without BTF
 * tracepoints or without exceptions:page_fault_user (non-x86).
 */
static void test_tracer__fallback_paths_same_answers(void **state)
{
	struct mt_proc_stats before, after;
	struct workload w;
	struct tracer *t;
	int pids[1];
	struct tracer_opts opts = { .pids = pids, .nr_pids = 1, .force_fallback = true };
	uint64_t slack = rss_slack_pages();

	start_memload(&w);
	pids[0] = w.pid;
	t = tracer__new(&opts);
	assert_non_null(t);
	assert_non_null(strstr(tracer__attach_summary(t), "perf_event"));
	assert_null(strstr(tracer__attach_summary(t), "tp_btf"));
	assert_int_equal(tracer__lookup(t, w.pid, &before), 0);
	assert_int_equal(workload_go(&w), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &after), 0);
	/* the software event also counts kernel-mode faults on user memory */
	check_range("faults (perf event)", after.faults - before.faults, PAGES, PAGES + 256);
	assert_int_equal(after.mmap_bytes - before.mmap_bytes, PAGES * page_size + MAP_BYTES);
	assert_int_equal(after.munmap_bytes - before.munmap_bytes, UNMAP_BYTES);
	assert_int_equal(after.brk_bytes - before.brk_bytes, (int64_t)BRK_BYTES);
	check_range("anon rss growth via raw_tp (pages)",
		    after.rss_pages[MT_RSS_ANON] - before.rss_pages[MT_RSS_ANON], PAGES - slack,
		    PAGES + slack);
	check_no_losses(t);
	workload_finish(&w);
	tracer__free(t);
}

static void test_tracer__exit_marks_and_reaps(void **state)
{
	struct mt_proc_stats stats;
	struct workload w;
	struct tracer *t;

	start_memload(&w);
	t = trace_pid(w.pid);
	/* alive: never reaped (a reused PID in a namespace names a live process) */
	assert_int_equal(tracer__reap(t, w.pid), -EBUSY);
	assert_int_equal(tracer__lookup(t, w.pid, &stats), 0);
	assert_int_equal(workload_go(&w), 0);
	assert_int_equal(workload_finish(&w), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &stats), 0);
	assert_true(stats.flags & MT_PROC_EXITED);
	assert_true(stats.exit_ns > 0);
	assert_int_equal(tracer__reap(t, w.pid), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &stats), -ENOENT);
	check_no_losses(t);
	tracer__free(t);
}

static void test_tracer__pid_filter_only_that_pid(void **state)
{
	const struct mt_proc_stats *stats;
	const uint32_t *tgids;
	struct workload traced, other;
	size_t count;
	struct tracer *t;

	start_memload(&traced);
	start_memload(&other);
	t = trace_pid(traced.pid);
	assert_int_equal(workload_go(&traced), 0);
	assert_int_equal(workload_go(&other), 0);
	assert_int_equal(tracer__read(t, &tgids, &stats, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(tgids[0], traced.pid);
	check_range("traced faults", stats[0].faults, PAGES, PAGES + 64);
	workload_finish(&traced);
	workload_finish(&other);
	tracer__free(t);
}

/*
 * tracefs is not needed: unmounted in a mount namespace of this test's own
 * (the host's mounts stay), every hook still attaches.
 */
static void test_tracer__works_without_tracefs(void **state)
{
	struct mt_proc_stats stats;
	struct workload w;
	struct tracer *t;

	assert_int_equal(unshare(CLONE_NEWNS), 0);
	assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	umount2("/sys/kernel/tracing", MNT_DETACH);
	umount2("/sys/kernel/debug/tracing", MNT_DETACH);
	if (features__tracefs_mounted())
		skip(); /* mounted elsewhere and busy: cannot test here */
	start_memload(&w);
	t = trace_pid(w.pid);
	assert_int_equal(workload_go(&w), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &stats), 0);
	workload_finish(&w);
	tracer__free(t);
	check_range("faults without tracefs", stats.faults, PAGES, PAGES + 64);
}

/* A new process forked by a traced one is followed when asked. */
static void test_tracer__follows_forks(void **state)
{
	const struct mt_proc_stats *all;
	const uint32_t *tgids;
	int self[1] = { getpid() };
	struct tracer_opts opts = { .pids = self, .nr_pids = 1, .follow_forks = true };
	struct mt_proc_stats stats;
	struct workload w;
	struct tracer *t = tracer__new(&opts);
	size_t count;

	assert_non_null(t);
	start_memload(&w);
	assert_int_equal(workload_go(&w), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &stats), 0);
	check_range("child faults", stats.faults, PAGES, PAGES + 256);
	assert_int_equal(stats.ppid, getpid());
	assert_string_equal(stats.comm, "memload");
	assert_int_equal(tracer__read(t, &tgids, &all, &count), 0);
	assert_int_equal(count, 2);
	workload_finish(&w);
	tracer__free(t);
}

/*
 * brk's exit alone counts a move (no sys_enter program runs): from the
 * break the process's last brk left, taken at first sight, fork and exec.
 * A seeded process (its break unknown) learns it from a refused call, the
 * brk(0) query, which moved nothing; a followed child that execs starts
 * from its new image's break, not its parent's.
 */
static void start_brk_only(struct workload *w)
{
	char brk[32];
	char *argv[] = { "memload", "--wait", "--hold", "--brk", brk, NULL };

	snprintf(brk, sizeof(brk), "%lu", BRK_BYTES);
	assert_int_equal(workload_start(w, argv), 0);
}

static void test_tracer__brk_counted_from_the_last_break(void **state)
{
	int self[1] = { getpid() };
	struct tracer_opts opts = { .pids = self, .nr_pids = 1, .follow_forks = true };
	struct mt_proc_stats before, after;
	struct workload w;
	struct tracer *t;

	/* seeded: its first brk is the query */
	start_brk_only(&w);
	t = trace_pid(w.pid);
	assert_int_equal(tracer__lookup(t, w.pid, &before), 0);
	assert_int_equal(workload_go(&w), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &after), 0);
	assert_int_equal(after.brk_bytes - before.brk_bytes, (int64_t)BRK_BYTES);
	assert_int_equal(after.brk_calls - before.brk_calls, 1);
	check_no_losses(t);
	assert_int_equal(workload_finish(&w), 0);
	tracer__free(t);

	/* followed from fork, through exec */
	t = tracer__new(&opts);
	assert_non_null(t);
	start_brk_only(&w);
	assert_int_equal(workload_go(&w), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &after), 0);
	assert_int_equal(after.brk_bytes, (int64_t)BRK_BYTES);
	assert_int_equal(after.brk_calls, 1);
	/*
	 * no check_no_losses() here: this process is traced too, seeded, and its
	 * own malloc may move its break before a fault teaches memtrace where it
	 * was (the brk_base_unknown loss, rightly counted)
	 */
	assert_int_equal(workload_finish(&w), 0);
	tracer__free(t);
}

/*
 * The end of pid's heap: [heap]'s end in /proc/PID/maps (the break, page
 * aligned), or start_brk (/proc/PID/stat field 47) while it has no heap.
 */
static uint64_t heap_end(pid_t pid)
{
	char path[64], line[512], *p;
	unsigned long long lo, hi;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[heap]") && sscanf(line, "%llx-%llx", &lo, &hi) == 2) {
			fclose(f);
			return hi;
		}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	p = strrchr(line, ')');
	assert_non_null(p);
	/* field 3 follows ") ": 44 more fields to start_brk */
	p += 2;
	for (int field = 3; field < 47 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	assert_non_null(p);
	return strtoull(p, NULL, 10);
}

/*
 * A process that exists before the tracer, seeded from /proc, whose first
 * event is a brk that grows its break: the loader read its break at seeding
 * (brk_iter), so the move is counted exactly, not lost as brk_base_unknown.
 */
static void test_tracer__seeded_first_brk_exact(void **state)
{
	char brk[32];
	char *argv[] = { "memload", "--wait", "--hold", "--brk-early", "--brk", brk, NULL };
	struct mt_proc_stats before, after;
	uint64_t heap_before, heap_after;
	struct workload w;
	struct tracer *t;

	snprintf(brk, sizeof(brk), "%lu", BRK_BYTES);
	assert_int_equal(workload_start(&w, argv), 0);
	heap_before = heap_end(w.pid);
	t = trace_pid(w.pid);
	assert_int_equal(tracer__lookup(t, w.pid, &before), 0);
	assert_int_equal(workload_go(&w), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &after), 0);
	heap_after = heap_end(w.pid);
	if (after.brk_bytes - before.brk_bytes != (int64_t)(heap_after - heap_before) ||
	    heap_after - heap_before != BRK_BYTES)
		fail_msg("brk_bytes %lld, the kernel's heap grew %llu (%#llx -> %#llx), the "
			 "workload's brk %lu",
			 (long long)(after.brk_bytes - before.brk_bytes),
			 (unsigned long long)(heap_after - heap_before),
			 (unsigned long long)heap_before, (unsigned long long)heap_after,
			 BRK_BYTES);
	assert_int_equal(after.brk_calls - before.brk_calls, 1);
	check_no_losses(t);
	assert_int_equal(workload_finish(&w), 0);
	tracer__free(t);
}

/*
 * While fork copies page tables, the child (owner of the new mm) still
 * carries the parent's tgid: those rss_stat events must not overwrite the
 * parent's figures with the half-built child's.
 */
static void test_tracer__fork_keeps_parent_figures(void **state)
{
	int self[1] = { getpid() };
	struct tracer_opts opts = { .pids = self, .nr_pids = 1, .track_tree = true };
	uint64_t slack = rss_slack_pages() * page_size, counted, tree_now, tree_peak;
	struct mt_proc_stats stats;
	struct proc_status status;
	struct tracer *t = tracer__new(&opts);
	char *heap = malloc(32 << 20);
	pid_t child;

	assert_non_null(t);
	assert_non_null(heap);
	memset(heap, 1, 32 << 20); /* anon pages that fork must copy the rss count of */
	child = fork();
	if (child == 0) {
		usleep(300000);
		_exit(0);
	}
	assert_int_equal(tracer__lookup(t, getpid(), &stats), 0);
	assert_int_equal(proc_status__read(getpid(), &status), 0);
	counted = resident_pages(&stats) * page_size;
	check_range("parent rss after fork vs its VmRSS (bytes)", counted,
		    status.vm_rss > slack ? status.vm_rss - slack : 0, status.vm_rss + slack);
	/* the child is not followed: the tree is the parent alone */
	assert_int_equal(tracer__tree_rss(t, &tree_now, &tree_peak), 0);
	check_range("tree rss (bytes)", tree_now, counted > slack ? counted - slack : 0,
		    counted + slack);
	waitpid(child, NULL, 0);
	free(heap);
	tracer__free(t);
}

/*
 * The table has max_procs slots: a process that finds it full is counted
 * and not traced; a reaped slot goes to the next process, which starts
 * from zero rather than from the previous owner's figures.
 */
static void test_tracer__full_table_counted_and_slots_reused(void **state)
{
	int self[1] = { getpid() };
	struct tracer_opts opts = {
		.pids = self, .nr_pids = 1, .follow_forks = true, .max_procs = 2
	};
	const struct mt_proc_stats *all;
	struct mt_proc_stats stats, first;
	struct workload a, b, c;
	uint64_t losses[MT_CNT_NR];
	const uint32_t *tgids;
	struct tracer *t = tracer__new(&opts);
	size_t count;

	assert_non_null(t);
	start_memload(&a); /* the second and last slot */
	assert_int_equal(workload_go(&a), 0);
	assert_int_equal(workload_finish(&a), 0);
	assert_int_equal(tracer__lookup(t, a.pid, &first), 0);
	assert_true(first.flags & MT_PROC_EXITED);
	check_range("first child's faults", first.faults, PAGES, PAGES + 256);

	start_memload(&b); /* the table is full: counted, not traced */
	assert_int_equal(tracer__lookup(t, b.pid, &stats), -ENOENT);
	assert_int_equal(tracer__losses(t, losses), 0);
	if (losses[MT_DROP_PROCS_FULL] != 1)
		fail_msg("procs_map_full = %llu after one fork into a full table, expected 1",
			 (unsigned long long)losses[MT_DROP_PROCS_FULL]);
	assert_int_equal(workload_go(&b), 0);
	assert_int_equal(workload_finish(&b), 0);

	assert_int_equal(tracer__reap(t, a.pid), 0);
	assert_int_equal(tracer__lookup(t, a.pid, &stats), -ENOENT);
	start_memload(&c); /* takes the reaped slot */
	assert_int_equal(workload_go(&c), 0);
	assert_int_equal(tracer__lookup(t, c.pid, &stats), 0);
	check_range("faults in a reused slot", stats.faults, PAGES, PAGES + 256);
	assert_int_equal(stats.flags & MT_PROC_EXITED, 0);
	assert_int_equal(stats.exit_ns, 0);
	assert_int_equal(stats.tgid, c.pid);
	assert_true(stats.start_ns >= first.start_ns);

	assert_int_equal(tracer__read(t, &tgids, &all, &count), 0);
	assert_int_equal(count, 2);
	for (size_t i = 0; i < count; i++) {
		if (tgids[i] != (uint32_t)getpid() && tgids[i] != (uint32_t)c.pid)
			fail_msg("table holds tgid %u, expected only %d and %d", tgids[i], getpid(),
				 c.pid);
		assert_int_equal(all[i].tgid, tgids[i]);
	}
	assert_int_equal(tracer__losses(t, losses), 0);
	assert_int_equal(losses[MT_DROP_PROCS_FULL], 1);
	workload_finish(&c);
	tracer__free(t);
}

static pid_t fork_exit(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

/*
 * Reaped in the kernel, a batch at a time: every exited child's slot is
 * freed and taken again by the next children (a table of 4 slots holds 3
 * rounds of 3 children with no loss), a live process is refused, and an
 * entry whose gen moved since the read stays (its slot may hold a process
 * whose figures were never read). by_loader: MEMTRACE_TEST_REAP=loader, the
 * fallback where the kernel refuses reap_run's test run; else every slot
 * must have been freed by reap_run (all supported kernels run it).
 */
static void reap_batches(bool by_loader)
{
	int self[1] = { getpid() };
	struct tracer_opts opts = {
		.pids = self, .nr_pids = 1, .follow_forks = true, .max_procs = 4
	};
	struct tracer *t = tracer__new(&opts);
	const struct mt_proc_stats *all;
	struct mt_proc_stats stats, stale;
	const uint32_t *tgids;
	pid_t kids[3], kept;
	uint64_t in_kernel, from_loader;
	size_t count, queued;
	int refused;

	assert_non_null(t);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 3; i++)
			kids[i] = fork_exit();
		assert_int_equal(tracer__read(t, &tgids, &all, &count), 0);
		if (count != 4)
			fail_msg("round %d: %zu entries read, expected 4 (self and 3 children)",
				 round, count);
		queued = 0;
		for (size_t i = 0; i < count; i++) {
			if (tgids[i] == (uint32_t)getpid()) {
				assert_int_equal(tracer__reap_queue(t, &all[i]), -EBUSY);
				continue;
			}
			assert_true(all[i].flags & MT_PROC_EXITED);
			assert_int_equal(tracer__reap_queue(t, &all[i]), 0);
			queued++;
		}
		assert_int_equal(queued, 3);
		assert_int_equal(tracer__reap_flush(t), 0);
		for (int i = 0; i < 3; i++)
			assert_int_equal(tracer__lookup(t, kids[i], &stats), -ENOENT);
		assert_int_equal(tracer__lookup(t, getpid(), &stats), 0);
	}
	check_no_losses(t);

	kept = fork_exit();
	assert_int_equal(tracer__lookup(t, kept, &stale), 0);
	stale.tgid = kept;
	stale.gen += 2; /* as if fork had taken the slot over since the read */
	assert_int_equal(tracer__reap_queue(t, &stale), 0);
	assert_int_equal(tracer__reap_flush(t), 0);
	if (tracer__lookup(t, kept, &stats) != 0)
		fail_msg("pid %d reaped although its slot's gen moved since the read", kept);
	stale.gen -= 2;
	assert_int_equal(tracer__reap_queue(t, &stale), 0);
	assert_int_equal(tracer__reap_flush(t), 0);
	assert_int_equal(tracer__lookup(t, kept, &stats), -ENOENT);
	check_no_losses(t);
	refused = tracer__reap_counts(t, &in_kernel, &from_loader);
	if (by_loader && (in_kernel || from_loader != 10 || refused != -EPERM))
		fail_msg("MEMTRACE_TEST_REAP=loader: %llu reaped in the kernel, %llu by the "
			 "loader (expected 0 and 10), refusal %d",
			 (unsigned long long)in_kernel, (unsigned long long)from_loader, refused);
	if (!by_loader && (in_kernel != 10 || from_loader || refused))
		fail_msg("reap_run: %llu reaped in the kernel, %llu by the loader (expected 10 "
			 "and 0): %s",
			 (unsigned long long)in_kernel, (unsigned long long)from_loader,
			 refused ? strerror(-refused) : "not refused");
	tracer__free(t);
}

static void test_tracer__reap_batch_in_kernel(void **state)
{
	reap_batches(false);
}

static void test_tracer__reap_batch_by_loader(void **state)
{
	setenv("MEMTRACE_TEST_REAP", "loader", 1);
	reap_batches(true);
	unsetenv("MEMTRACE_TEST_REAP");
}

/* The slot of tgid after a sync, or fail. */
static uint32_t slot_of_pid(struct tracer *t, pid_t pid)
{
	const uint32_t *pending;
	uint32_t nr_slots, changes;
	size_t nr_pending;

	assert_int_equal(tracer__sync(t, &nr_slots, &pending, &nr_pending), 0);
	for (uint32_t s = 0; s < nr_slots; s++)
		if (tracer__slot_peek(t, s, &changes) == (uint32_t)pid)
			return s;
	fail_msg("no slot below %u holds tgid %d", nr_slots, pid);
	return 0;
}

/*
 * The poll reads a slot only when its change count moved (or it has pending
 * faults): the count must move with every figure that changes and stay put
 * while the process is idle, and the slot read in place must give what
 * tracer__lookup() gives.
 */
static void test_tracer__slot_changes_say_what_moved(void **state)
{
	struct mt_proc_stats before, after, looked;
	uint32_t slot, c0, c1, c2, again;
	const uint32_t *pending;
	uint32_t nr_slots;
	size_t nr_pending;
	struct workload w;
	struct tracer *t;

	start_memload(&w);
	t = trace_pid(w.pid);
	slot = slot_of_pid(t, w.pid);
	assert_int_equal(tracer__slot_peek(t, slot, &c0), (uint32_t)w.pid);
	assert_int_equal(tracer__slot_read(t, slot, &before), 0);
	assert_int_equal(before.tgid, w.pid);
	assert_int_equal(tracer__slot_peek(t, slot, &again), (uint32_t)w.pid);
	if (again != c0)
		fail_msg("changes moved from %u to %u while the process waited", c0, again);

	assert_int_equal(workload_go(&w), 0);
	assert_int_equal(tracer__sync(t, &nr_slots, &pending, &nr_pending), 0);
	assert_true(slot < nr_slots);
	assert_int_equal(tracer__slot_peek(t, slot, &c1), (uint32_t)w.pid);
	if (c1 == c0)
		fail_msg("changes stayed at %u across %lu faults, 2 mmaps, a munmap and a brk", c0,
			 PAGES);
	assert_int_equal(tracer__slot_read(t, slot, &after), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &looked), 0);
	/* the same figures in place as through the hash, pending faults included */
	assert_int_equal(after.faults, looked.faults);
	assert_int_equal(after.rss_pages[MT_RSS_ANON], looked.rss_pages[MT_RSS_ANON]);
	check_range("faults read in place", after.faults - before.faults, PAGES, PAGES + 64);
	assert_int_equal(after.mmap_bytes - before.mmap_bytes, PAGES * page_size + MAP_BYTES);
	assert_int_equal(after.munmap_bytes - before.munmap_bytes, UNMAP_BYTES);
	/* faults still pending on a CPU are listed: the poll copies that slot again */
	for (size_t i = 0; i < nr_pending; i++)
		assert_true(pending[i] < nr_slots);

	/* held: nothing moves */
	assert_int_equal(tracer__slot_peek(t, slot, &c2), (uint32_t)w.pid);
	assert_int_equal(tracer__slot_peek(t, slot, &again), (uint32_t)w.pid);
	if (again != c2)
		fail_msg("changes moved from %u to %u while the process held its memory", c2,
			 again);

	assert_int_equal(workload_finish(&w), 0);
	assert_int_equal(tracer__slot_peek(t, slot, &again), (uint32_t)w.pid);
	if (again == c2)
		fail_msg("changes stayed at %u across the exit", c2);
	assert_int_equal(tracer__slot_read(t, slot, &after), 0);
	assert_true(after.flags & MT_PROC_EXITED);
	assert_int_equal(tracer__reap(t, w.pid), 0);
	assert_int_equal(tracer__slot_peek(t, slot, &again), 0);
	assert_int_equal(tracer__slot_read(t, slot, &after), -ENOENT);
	check_no_losses(t);
	tracer__free(t);
}

#define CHURN_PAGES 256
#define CHURN_ROUNDS 400

/* The churn children still running and the CPUs we ran on, restored by the teardown. */
static pid_t churners[2];
static cpu_set_t reader_cpus;

static int kill_churners(void **state)
{
	sched_setaffinity(0, sizeof(reader_cpus), &reader_cpus);
	for (int i = 0; i < 2; i++)
		if (churners[i] > 0) {
			kill(churners[i], SIGKILL);
			waitpid(churners[i], NULL, 0);
			churners[i] = 0;
		}
	return 0;
}

/* A child pinned to cpu that maps, touches and unmaps CHURN_PAGES pages per round. */
static pid_t start_churn(int cpu, int rounds)
{
	pid_t pid = fork();
	cpu_set_t set;

	assert_true(pid >= 0);
	if (pid)
		return pid;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		_exit(1);
	for (int r = 0; r < rounds || rounds < 0; r++) {
		char *p = mmap(NULL, CHURN_PAGES * page_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			_exit(1);
		for (unsigned long i = 0; i < CHURN_PAGES; i++)
			p[i * page_size] = 1;
		munmap(p, CHURN_PAGES * page_size);
	}
	_exit(0);
}

/*
 * Two processes faulting on one CPU hand each other's pending faults over
 * to the table at every switch, while this one reads on another CPU: a
 * process's faults only grow, so no reading may be lower than one before it
 * (a flush between the copy of an entry and the read of the CPUs' pending
 * counts loses them from that reading; one before the copy counts them
 * twice, and the next reading is lower), through the hash and in place.
 */
static void test_tracer__pending_faults_read_once(void **state)
{
	int self[1] = { getpid() };
	struct tracer_opts opts = { .pids = self, .nr_pids = 1, .follow_forks = true };
	uint64_t last = 0, expected = (uint64_t)CHURN_PAGES * CHURN_ROUNDS;
	unsigned long readings = 0;
	int cpus[2], nr = 0, status;
	cpu_set_t one;
	struct mt_proc_stats stats;
	struct rusage usage;
	struct tracer *t;
	pid_t churn;
	uint32_t slot = 0;

	assert_int_equal(sched_getaffinity(0, sizeof(reader_cpus), &reader_cpus), 0);
	for (int c = 0; c < CPU_SETSIZE && nr < 2; c++)
		if (CPU_ISSET(c, &reader_cpus))
			cpus[nr++] = c;
	if (nr < 2)
		skip(); /* the reader needs a CPU of its own */
	/* before the tracer: not traced, it only flushes the other's pending faults */
	churners[0] = start_churn(cpus[0], -1);
	t = tracer__new(&opts);
	assert_non_null(t);
	CPU_ZERO(&one);
	CPU_SET(cpus[1], &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	churn = churners[1] = start_churn(cpus[0], CHURN_ROUNDS);
	for (bool done = false; !done;) {
		const uint32_t *pending;
		uint32_t nr_slots, changes;
		size_t nr_pending;
		uint64_t now[2];

		done = wait4(churn, &status, WNOHANG, &usage) == churn;
		if (done)
			churners[1] = 0;
		assert_int_equal(tracer__lookup(t, churn, &stats), 0);
		now[0] = stats.faults;
		assert_int_equal(tracer__sync(t, &nr_slots, &pending, &nr_pending), 0);
		if (tracer__slot_peek(t, slot, &changes) != (uint32_t)churn)
			slot = slot_of_pid(t, churn);
		assert_int_equal(tracer__slot_read(t, slot, &stats), 0);
		now[1] = stats.faults;
		for (int k = 0; k < 2; k++) {
			if (now[k] < last)
				fail_msg(
				    "faults read %s went down from %llu to %llu after %lu readings",
				    k ? "in place" : "through the hash", (unsigned long long)last,
				    (unsigned long long)now[k], readings);
			last = now[k];
		}
		readings++;
	}
	kill_churners(state);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(tracer__lookup(t, churn, &stats), 0);
	if (stats.faults < expected || stats.faults > expected + 256)
		fail_msg("churn faults = %llu, expected %llu..%llu (pages touched; the kernel "
			 "counted %ld minor faults)",
			 (unsigned long long)stats.faults, (unsigned long long)expected,
			 (unsigned long long)expected + 256, usage.ru_minflt);
	if (stats.faults + 64 < (uint64_t)usage.ru_minflt ||
	    stats.faults > (uint64_t)usage.ru_minflt + 64)
		fail_msg("churn faults = %llu, the kernel counted %ld minor faults",
			 (unsigned long long)stats.faults, usage.ru_minflt);
	print_message("%lu readings, churn faults %llu (touched %llu, kernel's minor faults %ld)\n",
		      readings, (unsigned long long)stats.faults, (unsigned long long)expected,
		      usage.ru_minflt);
	check_no_losses(t);
	tracer__free(t);
}

/* THP faults are those that brought a whole huge page: the kernel's AnonHugePages. */
static void test_tracer__thp_faults_match_anon_huge(void **state)
{
	char *argv[] = { "memload", "--wait", "--hold", "--thp-mib", "32", NULL };
	struct smaps_reader *reader = smaps_reader__new();
	struct mt_proc_stats stats;
	struct smaps_rollup smaps;
	struct workload w;
	struct tracer *t;

	assert_non_null(reader);
	assert_int_equal(workload_start(&w, argv), 0);
	t = trace_pid(w.pid);
	assert_int_equal(workload_go(&w), 0);
	assert_int_equal(tracer__lookup(t, w.pid, &stats), 0);
	assert_int_equal(smaps_reader__read(reader, w.pid, &smaps), 0);
	/* both 0 where THP is off; else one fault per huge page granted */
	assert_int_equal(stats.thp_faults * (2UL << 20), smaps.anon_huge);
	workload_finish(&w);
	smaps_reader__free(reader);
	tracer__free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tracer__known_workload),
		cmocka_unit_test(test_tracer__fallback_paths_same_answers),
		cmocka_unit_test(test_tracer__exit_marks_and_reaps),
		cmocka_unit_test(test_tracer__pid_filter_only_that_pid),
		cmocka_unit_test(test_tracer__works_without_tracefs),
		cmocka_unit_test(test_tracer__follows_forks),
		cmocka_unit_test(test_tracer__brk_counted_from_the_last_break),
		cmocka_unit_test(test_tracer__seeded_first_brk_exact),
		cmocka_unit_test(test_tracer__thp_faults_match_anon_huge),
		cmocka_unit_test(test_tracer__fork_keeps_parent_figures),
		cmocka_unit_test(test_tracer__full_table_counted_and_slots_reused),
		cmocka_unit_test(test_tracer__reap_batch_in_kernel),
		cmocka_unit_test(test_tracer__reap_batch_by_loader),
		cmocka_unit_test(test_tracer__slot_changes_say_what_moved),
		cmocka_unit_test_teardown(test_tracer__pending_faults_read_once, kill_churners),
	};

	page_size = sysconf(_SC_PAGESIZE);
	mt_setup_libbpf_log();
	return cmocka_run_group_tests_name("tracer (BPF)", tests, NULL, NULL);
}
