// SPDX-License-Identifier: GPL-2.0
/*
 * bpf/stacks.bpf.c against tests/workloads/growth, whose growth is known:
 * 80 MiB of 4 KiB anon faults (64 + 16), mmaps of 64, 16 and 32 MiB. The
 * skeleton is loaded through the real loader (src/stacks.c), restricted to
 * the workload's pid; every counter is compared
 * with both values in the message, nothing may be dropped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "child.h"
#include "recording.h"
#include "stacks.h"
#include "stacks_api.h"

#define MIB (1024ULL * 1024)
/* the registers of a capture: x86-64's 17 DWARF ones, arm64's x0..x30, sp, pc */
#ifdef __aarch64__
#define NATIVE_NREGS 33
#else
#define NATIVE_NREGS 17
#endif

struct totals {
	int64_t fault_bytes[MT_CLASS_NR];
	uint64_t fault_count;
	int has_mmap_32;
	int has_mmap_64;
	uint64_t keys;
	uint64_t keys_with_words;
	/* where a key had no leaf words: one unreadable stack top can give a key per class */
	uint64_t nowords_ip[16], nowords_sp[16];
	uint64_t nowords_places;
	uint64_t lost_stacks;
};

/* The loader under test, with its recording. */
struct fixture {
	struct stacks *s;
	struct recording *rec;
};

static void sum_samples(const struct recording *rec, uint32_t pid, struct totals *t)
{
	size_t n;
	const struct mt_rec_sample *smp = recording__samples(rec, &n);

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < n; i++) {
		if (smp[i].pid != pid)
			continue;
		t->keys++;
		t->keys_with_words += smp[i].leaf_nr > 0; /* partial near the stack top */
		if (!smp[i].leaf_nr && smp[i].stack_id >= 0) {
			uint64_t k = 0;

			while (k < t->nowords_places && k < 16 &&
			       (t->nowords_ip[k] != smp[i].leaf_ip ||
				t->nowords_sp[k] != smp[i].leaf_sp))
				k++;
			if (k == t->nowords_places) {
				if (k < 16) {
					t->nowords_ip[k] = smp[i].leaf_ip;
					t->nowords_sp[k] = smp[i].leaf_sp;
				}
				t->nowords_places++;
			}
		}
		t->lost_stacks += smp[i].stack_id < 0;
		if (smp[i].event == MT_EV_FAULT) {
			t->fault_bytes[smp[i].class] += smp[i].bytes;
			t->fault_count += smp[i].count;
		} else if (smp[i].event == MT_EV_MMAP) {
			t->has_mmap_32 |= smp[i].bytes == (int64_t)(32 * MIB);
			t->has_mmap_64 |= smp[i].bytes == (int64_t)(64 * MIB);
		}
	}
}

static uint64_t counter(struct fixture *f, uint32_t which)
{
	uint64_t c[MT_SC_NR];

	assert_int_equal(stacks__counters(f->s, c), 0);
	return c[which];
}

static void load(struct fixture *f, const struct stacks_opts *opts)
{
	f->rec = recording__new();
	assert_non_null(f->rec);
	f->s = stacks__new(opts, f->rec);
	if (!f->s)
		fail_msg("stacks__new: %s", strerror(errno));
}

static void unload(struct fixture *f)
{
	stacks__free(f->s);
	recording__free(f->rec);
}

static void to_dev_null(void *arg)
{
	dup2(*(int *)arg, STDOUT_FILENO);
}

/* Runs argv held until traced by f (stdout to /dev/null); returns its pid once it exited. */
static pid_t run_traced(struct fixture *f, char *const argv[])
{
	int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC), status;
	struct mt_child_opts co = { .before_exec = to_dev_null, .arg = &null_fd };
	struct mt_child child = MT_CHILD_INIT;

	assert_true(null_fd >= 0);
	assert_int_equal(mt_child__spawn(&child, argv, &co), 0);
	close(null_fd);
	assert_int_equal(stacks__track(f->s, child.pid), 0);
	if (mt_child__release(&child))
		fail_msg("cannot run %s: is it built?", argv[0]);
	while (waitpid(child.pid, &status, WNOHANG) == 0)
		assert_int_equal(stacks__poll(f->s, 50 /* ms */), 0);
	mt_child__close(&child);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s failed (status 0x%x)", argv[0], status);
	assert_int_equal(stacks__harvest(f->s), 0);
	return child.pid;
}

