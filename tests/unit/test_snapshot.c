// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "fixture.h"
#include "json_util.h"
#include "snapshot.h"

static void name_is(const char *exe, bool exists, const char *comm, const char *want)
{
	char out[SNAP_NAME_LEN];

	snap_program_name(exe, exists, comm, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_snapshot__program_name(void **state)
{
	name_is("/usr/bin/bash", true, "bash", "bash");
	/* comm cut at 15 bytes: the exe's full basename wins */
	name_is("/usr/lib/thunderbird/mozilla-thunderbird-bin", true, "mozilla-thunder",
		"mozilla-thunderbird-bin");
	/* python3 -> python3.11 symlink: comm is a prefix of the real exe */
	name_is("/usr/bin/python3.11", true, "python3", "python3.11");
	/* a script run by its #! line: comm is the script, exe the interpreter */
	name_is("/usr/bin/python3.11", true, "backup.py", "backup.py");
	name_is("/usr/bin/perl", true, "logrotate.pl", "logrotate.pl");
	name_is("/usr/bin/bash", true, "deploy.sh", "deploy.sh");
	name_is("/usr/bin/node", true, "server.js", "server.js");
	/* renamed with prctl: the name it chose */
	name_is("/usr/lib/firefox/firefox-esr", true, "Web Content", "Web Content");
	/* no exe link (hidden or a kernel thread): comm alone */
	name_is(NULL, false, "kthreadd", "kthreadd");
	name_is("", false, "x", "x");
}

static void test_snapshot__program_name_deleted(void **state)
{
	name_is("/usr/sbin/sshd (deleted)", true, "sshd", "sshd [updated]");
	name_is("/usr/sbin/sshd (deleted)", false, "sshd", "sshd [deleted]");
	name_is("/tmp/a.out (deleted)", false, "other", "other");
}

static void test_snapshot__program_name_odd_bytes(void **state)
{
	char out[8];

	name_is("/tmp/we ird) (x", true, "we ird) (x", "we ird) (x");
	name_is("/tmp/a\nb\"c\xff", true, "a\nb\"c\xff", "a\nb\"c\xff");
	name_is("/tmp/dir/", true, "x", "x");
	/* never overruns its buffer */
	snap_program_name("/usr/bin/averyveryverylongname", true, "avery", out, sizeof(out));
	assert_string_equal(out, "averyve");
}

static void test_snapshot__by_parse(void **state)
{
	static const char *const bad[] = { "",	    "Program", "prog", "programs", "pid ",
					   " user", "cgroup2", "none", "PID" };
	const enum snap_by all[] = { SNAP_BY_PROGRAM, SNAP_BY_PID, SNAP_BY_USER, SNAP_BY_CGROUP };
	enum snap_by by;

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		by = SNAP_BY_CGROUP + 1; /* an impossible value: parse must set it */
		assert_int_equal(snapshot_by_parse(snapshot_by_name(all[i]), &by), 0);
		assert_int_equal(by, all[i]);
		/* every key is in the list that bad-input messages print */
		assert_non_null(strstr(SNAP_BY_CHOICES, snapshot_by_name(all[i])));
	}
	assert_string_equal(snapshot_by_name(SNAP_BY_PID), "pid");
	assert_string_equal(snapshot_by_name(SNAP_BY_PROGRAM), "program");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		by = SNAP_BY_USER;
		assert_int_equal(snapshot_by_parse(bad[i], &by), -EINVAL);
		assert_int_equal(by, SNAP_BY_USER); /* untouched on failure */
	}
}

static void test_snapshot__set_rollup(void **state)
{
	struct smaps_rollup s;
	struct snap_proc p;
	size_t len;
	char *buf = fixture_load("smaps_rollup_hugetlb_thp.txt", &len);

	assert_int_equal(smaps_rollup__parse(buf, len, &s), 0);
	free(buf);
	snap_proc__set_rollup(&p, &s);
	/* 44 + 9336 kB private, plus 4 MiB of hugetlb that Rss and Pss leave out */
	assert_true(p.private_bytes == (44 + 9336 + 4096) * 1024ULL);
	assert_true(p.shared_bytes == (9638 - 44 - 9336) * 1024ULL);
	assert_true(p.private_bytes + p.shared_bytes == s.pss + s.private_hugetlb);
	assert_true(p.swap_bytes == 0);

	/* SwapPss preferred; plain Swap only where the kernel has no SwapPss */
	s.swap = 8192;
	s.swap_pss = 4096;
	snap_proc__set_rollup(&p, &s);
	assert_true(p.swap_bytes == 4096);
	s.present &= ~SMAPS_HAS_SWAP_PSS;
	snap_proc__set_rollup(&p, &s);
	assert_true(p.swap_bytes == 8192);
	/* shared hugetlb goes to shared */
	s.shared_hugetlb = 2 << 20;
	snap_proc__set_rollup(&p, &s);
	assert_true(p.shared_bytes == (9638 - 44 - 9336) * 1024ULL + (2 << 20));
}

