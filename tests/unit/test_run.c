// SPDX-License-Identifier: GPL-2.0
/* memtrace run's pure logic: budget verdicts, exit statuses, the process table, the timeline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "run.h"

#define MIB (1ULL << 20)

/* waitpid-style statuses without a real child */
#define EXITED(code) ((code) << 8)
#define KILLED(sig) (sig)

static void test_run__exit_status_passes_the_commands(void **state)
{
	assert_int_equal(run_exit_status(EXITED(0), 0, false), 0);
	assert_int_equal(run_exit_status(EXITED(7), 0, false), 7);
	assert_int_equal(run_exit_status(EXITED(255), 0, false), 255);
	assert_int_equal(run_exit_status(EXITED(127), 0, false), 127);
}

static void test_run__exit_status_signal_is_128_plus(void **state)
{
	assert_true(WIFSIGNALED(KILLED(SIGTERM)));
	assert_int_equal(run_exit_status(KILLED(SIGTERM), 0, false), 143);
	assert_int_equal(run_exit_status(KILLED(SIGKILL), 0, false), 137);
	assert_int_equal(run_exit_status(KILLED(SIGINT), 0, true), 130);
}

static void test_run__exit_status_over_budget(void **state)
{
	assert_int_equal(run_exit_status(EXITED(0), 1, false), RUN_EXIT_OVER_BUDGET);
	/* a failing command that was also over budget: the budget is the news */
	assert_int_equal(run_exit_status(EXITED(9), 2, false), RUN_EXIT_OVER_BUDGET);
	assert_int_equal(run_exit_status(KILLED(SIGSEGV), 1, false), RUN_EXIT_OVER_BUDGET);
	/* --no-fail: the command's own */
	assert_int_equal(run_exit_status(EXITED(0), 1, true), 0);
	assert_int_equal(run_exit_status(EXITED(9), 1, true), 9);
}

static void test_run__judge_under_and_over(void **state)
{
	struct run_budgets b = {};
	struct run_figures f = {};
	struct run_verdict v[RUN_BUDGET_NR];
	size_t n, over;

	b.set[RUN_MAX_RSS] = b.set[RUN_MAX_TOTAL_RSS] = true;
	b.limit[RUN_MAX_RSS] = 100 * MIB;
	b.limit[RUN_MAX_TOTAL_RSS] = 300 * MIB;
	f.proc_peak_bytes = 200 * MIB;
	f.proc_peak_pid = 42;
	f.tree_peak_bytes = 250 * MIB;

	over = run_judge(&b, &f, v, &n);
	assert_int_equal(n, 2);
	assert_int_equal(over, 1);
	assert_int_equal(v[0].kind, RUN_MAX_RSS);
	assert_true(v[0].over);
	assert_int_equal(v[0].pid, 42);
	assert_true(v[0].actual_bytes == (int64_t)(200 * MIB));
	assert_int_equal(v[1].kind, RUN_MAX_TOTAL_RSS);
	assert_false(v[1].over);
}

static void test_run__judge_limit_is_inclusive(void **state)
{
	struct run_budgets b = { .set[RUN_MAX_RSS] = true, .limit[RUN_MAX_RSS] = 100 * MIB };
	struct run_figures f = { .proc_peak_bytes = 100 * MIB };
	struct run_verdict v[RUN_BUDGET_NR];
	size_t n;

	assert_int_equal(run_judge(&b, &f, v, &n), 0);
	f.proc_peak_bytes++;
	assert_int_equal(run_judge(&b, &f, v, &n), 1);
}

static void test_run__judge_growth_and_shrink(void **state)
{
	struct run_budgets b = { .set[RUN_MAX_GROWTH] = true, .limit[RUN_MAX_GROWTH] = 10 * MIB };
	struct run_figures f = { .have_growth = true, .growth_bytes = -(int64_t)(500 * MIB) };
	struct run_verdict v[RUN_BUDGET_NR];
	size_t n;

	assert_int_equal(run_judge(&b, &f, v, &n), 0); /* shrinking is never over */
	assert_true(v[0].measured);
	f.growth_bytes = 11 * MIB;
	assert_int_equal(run_judge(&b, &f, v, &n), 1);
	f.have_growth = false; /* the command ended before the baseline */
	assert_int_equal(run_judge(&b, &f, v, &n), 0);
	assert_false(v[0].measured);
}

static void test_run__judge_pss_unmeasured(void **state)
{
	struct run_budgets b = { .set[RUN_MAX_PSS] = true, .limit[RUN_MAX_PSS] = 1 };
	struct run_figures f = {};
	struct run_verdict v[RUN_BUDGET_NR];
	size_t n;

	assert_int_equal(run_judge(&b, &f, v, &n), 0);
	assert_int_equal(n, 1);
	assert_false(v[0].measured);
	assert_false(v[0].over);
	f.have_pss = true;
	f.pss_peak_bytes = 2;
	f.pss_peak_pid = 7;
	assert_int_equal(run_judge(&b, &f, v, &n), 1);
	assert_int_equal(v[0].pid, 7);
}