static pid_t run_growth(struct fixture *f)
{
	const char *dir = getenv("WORKLOADS");
	char path[512];
	char *argv[] = { path, NULL };

	snprintf(path, sizeof(path), "%s/growth", dir ? dir : "build/tests/workloads");
	return run_traced(f, argv);
}

/* growth touched 64 + 16 MiB, plus the loader's and libc's own pages */
static void check_growth_anon(const char *what, const struct totals *t)
{
	if (t->fault_bytes[MT_CLASS_ANON] < (int64_t)(80 * MIB) ||
	    t->fault_bytes[MT_CLASS_ANON] > (int64_t)(82 * MIB))
		fail_msg("%s: anon fault bytes %lld, expected 80 MiB (%llu) + at most 2 MiB", what,
			 (long long)t->fault_bytes[MT_CLASS_ANON], 80 * MIB);
}

static void every_fault(bool force_raw)
{
	struct stacks_opts opts = { .sample_every = 1, .force_raw = force_raw };
	struct fixture f;
	uint64_t drops = 0;
	struct totals t;
	pid_t pid;

	load(&f, &opts);
	pid = run_growth(&f);
	sum_samples(f.rec, pid, &t);
	check_growth_anon("every fault", &t);
	if (t.fault_count < 20480)
		fail_msg("fault events %llu, expected at least 20480",
			 (unsigned long long)t.fault_count);
	if (!t.has_mmap_32 || !t.has_mmap_64)
		fail_msg("mmap keys of 32 MiB (%d) and 64 MiB (%d) expected", t.has_mmap_32,
			 t.has_mmap_64);
	/*
	 * Nothing is readable at sp only while sp's page is not yet mapped: the
	 * first touches of each new stack page. A frame that jumps over a page
	 * boundary (ld.so has frames of 4,104 bytes) faults once above sp and
	 * once on sp's own page, both with sp on that page; so a page holds one
	 * or two places without leaf words, never more (how many pages depends
	 * on where ASLR put the stack top, not on a fixed number of places).
	 */
	if (!force_raw) {
		uint64_t crowded = 0;

		if (t.nowords_places > 16)
			fail_msg("%llu of %llu keys have their leaf words; %llu places without "
				 "them, expected one or two per stack page and at most 16",
				 (unsigned long long)t.keys_with_words, (unsigned long long)t.keys,
				 (unsigned long long)t.nowords_places);
		for (uint64_t i = 0; i < t.nowords_places; i++) {
			uint64_t on_page = 0;

			for (uint64_t j = 0; j < t.nowords_places; j++)
				on_page += t.nowords_sp[j] >> 12 == t.nowords_sp[i] >> 12;
			crowded += on_page > 2;
		}
		if (crowded) {
			for (uint64_t i = 0; i < t.nowords_places; i++)
				print_message("place without leaf words: ip %#llx sp %#llx\n",
					      (unsigned long long)t.nowords_ip[i],
					      (unsigned long long)t.nowords_sp[i]);
			fail_msg(
			    "%llu of %llu keys have their leaf words; %llu of the %llu places "
			    "without them share a stack page with two others, expected at most "
			    "two places a page",
			    (unsigned long long)t.keys_with_words, (unsigned long long)t.keys,
			    (unsigned long long)crowded, (unsigned long long)t.nowords_places);
		}
	}
	/* growth touches its memory itself: kernel-mode faults are exec's and the loader's */
	if (counter(&f, MT_SC_KFAULTS) > t.fault_count / 16)
		fail_msg("%llu of %llu faults taken as kernel-mode ones, expected at most 1/16",
			 (unsigned long long)counter(&f, MT_SC_KFAULTS),
			 (unsigned long long)t.fault_count);
	for (uint32_t c = MT_SC_STACK_COLLISION; c <= MT_SC_TRACKED_FULL; c++)
		if (c != MT_SC_STACK_ERR)
			drops += counter(&f, c);
	/* stacks are keyed by a 64-bit hash: no collisions, nothing full */
	if (drops)
		fail_msg("drops %llu: expected 0", (unsigned long long)drops);
	/*
	 * The first fault after exec can come before the user stack is
	 * walkable (-EFAULT): its weight is kept under a key without a stack,
	 * counted in MT_SC_STACK_ERR; a couple at most.
	 */
	if (counter(&f, MT_SC_STACK_ERR) > 2 || t.lost_stacks > 4)
		fail_msg("keys without a stack %llu, stack errors %llu: expected at most 4 and 2",
			 (unsigned long long)t.lost_stacks,
			 (unsigned long long)counter(&f, MT_SC_STACK_ERR));
	/* the exit program untracked the process, and its layout was recorded */
	assert_false(stacks__tracked(f.s, pid));
	if (!recording__has_maps(f.rec, pid, 1))
		fail_msg("no maps recorded for growth (pid %d, generation 1)", pid);
	unload(&f);
}