/* a fake kernel: the mm of each PID is mm_of[pid] (0 = cannot tell) */
static int mm_of[4096];
static unsigned int mm_calls;

static int fake_mm_cmp(int a, int b)
{
	__atomic_fetch_add(&mm_calls, 1, __ATOMIC_RELAXED);
	if (!mm_of[a] || !mm_of[b])
		return SNAP_MM_UNKNOWN;
	return mm_of[a] < mm_of[b] ? -1 : mm_of[a] > mm_of[b];
}

static void make_proc(struct snap_proc *p, int pid, const char *name, uint64_t priv,
		      uint64_t shared, uint64_t vm_start)
{
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->state = SNAP_OK;
	p->dup_of = -1;
	p->private_bytes = priv;
	p->shared_bytes = shared;
	p->rss = priv + shared;
	p->vm_start = vm_start;
	p->vm_end = vm_start + 0x100000;
	p->name = name;
}

static void test_snapshot__dedupe_shared_mm(void **state)
{
	struct snap_proc p[5];

	memset(mm_of, 0, sizeof(mm_of));
	/* 10 and 11 share one mm (CLONE_VM); 12 is a forked look-alike with its own */
	make_proc(&p[0], 10, "srv", 4096, 0, 0x1000);
	make_proc(&p[1], 11, "srv", 4096, 0, 0x1000);
	make_proc(&p[2], 12, "srv", 4096, 0, 0x1000);
	make_proc(&p[3], 13, "other", 4096, 0, 0x2000);
	make_proc(&p[4], 14, "gone", 4096, 0, 0x1000);
	p[4].state = SNAP_GONE;
	mm_of[10] = mm_of[11] = 1;
	mm_of[12] = 2;
	mm_of[13] = 3;
	mm_of[14] = 1;
	assert_int_equal(snapshot_dedupe(p, 5, fake_mm_cmp), 1);
	assert_int_equal(p[0].dup_of, -1);
	assert_int_equal(p[1].dup_of, 0); /* the lower PID keeps the figures */
	assert_int_equal(p[2].dup_of, -1);
	assert_int_equal(p[3].dup_of, -1);
	assert_int_equal(p[4].dup_of, -1);
}

static void test_snapshot__dedupe_small_run_exact(void **state)
{
	struct snap_proc p[6];

	memset(mm_of, 0, sizeof(mm_of));
	/* 50 and 54 share an mm with forked look-alikes between them in PID order */
	for (int i = 0; i < 6; i++) {
		make_proc(&p[i], 50 + i, "w", 4096, 0, 0x1000);
		mm_of[50 + i] = 100 + i;
	}
	mm_of[54] = mm_of[50];
	mm_of[55] = mm_of[52];
	assert_int_equal(snapshot_dedupe(p, 6, fake_mm_cmp), 2);
	assert_int_equal(p[4].dup_of, 0);
	assert_int_equal(p[5].dup_of, 2);
	assert_int_equal(p[1].dup_of, -1);
	assert_int_equal(p[3].dup_of, -1);
}

