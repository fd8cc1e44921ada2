// SPDX-License-Identifier: GPL-2.0
/*
 * bpf/stacks.bpf.c against tests/workloads/growth, whose growth is known:
 * 80 MiB of 4 KiB anon faults (64 + 16), mmaps of 64, 16 and 32 MiB. The
 * skeleton is restricted to the workload's pid; every counter is compared
 * with both values in the message, nothing may be dropped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "stacks.h"
#include "stacks.skel.h"

#define MIB (1024ULL * 1024)

struct totals {
	int64_t fault_bytes[MT_CLASS_NR];
	uint64_t fault_count;
	int has_mmap_32;
	int has_mmap_64;
	uint64_t keys;
	uint64_t keys_with_words;
	uint64_t lost_stacks;
};

static void sum_agg(struct stacks_bpf *skel, uint32_t pid, struct totals *t)
{
	int fd = bpf_map__fd(skel->maps.agg);
	struct mt_stack_key key, next;
	struct mt_stack_val val;
	void *prev = NULL;

	memset(t, 0, sizeof(*t));
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (key.tgid != pid || bpf_map_lookup_elem(fd, &key, &val))
			continue;
		t->keys++;
		t->keys_with_words += val.leaf_nr > 0; /* partial near the stack top */
		t->lost_stacks += MT_STACK_IS_ERR(key.stack);
		if (key.event == MT_EV_FAULT) {
			t->fault_bytes[key.class] += val.bytes;
			t->fault_count += val.count;
		} else if (key.event == MT_EV_MMAP) {
			t->has_mmap_32 |= val.bytes == (int64_t)(32 * MIB);
			t->has_mmap_64 |= val.bytes == (int64_t)(64 * MIB);
		}
	}
}

static uint64_t counter(struct stacks_bpf *skel, uint32_t which)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals = calloc(ncpu, sizeof(*vals)), sum = 0;

	assert_non_null(vals);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.stcnt), &which, vals), 0);
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	free(vals);
	return sum;
}

static struct stacks_bpf *load(uint32_t sample_every)
{
	struct stacks_bpf *skel = stacks_bpf__open();
	struct bpf_program *prog;

	assert_non_null(skel);
	skel->rodata->sample_every = sample_every;
	skel->rodata->nr_mmap = SYS_mmap;
	skel->rodata->nr_brk = SYS_brk;
	skel->rodata->nr_munmap = SYS_munmap;
	skel->rodata->nr_mremap = SYS_mremap;
	for (prog = bpf_object__next_program(skel->obj, NULL); prog;
	     prog = bpf_object__next_program(skel->obj, prog))
		if (strncmp(bpf_program__section_name(prog), "uprobe", 6) == 0 ||
		    strncmp(bpf_program__section_name(prog), "uretprobe", 9) == 0)
			bpf_program__set_autoload(prog, false);
	assert_int_equal(stacks_bpf__load(skel), 0);
	skel->links.stk_fault = bpf_program__attach(skel->progs.stk_fault);
	skel->links.stk_sys_enter = bpf_program__attach(skel->progs.stk_sys_enter);
	skel->links.stk_sys_exit = bpf_program__attach(skel->progs.stk_sys_exit);
	skel->links.stk_exit = bpf_program__attach(skel->progs.stk_exit);
	assert_non_null(skel->links.stk_fault);
	assert_non_null(skel->links.stk_sys_enter);
	assert_non_null(skel->links.stk_sys_exit);
	assert_non_null(skel->links.stk_exit);
	return skel;
}

/* Runs growth --pause traced by skel; returns its pid once it has exited. */
static pid_t run_growth(struct stacks_bpf *skel)
{
	const char *dir = getenv("WORKLOADS");
	char path[512];
	struct mt_tracked t = {};
	int fds[2], status;
	uint32_t key;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/growth", dir ? dir : "build/tests/workloads");
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[0], STDIN_FILENO);
		close(fds[1]);
		if (!freopen("/dev/null", "w", stdout))
			_exit(126);
		execl(path, path, "--pause", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	key = pid;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.tracked), &key, &t, BPF_ANY),
			 0);
	assert_int_equal(write(fds[1], "g", 1), 1);
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("growth failed (status 0x%x): is %s built?", status, path);
	return pid;
}

static void test_record__every_fault(void **state)
{
	struct stacks_bpf *skel = load(1);
	pid_t pid = run_growth(skel);
	uint64_t drops = 0;
	struct totals t;

	sum_agg(skel, pid, &t);
	/* 64 + 16 MiB touched by the workload, plus the loader's and libc's own pages */
	if (t.fault_bytes[MT_CLASS_ANON] < (int64_t)(80 * MIB) ||
	    t.fault_bytes[MT_CLASS_ANON] > (int64_t)(82 * MIB))
		fail_msg("anon fault bytes %lld, expected 80 MiB (%llu) + at most 2 MiB",
			 (long long)t.fault_bytes[MT_CLASS_ANON], 80 * MIB);
	if (t.fault_count < 20480)
		fail_msg("fault events %llu, expected at least 20480",
			 (unsigned long long)t.fault_count);
	if (!t.has_mmap_32 || !t.has_mmap_64)
		fail_msg("mmap keys of 32 MiB (%d) and 64 MiB (%d) expected", t.has_mmap_32,
			 t.has_mmap_64);
	/* a fault on the stack page itself leaves nothing readable at sp: a few keys at most */
	if (t.keys_with_words + 3 < t.keys)
		fail_msg("%llu of %llu keys have their leaf words",
			 (unsigned long long)t.keys_with_words, (unsigned long long)t.keys);
	for (uint32_t c = MT_SC_STACK_COLLISION; c <= MT_SC_TRACKED_FULL; c++)
		if (c != MT_SC_STACK_ERR)
			drops += counter(skel, c);
	/* stacks are keyed by a 64-bit hash: no collisions, nothing full */
	if (drops)
		fail_msg("drops %llu: expected 0", (unsigned long long)drops);
	/*
	 * The first fault after exec can come before the user stack is
	 * walkable (-EFAULT): its weight is kept under a key without a stack,
	 * counted in MT_SC_STACK_ERR; a couple at most.
	 */
	if (counter(skel, MT_SC_STACK_ERR) > 2 || t.lost_stacks > 4)
		fail_msg("keys without a stack %llu, stack errors %llu: expected at most 4 and 2",
			 (unsigned long long)t.lost_stacks,
			 (unsigned long long)counter(skel, MT_SC_STACK_ERR));
	/* the exit program untracked the process */
	{
		uint32_t key = pid;
		struct mt_tracked v;

		assert_int_not_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.tracked), &key, &v),
				     0);
	}
	stacks_bpf__destroy(skel);
}