static void test_record__every_fault(void **state)
{
	every_fault(false);
}

/*
 * The second rung of the ladder (raw_tp) gives the same totals; the leaf
 * words are the same code and checked on the first rung.
 */
static void test_record__raw_tp_rung(void **state)
{
	every_fault(true);
}

static void test_record__sampled_weights_scale(void **state)
{
	struct stacks_opts opts = { .sample_every = 64 };
	struct fixture f;
	uint64_t events, sampled;
	struct totals t;
	pid_t pid;

	load(&f, &opts);
	pid = run_growth(&f);
	events = counter(&f, MT_SC_EVENTS);
	sampled = counter(&f, MT_SC_SAMPLED);
	sum_samples(f.rec, pid, &t);
	/* per-CPU phase: each CPU's first event is taken, so allow a few pages of slack */
	if (t.fault_bytes[MT_CLASS_ANON] < (int64_t)(76 * MIB) ||
	    t.fault_bytes[MT_CLASS_ANON] > (int64_t)(86 * MIB))
		fail_msg("sampled anon fault bytes %lld, expected about 80 MiB (%llu)",
			 (long long)t.fault_bytes[MT_CLASS_ANON], 80 * MIB);
	if (sampled * 32 > events)
		fail_msg("%llu stacks taken for %llu events at --sample 64",
			 (unsigned long long)sampled, (unsigned long long)events);
	unload(&f);
}

/*
 * -- CMD follows children: a shell that runs growth is one traced tgid,
 * growth (a fork of it) another, whose exec bumps its generation; the
 * notes say fork, exec, new executable mappings and exit.
 */
static void test_record__follows_fork_and_exec(void **state)
{
	struct stacks_opts opts = { .follow_forks = true };
	const char *dir = getenv("WORKLOADS");
	char cmd[600];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	const struct mt_rec_sample *smp;
	int64_t child_gen1 = 0;
	struct fixture f;
	size_t n;
	pid_t sh;

	snprintf(cmd, sizeof(cmd), "%s/growth >/dev/null; exit 0",
		 dir ? dir : "build/tests/workloads");
	load(&f, &opts);
	sh = run_traced(&f, argv);

	/* growth's 80 MiB of faults land on a tgid other than the shell's, at generation 1 */
	smp = recording__samples(f.rec, &n);
	for (size_t i = 0; i < n; i++)
		if (smp[i].pid != (uint32_t)sh && smp[i].gen == 1 && smp[i].event == MT_EV_FAULT)
			child_gen1 += smp[i].bytes;
	if (child_gen1 < (int64_t)(80 * MIB))
		fail_msg("child fault bytes at generation 1: %lld, expected at least 80 MiB",
			 (long long)child_gen1);
	if (stacks__notes(f.s, MT_NOTE_FORK) < 1 || stacks__notes(f.s, MT_NOTE_EXEC) < 2 ||
	    stacks__notes(f.s, MT_NOTE_MAPS) < 1 || stacks__notes(f.s, MT_NOTE_EXIT) < 2)
		fail_msg("notes fork %llu, exec %llu, maps %llu, exit %llu: expected >= 1, 2, 1, 2",
			 (unsigned long long)stacks__notes(f.s, MT_NOTE_FORK),
			 (unsigned long long)stacks__notes(f.s, MT_NOTE_EXEC),
			 (unsigned long long)stacks__notes(f.s, MT_NOTE_MAPS),
			 (unsigned long long)stacks__notes(f.s, MT_NOTE_EXIT));
	unload(&f);
}

static pid_t run_workload(struct fixture *f, const char *name, char *arg)
{
	const char *dir = getenv("WORKLOADS");
	char path[512];
	char *argv[] = { path, arg, NULL };

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "build/tests/workloads", name);
	return run_traced(f, argv);
}