static void test_run__judge_no_budget(void **state)
{
	struct run_budgets b = {};
	struct run_figures f = { .proc_peak_bytes = UINT64_MAX / 2 };
	struct run_verdict v[RUN_BUDGET_NR];
	size_t n = 99;

	assert_int_equal(run_judge(&b, &f, v, &n), 0);
	assert_int_equal(n, 0);
}

static void test_run__budget_names(void **state)
{
	assert_string_equal(run_budget_name(RUN_MAX_RSS), "max_rss");
	assert_string_equal(run_budget_option(RUN_MAX_TOTAL_RSS), "--max-total-rss");
	assert_string_equal(run_budget_option(RUN_MAX_GROWTH), "--max-growth");
	assert_string_equal(run_budget_name(RUN_MAX_PSS), "max_pss");
}

static struct run_sample sample(uint32_t pid, uint64_t start, uint64_t rss, uint64_t peak,
				bool exited)
{
	struct run_sample s = { .pid = pid,
				.ppid = 1,
				.start_ns = start,
				.rss_bytes = rss,
				.peak_bytes = peak,
				.exited = exited };

	strcpy(s.comm, "w");
	return s;
}

/* invariant: live records are exactly the non-exited ones, each findable */
static void check_procs(struct run_procs *p)
{
	size_t n;
	const struct run_proc *all = run_procs__all(p, &n);

	for (size_t i = 0; i < n; i++) {
		struct run_proc *found = run_procs__find(p, all[i].pid);

		if (!all[i].exited)
			assert_ptr_equal(found, &all[i]);
		else
			assert_true(found == NULL || found->start_ns != all[i].start_ns);
		assert_true(all[i].peak_bytes >= all[i].last_rss_bytes);
	}
}

static void test_run__procs_peak_and_exit(void **state)
{
	struct run_procs *p = run_procs__new();
	struct run_sample s;
	struct run_figures f = {};
	size_t n;
	const struct run_proc *all;

	assert_non_null(p);
	s = sample(10, 1, 5 * MIB, 5 * MIB, false);
	assert_int_equal(run_procs__update(p, &s), 0);
	check_procs(p);
	/* the kernel's peak is higher than anything we polled */
	s = sample(10, 1, 2 * MIB, 200 * MIB, false);
	assert_int_equal(run_procs__update(p, &s), 0);
	check_procs(p);
	/* a short-lived child seen only once, already exited */
	s = sample(11, 2, 0, 50 * MIB, true);
	assert_int_equal(run_procs__update(p, &s), 0);
	check_procs(p);
	assert_null(run_procs__find(p, 11));
	/* a lower peak later never lowers the record */
	s = sample(10, 1, 1 * MIB, 1 * MIB, false);
	assert_int_equal(run_procs__update(p, &s), 0);
	check_procs(p);

	all = run_procs__all(p, &n);
	assert_int_equal(n, 2);
	assert_true(all[0].peak_bytes == 200 * MIB);
	assert_true(all[0].last_rss_bytes == 1 * MIB);
	assert_true(all[1].exited);
	run_figures_from_procs(p, &f);
	assert_true(f.proc_peak_bytes == 200 * MIB);
	assert_int_equal(f.proc_peak_pid, 10);
	assert_int_equal(f.nr_procs, 2);
	run_procs__free(p);
}

static void test_run__procs_pid_reuse(void **state)
{
	struct run_procs *p = run_procs__new();
	struct run_sample s;
	size_t n;
	const struct run_proc *all;

	s = sample(10, 1, 300 * MIB, 300 * MIB, false);
	assert_int_equal(run_procs__update(p, &s), 0);
	/* same PID, another start time: another process, the first is over */
	s = sample(10, 2, 1 * MIB, 1 * MIB, false);
	assert_int_equal(run_procs__update(p, &s), 0);
	check_procs(p);
	all = run_procs__all(p, &n);
	assert_int_equal(n, 2);
	assert_true(all[0].exited);
	assert_true(all[0].peak_bytes == 300 * MIB);
	assert_true(all[1].peak_bytes == 1 * MIB);
	assert_ptr_equal(run_procs__find(p, 10), &all[1]);
	run_procs__free(p);
}

static void test_run__procs_many(void **state)
{
	struct run_procs *p = run_procs__new();

	/* enough to move the array several times */
	for (uint32_t pid = 1; pid <= 5000; pid++) {
		struct run_sample s = sample(pid, pid, pid, pid, pid % 3 == 0);

		assert_int_equal(run_procs__update(p, &s), 0);
	}
	check_procs(p);
	assert_non_null(run_procs__find(p, 4999));
	assert_int_equal(run_procs__find(p, 4999)->peak_bytes, 4999);
	assert_null(run_procs__find(p, 4998)); /* 4998 % 3 == 0: exited */
	run_procs__free(p);
}