static void test_snapshot__dedupe_unknown_keeps_all(void **state)
{
	struct snap_proc p[3];

	memset(mm_of, 0, sizeof(mm_of)); /* kcmp says nothing */
	for (int i = 0; i < 3; i++)
		make_proc(&p[i], 20 + i, "w", 4096, 0, 0x1000);
	assert_int_equal(snapshot_dedupe(p, 3, fake_mm_cmp), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(p[i].dup_of, -1);
}

static void test_snapshot__dedupe_large_run(void **state)
{
	enum { N = 1000 };
	struct snap_proc *p = calloc(N, sizeof(*p));
	int marked = 0;

	assert_non_null(p);
	memset(mm_of, 0, sizeof(mm_of));
	/* forked workers that all look alike; every tenth pair shares an mm */
	for (int i = 0; i < N; i++) {
		make_proc(&p[i], 1000 + i, "worker", 4096, 4096, 0x1000);
		mm_of[1000 + i] = 5000 + ((i % 20 == 1) ? i - 1 : i);
	}
	mm_calls = 0;
	marked = snapshot_dedupe(p, N, fake_mm_cmp);
	assert_int_equal(marked, N / 20);
	for (int i = 0; i < N; i++)
		assert_int_equal(p[i].dup_of, i % 20 == 1 ? i - 1 : -1);
	/* a worker pool: one kcmp per process, not a sort's worth */
	assert_true(mm_calls < N);
	free(p);
}

/* the collecting workers' answers stand in for kcmp, and say the same */
static void test_snapshot__dedupe_takes_workers_answers(void **state)
{
	enum { N = 200 };
	struct snap_proc *p = calloc(N, sizeof(*p));
	int asked;

	assert_non_null(p);
	memset(mm_of, 0, sizeof(mm_of));
	/* a pool of look-alikes; every tenth pair shares an mm */
	for (int i = 0; i < N; i++) {
		make_proc(&p[i], 2000 + i, "worker", 4096, 4096, 0x1000);
		mm_of[2000 + i] = 7000 + ((i % 10 == 1) ? i - 1 : i);
	}
	/* every adjacent pair answered by a worker but the chunk starts (i % 8 == 0) */
	for (int i = 1; i < N; i++)
		if (i % 8)
			p[i].prev_mm = mm_of[2000 + i] == mm_of[2000 + i - 1] ? SNAP_PREV_SAME
									      : SNAP_PREV_OTHER;
	mm_calls = 0;
	assert_int_equal(snapshot_dedupe(p, N, fake_mm_cmp), N / 10);
	asked = mm_calls;
	for (int i = 0; i < N; i++)
		assert_int_equal(p[i].dup_of, i % 10 == 1 ? i - 1 : -1);
	/* only the pairs across chunk starts were asked */
	assert_int_equal(asked, (N - 1) / 8);

	/* a worker that could not tell stops the merging, as kcmp's unknown does */
	for (int i = 0; i < N; i++)
		p[i].prev_mm = SNAP_PREV_UNKNOWN;
	assert_int_equal(snapshot_dedupe(p, N, fake_mm_cmp), 0);

	/* a pair of look-alikes is one question, exact */
	make_proc(&p[0], 30, "pair", 4096, 0, 0x9000);
	make_proc(&p[1], 31, "pair", 4096, 0, 0x9000);
	mm_of[30] = mm_of[31] = 9;
	mm_calls = 0;
	assert_int_equal(snapshot_dedupe(p, 2, fake_mm_cmp), 1);
	assert_int_equal(p[1].dup_of, 0);
	assert_int_equal(mm_calls, 1);
	free(p);
}

/* for kcmp never to be asked (real PIDs are out of mm_of's range) */
static int no_mm_cmp(int a, int b)
{
	(void)a, (void)b;
	__atomic_fetch_add(&mm_calls, 1, __ATOMIC_RELAXED);
	return SNAP_MM_UNKNOWN;
}

static char child_pages[16 * 4096];

/* arg: the pipe; returns (exits) when the test closes its write end */
static int wait_pipe(void *arg)
{
	int *fds = arg;
	char c;

	/* may share the test's memory: close, read and _exit only */
	close(fds[1]);
	(void)!read(fds[0], &c, 1);
	_exit(0);
}

/*
 * The workers' kcmp against the real kernel: a CLONE_VM child is counted
 * once, forked look-alikes are not merged.
 */
static void test_snapshot__collect_shared_mm_live(void **state)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	struct snapshot_opts opts = { .by = SNAP_BY_PROGRAM, .threads = 1 };
	struct snap_proc p[4];
	struct snap_strings *names = NULL;
	int fds[2], pids[4], alike = 0, one_mm_alike = 0;

	assert_int_equal(pipe(fds), 0);
	pids[0] = getpid();
	pids[1] = clone(wait_pipe, stack + sizeof(stack), CLONE_VM | SIGCHLD, fds);
	assert_true(pids[1] > 0);
	for (int i = 2; i < 4; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			/* rss of their own, so they look alike each other, not the test */
			memset(child_pages, 1, sizeof(child_pages));
			wait_pipe(fds);
		}
	}
	/* the test's own rss may move between two reads: read again until it did not */
	for (int tries = 0; tries < 20 && !alike; tries++) {
		snap_strings__free(names);
		assert_int_equal(snapshot_collect(pids, 4, &opts, p, &names), 0);
		one_mm_alike |= snap_proc__looks_alike(&p[0], &p[1]);
		alike = snap_proc__looks_alike(&p[0], &p[1]) &&
			snap_proc__looks_alike(&p[2], &p[3]) &&
			!snap_proc__looks_alike(&p[1], &p[2]);
	}
	/* one mm is one rss by construction; two forks are alike only if nothing else faulted */
	assert_true(one_mm_alike);
	if (!alike) {
		/* under ASan the forked children's shadow pages differ: no look-alike pair to ask
		 */
		fprintf(stderr, "skip: the forked pair does not look alike (rss %llu and %llu)\n",
			(unsigned long long)p[2].rss, (unsigned long long)p[3].rss);
		close(fds[1]);
		for (int i = 1; i < 4; i++)
			waitpid(pids[i], NULL, 0);
		close(fds[0]);
		snap_strings__free(names);
		skip();
	}
	assert_int_equal(p[0].prev_mm, SNAP_PREV_UNASKED);
	assert_int_equal(p[1].prev_mm, SNAP_PREV_SAME);
	assert_int_equal(p[3].prev_mm, SNAP_PREV_OTHER);
	/* the answers agree with kcmp asked now */
	assert_int_equal(snap_kcmp_vm(pids[0], pids[1]), 0);
	assert_int_not_equal(snap_kcmp_vm(pids[2], pids[3]), 0);
	mm_calls = 0;
	assert_int_equal(snapshot_dedupe(p, 4, no_mm_cmp), 1);
	assert_int_equal(mm_calls, 0);
	assert_int_equal(p[1].dup_of, 0);
	assert_int_equal(p[3].dup_of, -1);
	assert_string_equal(p[1].name, "test_snapshot");
	/* one program's neighbours keep one copy of its name */
	assert_ptr_equal(p[1].name, p[0].name);
	snap_strings__free(names);
	close(fds[1]);
	for (int i = 1; i < 4; i++)
		assert_int_equal(waitpid(pids[i], NULL, 0), pids[i]);
	close(fds[0]);
}