/* Bytes and events of pid's captures of one event kind; flags_all: every capture had flag. */
static void sum_captures(const struct recording *rec, uint32_t pid, uint32_t event, int64_t *bytes,
			 uint64_t *n, uint64_t *with_stack)
{
	size_t nu;
	const struct mt_rec_ustack *u = recording__ustacks(rec, &nu);

	*bytes = 0;
	*n = *with_stack = 0;
	for (size_t i = 0; i < nu; i++) {
		if (u[i].pid != pid || u[i].event != event)
			continue;
		*bytes += u[i].bytes;
		(*n)++;
		*with_stack += u[i].stack_len > 0 && u[i].nregs == NATIVE_NREGS;
	}
}

/*
 * Fault captures of pid whose weight is not the period times a power of
 * two (up to 2^14), or whose events are not that weight in pages: each
 * capture weighs the period it was taken at. *moved: captures above period.
 */
static uint64_t off_period(const struct recording *rec, uint32_t pid, uint64_t period,
			   uint64_t *moved)
{
	size_t nu;
	const struct mt_rec_ustack *u = recording__ustacks(rec, &nu);
	uint64_t bad = 0;

	*moved = 0;
	for (size_t i = 0; i < nu; i++) {
		uint64_t w = (uint64_t)u[i].bytes;
		bool ok = false;

		if (u[i].pid != pid || u[i].event != MT_EV_FAULT)
			continue;
		for (int k = 0; k <= 14 && !ok; k++)
			ok = w == period << k && u[i].count == w / 4096;
		ok = ok || w == 2 * MIB; /* a THP-eligible fault, at or above the period */
		bad += !ok;
		*moved += ok && w > period && w != 2 * MIB;
	}
	return bad;
}

/*
 * --unwind dwarf: exact totals stay in the aggregate under the -ENODATA
 * key, and the captures (registers and stack) stand for the sampled bytes:
 * growth's 80 MiB of faults at a 64 KiB mean is about 1280 captures, each
 * weighing 64 KiB (16 pages), their sum an unbiased estimate of the 80 MiB.
 */
static void test_record__dwarf_captures(void **state)
{
	struct stacks_opts opts = { .unwind = MT_UNWIND_DWARF };
	uint64_t n, with_stack, lost, moved;
	int64_t cap_bytes, exact;
	struct fixture f;
	struct totals t;
	pid_t pid;

	load(&f, &opts);
	pid = run_growth(&f);
	sum_samples(f.rec, pid, &t);
	check_growth_anon("dwarf", &t);
	/* one key per (pid, gen, event, class): the stacks are in the captures */
	{
		size_t ns;
		const struct mt_rec_sample *smp = recording__samples(f.rec, &ns);

		for (size_t i = 0; i < ns; i++)
			if (smp[i].pid == (uint32_t)pid && smp[i].gen == 1 &&
			    smp[i].stack_id != (int32_t)(int64_t)MT_STACK_NODATA)
				fail_msg("dwarf: key with stack %d, expected -ENODATA (%d)",
					 smp[i].stack_id, (int32_t)(int64_t)MT_STACK_NODATA);
	}
	sum_captures(f.rec, pid, MT_EV_FAULT, &cap_bytes, &n, &with_stack);
	lost = counter(&f, MT_SC_USTACK_LOST);
	if (n < 640 || n > 2560)
		fail_msg("dwarf: %llu fault captures, expected about 1280 (80 MiB / 64 KiB)",
			 (unsigned long long)n);
	if (with_stack + 2 < n)
		fail_msg("dwarf: %llu of %llu captures have registers and stack bytes",
			 (unsigned long long)with_stack, (unsigned long long)n);
	/* each capture weighs the period: ~1280 of them, 2.8% sampling error; 5 of it allowed */
	if (off_period(f.rec, pid, 64 * 1024, &moved) || moved)
		fail_msg("dwarf: %llu fault captures do not weigh the 64 KiB period, %llu above it",
			 (unsigned long long)off_period(f.rec, pid, 64 * 1024, &moved),
			 (unsigned long long)moved);
	exact = t.fault_bytes[MT_CLASS_ANON] + t.fault_bytes[MT_CLASS_FILE];
	if (cap_bytes > exact * 114 / 100 || cap_bytes < exact * 86 / 100)
		fail_msg("dwarf: captures stand for %lld bytes, aggregate %lld (+-14%%)",
			 (long long)cap_bytes, (long long)exact);
	if (lost)
		fail_msg("dwarf: %llu captures lost (ring full), expected 0",
			 (unsigned long long)lost);
	sum_captures(f.rec, pid, MT_EV_MMAP, &cap_bytes, &n, &with_stack);
	if (n < 3 || cap_bytes < (int64_t)(112 * MIB))
		fail_msg(
		    "dwarf: %llu mmap captures for %lld bytes, expected every mmap (>= 112 MiB)",
		    (unsigned long long)n, (long long)cap_bytes);
	unload(&f);
}