static void test_run__timeline_keeps_span_and_peaks(void **state)
{
	struct run_timeline *tl = run_timeline__new(8);
	const struct run_point *pts;
	uint64_t max_peak = 0;
	size_t n;

	assert_non_null(tl);
	for (uint64_t i = 1; i <= 100; i++) {
		struct run_point pt = { .t_ns = i,
					.tree_bytes = i == 37 ? 1000 : i,
					.tree_max_bytes = i == 37 ? 1000 : i };

		assert_int_equal(run_timeline__add(tl, &pt), 0);
		pts = run_timeline__points(tl, &n);
		assert_true(n >= 1 && n <= 8);
		for (size_t j = 1; j < n; j++)
			assert_true(pts[j].t_ns > pts[j - 1].t_ns);
		assert_int_equal(pts[n - 1].t_ns, i); /* the last poll is always there */
	}
	pts = run_timeline__points(tl, &n);
	for (size_t j = 0; j < n; j++)
		if (pts[j].tree_max_bytes > max_peak)
			max_peak = pts[j].tree_max_bytes;
	assert_int_equal(max_peak, 1000); /* merging never loses the spike */
	assert_true(run_timeline__stride(tl) >= 8);
	run_timeline__free(tl);
}

static void test_run__timeline_small_runs_unmerged(void **state)
{
	struct run_timeline *tl = run_timeline__new(4096);
	size_t n;

	for (uint64_t i = 0; i < 10; i++) {
		struct run_point pt = { .t_ns = i * 100, .tree_bytes = i };

		assert_int_equal(run_timeline__add(tl, &pt), 0);
	}
	run_timeline__points(tl, &n);
	assert_int_equal(n, 10);
	assert_int_equal(run_timeline__stride(tl), 1);
	run_timeline__free(tl);
	assert_null(run_timeline__new(1));
}

static bool has_pid(const struct run_sample *s, size_t n, pid_t pid, bool exited)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].pid == (uint32_t)pid && s[i].exited == exited)
			return true;
	return false;
}

/* A child that forks a grandchild: both found by parent links, an exit reported once. */
static void test_run__procfs_follows_the_tree(void **state)
{
	int fds[2];
	pid_t child, grandchild;
	struct run_procfs *pf;
	const struct run_sample *s;
	size_t n;
	uint64_t tree;

	assert_int_equal(pipe(fds), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pid_t g = fork();

		if (g == 0) {
			pause();
			_exit(0);
		}
		(void)!write(fds[1], &g, sizeof(g));
		pause();
		_exit(0);
	}
	assert_int_equal(read(fds[0], &grandchild, sizeof(grandchild)), sizeof(grandchild));
	pf = run_procfs__new(child);
	assert_non_null(pf);

	assert_int_equal(run_procfs__poll(pf, &s, &n, &tree), 0);
	assert_true(has_pid(s, n, child, false));
	assert_true(has_pid(s, n, grandchild, false));
	assert_int_equal(n, 2);
	assert_true(tree > 0);

	kill(grandchild, SIGKILL);
	/* a zombie still has a /proc entry but no memory: wait until it is reaped by child */
	for (int i = 0; i < 200; i++) {
		assert_int_equal(run_procfs__poll(pf, &s, &n, &tree), 0);
		if (has_pid(s, n, grandchild, true))
			break;
		usleep(5000);
	}
	assert_true(has_pid(s, n, grandchild, true));
	assert_true(has_pid(s, n, child, false));
	assert_int_equal(run_procfs__poll(pf, &s, &n, &tree), 0);
	assert_false(has_pid(s, n, grandchild, true)); /* reported once */
	assert_int_equal(n, 1);

	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	run_procfs__free(pf);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run__exit_status_passes_the_commands),
		cmocka_unit_test(test_run__exit_status_signal_is_128_plus),
		cmocka_unit_test(test_run__exit_status_over_budget),
		cmocka_unit_test(test_run__judge_under_and_over),
		cmocka_unit_test(test_run__judge_limit_is_inclusive),
		cmocka_unit_test(test_run__judge_growth_and_shrink),
		cmocka_unit_test(test_run__judge_pss_unmeasured),
		cmocka_unit_test(test_run__judge_no_budget),
		cmocka_unit_test(test_run__budget_names),
		cmocka_unit_test(test_run__procs_peak_and_exit),
		cmocka_unit_test(test_run__procs_pid_reuse),
		cmocka_unit_test(test_run__procs_many),
		cmocka_unit_test(test_run__timeline_keeps_span_and_peaks),
		cmocka_unit_test(test_run__timeline_small_runs_unmerged),
		cmocka_unit_test(test_run__procfs_follows_the_tree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