static const char *fake_user(uint32_t uid)
{
	return uid == 0 ? "root" : uid == 1000 ? "alice" : "other";
}

static void test_snapshot__group_program(void **state)
{
	struct snap_proc p[6];
	struct snap_group *g;
	struct snap_totals t;
	int n;

	make_proc(&p[0], 1, "bash", 100, 10, 0x1000);
	make_proc(&p[1], 2, "bash", 200, 20, 0x2000);
	make_proc(&p[2], 3, "big", 5000, 0, 0x3000);
	make_proc(&p[3], 4, "clone", 50, 0, 0x4000);
	p[3].dup_of = 0; /* shares bash 1's mm: counted, figures not added */
	make_proc(&p[4], 5, "nope", 1, 1, 0x5000);
	p[4].state = SNAP_UNREADABLE;
	make_proc(&p[5], 6, "gone", 1, 1, 0x6000);
	p[5].state = SNAP_GONE;
	p[0].swap_bytes = 7;

	n = snapshot_group(p, 6, SNAP_BY_PROGRAM, SNAP_SORT_RAM, NULL, &g, &t);
	assert_int_equal(n, 2);
	assert_string_equal(g[0].name, "big");
	assert_string_equal(g[1].name, "bash");
	assert_int_equal(g[1].count, 3); /* the CLONE_VM process joins its mm's group */
	assert_true(g[1].private_bytes == 300);
	assert_true(g[1].shared_bytes == 30);
	assert_true(snap_group_ram(&g[1]) == 330);
	assert_true(g[1].swap_bytes == 7);
	assert_int_equal(t.processes, 4);
	assert_int_equal(t.unreadable, 1);
	assert_int_equal(t.gone, 1);
	assert_true(t.private_bytes == 5300 && t.shared_bytes == 30 && t.swap_bytes == 7);
	/* totals are the sum of the groups */
	assert_true(t.private_bytes == g[0].private_bytes + g[1].private_bytes);
	free(g);

	n = snapshot_group(p, 6, SNAP_BY_PROGRAM, SNAP_SORT_COUNT, NULL, &g, &t);
	assert_int_equal(n, 2);
	assert_string_equal(g[0].name, "bash");
	free(g);
	n = snapshot_group(p, 6, SNAP_BY_PROGRAM, SNAP_SORT_SWAP, NULL, &g, &t);
	assert_string_equal(g[0].name, "bash");
	free(g);
}