/*
 * A capture rate: growth's 20,480 faults from a 4 KiB period (every fault)
 * at 500 captures a second per CPU: the period doubles past the rate, each
 * capture weighs the period it was taken at (a power of two times 4 KiB),
 * the totals stay exact, and far fewer than 20,480 faults are captured.
 */
static void test_record__capture_rate_moves_period(void **state)
{
	struct stacks_opts opts = { .unwind = MT_UNWIND_DWARF,
				    .fault_period = 4096,
				    .capture_rate = 500 };
	uint64_t n, with_stack, moved, bad;
	int64_t cap_bytes;
	struct fixture f;
	struct totals t;
	pid_t pid;

	load(&f, &opts);
	pid = run_growth(&f);
	sum_samples(f.rec, pid, &t);
	check_growth_anon("capture rate", &t);
	sum_captures(f.rec, pid, MT_EV_FAULT, &cap_bytes, &n, &with_stack);
	bad = off_period(f.rec, pid, 4096, &moved);
	if (bad || !moved)
		fail_msg("capture rate: %llu fault captures off the period's powers of two, %llu "
			 "above 4 KiB (expected none off, some above)",
			 (unsigned long long)bad, (unsigned long long)moved);
	if (n >= 20480 / 4 || n == 0)
		fail_msg("capture rate: %llu fault captures of 20,480 faults, expected far fewer "
			 "(500 a second per CPU)",
			 (unsigned long long)n);
	unload(&f);
}

/*
 * read() of an 8 MiB file into a fresh buffer: the kernel takes those
 * faults (or, on 6.x, a nofault copy and a fault-in). They count as the
 * process's growth, with captures flagged as kernel-mode faults.
 */
static void kernel_faults(bool force_perf)
{
	struct stacks_opts opts = { .unwind = MT_UNWIND_DWARF, .force_perf = force_perf };
	uint64_t kfaults, nk = 0;
	struct fixture f;
	struct totals t;
	int64_t fault_bytes;
	size_t nu;
	pid_t pid;

	load(&f, &opts);
	pid = run_workload(&f, "unwind_nofp", "read");
	sum_samples(f.rec, pid, &t);
	kfaults = counter(&f, MT_SC_KFAULTS);
	fault_bytes = t.fault_bytes[MT_CLASS_ANON] + t.fault_bytes[MT_CLASS_FILE];
	/* plus what exec and the loader make the kernel write (arguments, .bss): a few dozen */
	if (kfaults < 2048 || kfaults > 2048 + 128)
		fail_msg("%s: %llu kernel-mode faults on user memory, expected 2048 (8 MiB buffer "
			 "/ 4 KiB) + at most 128",
			 force_perf ? "perf rung" : "tp_btf", (unsigned long long)kfaults);
	if (fault_bytes < (int64_t)(8 * MIB))
		fail_msg("%s: fault bytes %lld, expected at least the 8 MiB buffer (%llu)",
			 force_perf ? "perf rung" : "tp_btf", (long long)fault_bytes, 8 * MIB);
	{
		const struct mt_rec_ustack *u = recording__ustacks(f.rec, &nu);

		for (size_t i = 0; i < nu; i++)
			nk += u[i].pid == (uint32_t)pid && (u[i].flags & MT_USTACK_KERNEL_FAULT);
	}
	if (nk < 32)
		fail_msg("%s: %llu captures of kernel-mode faults, expected about 128",
			 force_perf ? "perf rung" : "tp_btf", (unsigned long long)nk);
	unload(&f);
}

static void test_record__kernel_faults_counted(void **state)
{
	kernel_faults(false);
}