static void test_record__sampled_weights_scale(void **state)
{
	struct stacks_bpf *skel = load(64);
	pid_t pid = run_growth(skel);
	uint64_t events = counter(skel, MT_SC_EVENTS), sampled = counter(skel, MT_SC_SAMPLED);
	struct totals t;

	sum_agg(skel, pid, &t);
	/* per-CPU phase: each CPU's first event is taken, so allow a few pages of slack */
	if (t.fault_bytes[MT_CLASS_ANON] < (int64_t)(76 * MIB) ||
	    t.fault_bytes[MT_CLASS_ANON] > (int64_t)(86 * MIB))
		fail_msg("sampled anon fault bytes %lld, expected about 80 MiB (%llu)",
			 (long long)t.fault_bytes[MT_CLASS_ANON], 80 * MIB);
	if (sampled * 32 > events)
		fail_msg("%llu stacks taken for %llu events at --sample 64",
			 (unsigned long long)sampled, (unsigned long long)events);
	stacks_bpf__destroy(skel);
}

static int count_note(void *ctx, void *data, size_t len)
{
	const struct mt_note *n = data;
	int *seen = ctx;

	if (len >= sizeof(*n) && n->type <= MT_NOTE_EXIT)
		seen[n->type]++;
	return 0;
}

/*
 * -- CMD follows children: a shell that runs growth is one traced tgid,
 * growth (a fork of it) another, whose exec bumps its generation; the
 * notes say fork, exec, new executable mappings and exit.
 */
static void test_record__follows_fork_and_exec(void **state)
{
	struct stacks_bpf *skel = stacks_bpf__open();
	int agg_fd, seen[MT_NOTE_EXIT + 1] = {}, status;
	const char *dir = getenv("WORKLOADS");
	struct mt_stack_key key, next;
	struct ring_buffer *rb;
	struct mt_tracked t = {};
	struct bpf_program *prog;
	int64_t child_gen1 = 0;
	void *prev = NULL;
	char cmd[600];
	uint32_t pid;
	pid_t sh;

	assert_non_null(skel);
	skel->rodata->follow_forks = 1;
	skel->rodata->nr_mmap = SYS_mmap;
	skel->rodata->nr_brk = SYS_brk;
	for (prog = bpf_object__next_program(skel->obj, NULL); prog;
	     prog = bpf_object__next_program(skel->obj, prog))
		if (strncmp(bpf_program__section_name(prog), "tp_btf", 6) != 0)
			bpf_program__set_autoload(prog, false);
	assert_int_equal(stacks_bpf__load(skel), 0);
	assert_int_equal(stacks_bpf__attach(skel), 0);
	rb = ring_buffer__new(bpf_map__fd(skel->maps.notes), count_note, seen, NULL);
	assert_non_null(rb);

	snprintf(cmd, sizeof(cmd), "%s/growth >/dev/null; exit 0",
		 dir ? dir : "build/tests/workloads");
	sh = fork();
	assert_true(sh >= 0);
	if (sh == 0) {
		raise(SIGSTOP); /* until the parent tracks us */
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(sh, &status, WUNTRACED), sh);
	pid = sh;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.tracked), &pid, &t, BPF_ANY),
			 0);
	kill(sh, SIGCONT);
	assert_int_equal(waitpid(sh, &status, 0), sh);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ring_buffer__consume(rb);

	/* growth's 80 MiB of faults land on a tgid other than the shell's, at generation 1 */
	agg_fd = bpf_map__fd(skel->maps.agg);
	while (!bpf_map_get_next_key(agg_fd, prev, &next)) {
		struct mt_stack_val val;

		key = next;
		prev = &key;
		if (key.tgid != pid && key.gen == 1 && key.event == MT_EV_FAULT &&
		    !bpf_map_lookup_elem(agg_fd, &key, &val))
			child_gen1 += val.bytes;
	}
	if (child_gen1 < (int64_t)(80 * MIB))
		fail_msg("child fault bytes at generation 1: %lld, expected at least 80 MiB",
			 (long long)child_gen1);
	if (seen[MT_NOTE_FORK] < 1 || seen[MT_NOTE_EXEC] < 2 || seen[MT_NOTE_MAPS] < 1 ||
	    seen[MT_NOTE_EXIT] < 2)
		fail_msg("notes fork %d, exec %d, maps %d, exit %d: expected >= 1, 2, 1, 2",
			 seen[MT_NOTE_FORK], seen[MT_NOTE_EXEC], seen[MT_NOTE_MAPS],
			 seen[MT_NOTE_EXIT]);
	ring_buffer__free(rb);
	stacks_bpf__destroy(skel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_record__every_fault),
	    cmocka_unit_test(test_record__sampled_weights_scale),
	    cmocka_unit_test(test_record__follows_fork_and_exec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