/* group_of names each record's group after the sort, whatever the order */
static void test_snapshot__group_map(void **state)
{
	struct snap_proc p[6];
	struct snap_group *g;
	struct snap_totals t;
	int group_of[6], n;

	make_proc(&p[0], 1, "bash", 100, 10, 0x1000);
	make_proc(&p[1], 2, "bash", 200, 20, 0x2000);
	make_proc(&p[2], 3, "big", 5000, 0, 0x3000);
	make_proc(&p[3], 4, "clone", 50, 0, 0x4000);
	p[3].dup_of = 0;
	make_proc(&p[4], 5, "nope", 1, 1, 0x5000);
	p[4].state = SNAP_UNREADABLE;
	make_proc(&p[5], 6, "alone", 1, 0, 0x6000);

	for (int sort = SNAP_SORT_RAM; sort <= SNAP_SORT_COUNT; sort++) {
		n = snapshot_group_map(p, 6, SNAP_BY_PROGRAM, sort, NULL, &g, &t, group_of);
		assert_int_equal(n, 3);
		assert_int_equal(group_of[4], -1);
		for (int i = 0; i < 6; i++) {
			if (i == 4)
				continue;
			assert_in_range(group_of[i], 0, n - 1);
			/* the record's group is its own name's, or its mm owner's */
			assert_string_equal(g[group_of[i]].name,
					    p[p[i].dup_of >= 0 ? p[i].dup_of : i].name);
		}
		/* counts agree with the mapping */
		for (int k = 0; k < n; k++) {
			unsigned int c = 0;

			for (int i = 0; i < 6; i++)
				c += group_of[i] == k;
			assert_int_equal(c, g[k].count);
		}
		free(g);
	}
}

static void test_snapshot__group_by_pid_user_cgroup(void **state)
{
	struct snap_proc p[3];
	char cg_a[] = "/system.slice/a.service", cg_b[] = "/user.slice";
	struct snap_group *g;
	struct snap_totals t;
	int n;

	make_proc(&p[0], 30, "a", 100, 0, 0x1000);
	make_proc(&p[1], 31, "a", 300, 0, 0x2000);
	make_proc(&p[2], 32, "b", 200, 0, 0x3000);
	p[0].uid = 0;
	p[1].uid = 1000;
	p[2].uid = 1000;
	p[0].cgroup = cg_a;
	p[1].cgroup = cg_b;
	p[2].cgroup = cg_b;

	n = snapshot_group(p, 3, SNAP_BY_PID, SNAP_SORT_RAM, NULL, &g, &t);
	assert_int_equal(n, 3);
	assert_int_equal(g[0].pid, 31);
	assert_int_equal(g[2].pid, 30);
	free(g);

	n = snapshot_group(p, 3, SNAP_BY_USER, SNAP_SORT_RAM, fake_user, &g, &t);
	assert_int_equal(n, 2);
	assert_string_equal(g[0].name, "alice");
	assert_int_equal(g[0].count, 2);
	assert_true(g[0].private_bytes == 500);
	assert_string_equal(g[1].name, "root");
	free(g);

	n = snapshot_group(p, 3, SNAP_BY_CGROUP, SNAP_SORT_RAM, NULL, &g, &t);
	assert_int_equal(n, 2);
	assert_string_equal(g[0].name, "/user.slice");
	assert_string_equal(g[1].name, "/system.slice/a.service");
	free(g);
}

static void test_snapshot__group_odd_names(void **state)
{
	static const char *const names[] = { "we ird) (x", "a\nb", "q\"uote", "bad\xff\xfe", "" };
	struct snap_proc p[5];
	struct snap_group *g;
	struct snap_totals t;
	int n;

	for (int i = 0; i < 5; i++)
		make_proc(&p[i], 40 + i, names[i], 100 * (i + 1), 0, 0x1000 * (i + 1));
	n = snapshot_group(p, 5, SNAP_BY_PROGRAM, SNAP_SORT_RAM, NULL, &g, &t);
	assert_int_equal(n, 5);
	for (int i = 0; i < n; i++) {
		struct json_object *s = mt_json_string(g[i].name, strlen(g[i].name));
		const char *text = json_object_to_json_string(s);
		struct json_object *back = json_tokener_parse(text);

		/* every name, whatever its bytes, makes valid JSON */
		assert_non_null(back);
		json_object_put(back);
		json_object_put(s);
	}
	assert_string_equal(g[0].name, "");
	assert_string_equal(g[1].name, "bad\xff\xfe");
	free(g);
}