/* The perf-event rung (every arch without the exceptions tracepoints) sees them too. */
static void test_record__perf_rung(void **state)
{
	kernel_faults(true);
}

/*
 * mmap and brk are counted at their exit alone (bpf/syscalls.bpf.h), from
 * the user's registers and from the break the process's last brk left. A
 * child tracked by PID (its break not known to the kernel side) maps 2 MiB,
 * asks for its break (brk(0), refused: it moves nothing and teaches the
 * break) and grows it by 1 MiB: the recording holds exactly those.
 */
static void syscalls_counted(const char *rung)
{
	struct stacks_opts opts = { .sample_every = 1 };
	int64_t mmap_bytes = 0, brk_bytes = 0, unstacked = 0;
	uint64_t counters[MT_SC_NR];
	int go[2], status;
	struct fixture f;
	size_t n;
	pid_t pid;
	char c;

	setenv("MEMTRACE_TEST_SYSCALLS", rung, 1);
	load(&f, &opts);
	unsetenv("MEMTRACE_TEST_SYSCALLS");
	print_message("attach: %s\n", stacks__attach_summary(f.s));
	/* the tracepoint rung where its event ids can be had (tests/bpf/test_syscall_tp.c) */
	if (strcmp(rung, "tracepoint") == 0 && !strstr(stacks__attach_summary(f.s), "syscalls: "
										    "tracepoint")) {
		unload(&f);
		skip();
	}
	if (strcmp(rung, "tp_btf") == 0)
		assert_null(strstr(stacks__attach_summary(f.s), "syscalls: tracepoint"));
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		void *p;
		long cur;

		if (read(go[0], &c, 1) != 1)
			_exit(2);
		p = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		cur = syscall(SYS_brk, 0);
		if (syscall(SYS_brk, cur + MIB) != cur + (long)MIB)
			_exit(3);
		_exit(p == MAP_FAILED);
	}
	assert_int_equal(stacks__track(f.s, pid), 0);
	assert_int_equal(write(go[1], "g", 1), 1);
	while (waitpid(pid, &status, WNOHANG) == 0)
		assert_int_equal(stacks__poll(f.s, 50 /* ms */), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(stacks__harvest(f.s), 0);
	{
		const struct mt_rec_sample *smp = recording__samples(f.rec, &n);

		for (size_t i = 0; i < n; i++) {
			if (smp[i].pid != (uint32_t)pid)
				continue;
			if (smp[i].event == MT_EV_MMAP)
				mmap_bytes += smp[i].bytes;
			else if (smp[i].event == MT_EV_BRK)
				brk_bytes += smp[i].bytes;
			else
				continue;
			if (smp[i].stack_id < 0)
				unstacked += smp[i].bytes;
		}
	}
	if (mmap_bytes != (int64_t)(2 * MIB) || brk_bytes != (int64_t)MIB)
		fail_msg("mmap bytes %lld, brk bytes %lld, expected the child's 2 MiB mmap (%llu) "
			 "and 1 MiB brk (%llu)",
			 (long long)mmap_bytes, (long long)brk_bytes, 2 * MIB, MIB);
	if (unstacked)
		fail_msg("%lld of the child's mmap+brk bytes without a call stack on the %s rung",
			 (long long)unstacked, rung);
	assert_int_equal(stacks__counters(f.s, counters), 0);
	assert_int_equal(counters[MT_SC_INFLIGHT_FULL], 0);
	close(go[0]);
	close(go[1]);
	unload(&f);
}

/* syscalls:sys_exit_* through perf events: no program for any other syscall */
static void test_record__syscalls_counted_at_exit(void **state)
{
	syscalls_counted("tracepoint");
}

/* the sys_exit rung, which every syscall of the machine passes */
static void test_record__syscalls_counted_at_sys_exit(void **state)
{
	syscalls_counted("tp_btf");
}

/* glibc's names for malloc and free (aliases: the uprobes' addresses) */
extern void *__libc_malloc(size_t size);
extern void __libc_free(void *p);

/* Malloc bytes and blocks of pid in the aggregate. */
static void sum_malloc(const struct recording *rec, uint32_t pid, int64_t *bytes, int64_t *blocks)
{
	size_t n;
	const struct mt_rec_sample *smp = recording__samples(rec, &n);

	*bytes = *blocks = 0;
	for (size_t i = 0; i < n; i++)
		if (smp[i].pid == pid && smp[i].event == MT_EV_MALLOC) {
			*bytes += smp[i].bytes;
			*blocks += (int64_t)smp[i].count;
		}
}

/*
 * malloc_nofp callers holds 32 MiB in 512 blocks of 64 KiB (and frees 512
 * more) while this process, outside the recording, makes its own calls.
 * per_pid: the uprobes are for the child alone; else for every process.
 */
static void run_malloc(struct fixture *f, bool per_pid, struct stacks_malloc_stats *st, pid_t *pid,
		       uint64_t outside_calls)
{
	const char *dir = getenv("WORKLOADS");
	int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC), status;
	struct mt_child_opts co = { .before_exec = to_dev_null, .arg = &null_fd };
	struct mt_child child = MT_CHILD_INIT;
	char path[512];
	char *argv[] = { path, "callers", NULL };

	snprintf(path, sizeof(path), "%s/malloc_nofp", dir ? dir : "build/tests/workloads");
	assert_true(null_fd >= 0);
	assert_int_equal(mt_child__spawn(&child, argv, &co), 0);
	close(null_fd);
	assert_int_equal(stacks__track(f->s, child.pid), 0);
	assert_int_equal(stacks__attach_malloc(f->s, getpid(), per_pid ? child.pid : -1), 0);
	/* libc's own entry points: under ASan, malloc() here is the sanitizer's */
	for (uint64_t i = 0; i < outside_calls; i++) {
		void *volatile p = __libc_malloc(64 + i % 64);

		__libc_free(p);
	}
	if (mt_child__release(&child))
		fail_msg("cannot run %s: is it built?", path);
	while (waitpid(child.pid, &status, WNOHANG) == 0)
		assert_int_equal(stacks__poll(f->s, 50 /* ms */), 0);
	mt_child__close(&child);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s failed (status 0x%x)", path, status);
	assert_int_equal(stacks__harvest(f->s), 0);
	assert_int_equal(stacks__malloc_stats(f->s, st), 0);
	*pid = child.pid;
}

/*
 * The heap's peak, from the kernel's counters: malloc_nofp callers peaks at
 * its last churn_temp block, 512 kept + 1 of 64 KiB (stdio's buffer comes
 * after); the same counter ends at the aggregate's outstanding bytes; the
 * captures live then are flagged, the freed one among them kept.
 */
static void check_malloc_peak(const struct recording *rec, uint32_t pid, int64_t end_bytes)
{
	const int64_t want = 513 * 65536;
	size_t n, nu, nonly;
	const struct mt_rec_peak *pk = recording__peaks(rec, &n);
	const struct mt_rec_ustack *u = recording__ustacks(rec, &nu);
	const struct mt_rec_peak *mine = NULL, *all = NULL;
	uint64_t at_peak = 0;

	for (size_t i = 0; i < n; i++) {
		if (pk[i].flags & MT_PEAK_ALL)
			all = &pk[i];
		else if (pk[i].pid == pid && pk[i].bytes > 0)
			mine = &pk[i];
	}
	if (!mine || !all)
		fail_msg("malloc: no peak record for the workload (%zu records)", n);
	if (mine->bytes < want || mine->bytes > want + 65536)
		fail_msg("malloc: the peak is %lld bytes, the workload's is %lld (+ what libc "
			 "allocates before main, < 64 KiB)",
			 (long long)mine->bytes, (long long)want);
	if (mine->end_bytes != end_bytes)
		fail_msg("malloc: the peak's counter ends at %lld bytes, the aggregate at %lld",
			 (long long)mine->end_bytes, (long long)end_bytes);
	if (all->bytes != mine->bytes || mine->flags & MT_PEAK_RACED)
		fail_msg("malloc: overall peak %lld, the one traced process's %lld (flags 0x%x)",
			 (long long)all->bytes, (long long)mine->bytes, mine->flags);
	for (size_t i = 0; i < nu; i++)
		at_peak += u[i].pid == pid && (u[i].flags & MT_USTACK_AT_PEAK);
	u = recording__peak_ustacks(rec, &nonly);
	for (size_t i = 0; i < nonly; i++)
		at_peak += u[i].pid == pid && (u[i].flags & MT_USTACK_AT_PEAK);
	if (at_peak < 505 || at_peak > 516 || nonly < 1)
		fail_msg("malloc: %llu captures live at the peak (%zu of them freed since), "
			 "expected about 513 (512 kept, the last churn_temp block)",
			 (unsigned long long)at_peak, nonly);
}