static void test_snapshot__group_empty(void **state)
{
	struct snap_group *g = NULL;
	struct snap_totals t;

	assert_int_equal(snapshot_group(NULL, 0, SNAP_BY_PROGRAM, SNAP_SORT_RAM, NULL, &g, &t), 0);
	assert_int_equal(t.processes, 0);
	free(g);
	assert_int_equal(snapshot_dedupe(NULL, 0, fake_mm_cmp), 0);
}

static void test_snapshot__collect_live(void **state)
{
	int pids[3] = { getpid(), 1 << 23, 2 };
	struct snapshot_opts opts = { .by = SNAP_BY_USER, .threads = 2 };
	struct snap_strings *names = NULL;
	struct snap_proc p[3];

	assert_int_equal(snapshot_collect(pids, 3, &opts, p, &names), 0);
	assert_int_equal(p[0].state, SNAP_OK);
	assert_int_equal(p[0].uid, geteuid());
	assert_true(p[0].private_bytes > 0);
	assert_string_equal(p[0].name, "test_snapshot");
	assert_int_equal(p[1].state, SNAP_GONE);
	assert_int_equal(p[2].state, SNAP_NO_MM); /* kthreadd */
	/* a process compared with itself shares its own mm */
	assert_int_equal(snap_kcmp_vm(getpid(), getpid()), 0);
	snap_strings__free(names);
}

/*
 * The whole of /proc, listed while it is read: with room for 2 records at
 * first the records grow over several rounds, and every child is there
 * once, in /proc's order, named and read; the caller is left out.
 */
static void test_snapshot__collect_all_live(void **state)
{
	struct snapshot_opts opts = { .by = SNAP_BY_PROGRAM, .threads = 2 };
	struct snap_proc *p = NULL;
	struct snap_strings *names = NULL;
	int fds[2], kids[3], seen[3] = { 0 };
	size_t n = 0, n_list = 0;
	int *listed = NULL;

	assert_int_equal(pipe(fds), 0);
	for (int i = 0; i < 3; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0)
			wait_pipe(fds);
	}
	for (size_t first = 2; first <= 4096; first *= 2048) {
		opts.first_cap = first;
		assert_int_equal(snapshot_collect_all(getpid(), &opts, &p, &n, &names), 0);
		assert_int_equal(snapshot_list_pids(&listed, &n_list, getpid()), 0);
		/* other processes come and go on the machine: only roughly the same count */
		assert_true(n > n_list / 2 && n < n_list * 2 + 16);
		memset(seen, 0, sizeof(seen));
		for (size_t i = 0; i < n; i++) {
			assert_int_not_equal(p[i].pid, getpid());
			if (i)
				assert_true(p[i].pid > p[i - 1].pid);
			for (int k = 0; k < 3; k++) {
				if (p[i].pid != kids[k])
					continue;
				seen[k]++;
				assert_int_equal(p[i].state, SNAP_OK);
				assert_string_equal(p[i].name, "test_snapshot");
				assert_true(p[i].rss > 0);
			}
		}
		for (int k = 0; k < 3; k++)
			assert_int_equal(seen[k], 1);
		free(listed);
		free(p);
		snap_strings__free(names);
	}
	close(fds[1]);
	for (int k = 0; k < 3; k++)
		waitpid(kids[k], NULL, 0);
	close(fds[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_snapshot__program_name),
		cmocka_unit_test(test_snapshot__program_name_deleted),
		cmocka_unit_test(test_snapshot__program_name_odd_bytes),
		cmocka_unit_test(test_snapshot__by_parse),
		cmocka_unit_test(test_snapshot__set_rollup),
		cmocka_unit_test(test_snapshot__dedupe_shared_mm),
		cmocka_unit_test(test_snapshot__dedupe_small_run_exact),
		cmocka_unit_test(test_snapshot__dedupe_unknown_keeps_all),
		cmocka_unit_test(test_snapshot__dedupe_large_run),
		cmocka_unit_test(test_snapshot__dedupe_takes_workers_answers),
		cmocka_unit_test(test_snapshot__group_program),
		cmocka_unit_test(test_snapshot__group_map),
		cmocka_unit_test(test_snapshot__group_by_pid_user_cgroup),
		cmocka_unit_test(test_snapshot__group_odd_names),
		cmocka_unit_test(test_snapshot__group_empty),
		cmocka_unit_test(test_snapshot__collect_live),
		cmocka_unit_test(test_snapshot__collect_shared_mm_live),
		cmocka_unit_test(test_snapshot__collect_all_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