/*
 * --malloc traces the recorded process only: with the uprobes attached for
 * its pid, 20,000 calls of this process never reach a program (filtered
 * 0), and the child's outstanding bytes are what it holds. Attached for
 * every process, the same calls reach the programs and are filtered: the
 * count that shows the per-pid attach is what keeps the host out.
 */
static void test_record__malloc_only_traced(void **state)
{
	struct stacks_opts opts = { .malloc = true,
				    .unwind = MT_UNWIND_DWARF,
				    .sample_bytes = 4096 };
	struct stacks_malloc_stats st;
	const uint64_t outside = 20000;
	int64_t bytes, blocks, cap_bytes;
	uint64_t ncap, with_stack;
	struct fixture f;
	pid_t pid;

	load(&f, &opts);
	run_malloc(&f, true, &st, &pid, outside);
	sum_malloc(f.rec, pid, &bytes, &blocks);
	/* the 32 MiB it holds, and stdio's buffer (at most 64 KiB) */
	if (bytes < (int64_t)(32 * MIB) || bytes > (int64_t)(32 * MIB + 65536))
		fail_msg(
		    "malloc: %lld bytes outstanding, the workload holds %llu (+ stdio <= 64 KiB)",
		    (long long)bytes, 32 * MIB);
	if (blocks < 512 || blocks > 516)
		fail_msg("malloc: %lld blocks outstanding, the workload holds 512 (+ stdio)",
			 (long long)blocks);
	if (st.filtered != 0)
		fail_msg("malloc: %llu calls reached the programs from untraced processes with "
			 "per-pid uprobes, expected 0 (this process made %llu)",
			 (unsigned long long)st.filtered, (unsigned long long)outside);
	if (st.pids != 1)
		fail_msg("malloc: uprobes for %llu processes, expected 1",
			 (unsigned long long)st.pids);
	/* 64 KiB blocks at a 4 KiB mean: each captured; the freed half is released */
	sum_captures(f.rec, pid, MT_EV_MALLOC, &cap_bytes, &ncap, &with_stack);
	if (ncap < 505 || ncap > 516 || ncap != st.live)
		fail_msg("malloc: %llu captures in the recording (%llu live), expected about 512 "
			 "(one per held block)",
			 (unsigned long long)ncap, (unsigned long long)st.live);
	if (st.released < 505 || st.release_lost)
		fail_msg("malloc: %llu captures released (%llu lost), expected about 512 (the "
			 "freed blocks)",
			 (unsigned long long)st.released, (unsigned long long)st.release_lost);
	if (with_stack != ncap)
		fail_msg("malloc: %llu of %llu captures have registers and stack bytes",
			 (unsigned long long)with_stack, (unsigned long long)ncap);
	check_malloc_peak(f.rec, pid, bytes);
	unload(&f);

	load(&f, &opts);
	run_malloc(&f, false, &st, &pid, outside);
	sum_malloc(f.rec, pid, &bytes, &blocks);
	if (st.filtered < outside * 2)
		fail_msg("malloc: uprobes for every process filtered %llu calls, expected at least "
			 "this process's %llu malloc and free calls",
			 (unsigned long long)st.filtered, (unsigned long long)outside * 2);
	if (bytes < (int64_t)(32 * MIB) || bytes > (int64_t)(32 * MIB + 65536))
		fail_msg("malloc (every process): %lld bytes outstanding, the workload holds %llu",
			 (long long)bytes, 32 * MIB);
	unload(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record__every_fault),
		cmocka_unit_test(test_record__raw_tp_rung),
		cmocka_unit_test(test_record__sampled_weights_scale),
		cmocka_unit_test(test_record__follows_fork_and_exec),
		cmocka_unit_test(test_record__dwarf_captures),
		cmocka_unit_test(test_record__capture_rate_moves_period),
		cmocka_unit_test(test_record__kernel_faults_counted),
		cmocka_unit_test(test_record__perf_rung),
		cmocka_unit_test(test_record__syscalls_counted_at_exit),
		cmocka_unit_test(test_record__syscalls_counted_at_sys_exit),
		cmocka_unit_test(test_record__malloc_only_traced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
