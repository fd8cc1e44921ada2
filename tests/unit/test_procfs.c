// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/resource.h>
#include <cmocka.h>
#include "fixture.h"
#include "procfs.h"

static int status_fixture(const char *name, struct proc_status *st)
{
	size_t len;
	char *buf = fixture_load(name, &len);
	int err = proc_status__parse(buf, len, st);

	free(buf);
	return err;
}

static int stat_fixture(const char *name, struct proc_stat *st)
{
	size_t len;
	char *buf = fixture_load(name, &len);
	int err = proc_stat__parse(buf, len, st);

	free(buf);
	return err;
}

static void test_procfs__status_normal(void **state)
{
	struct proc_status st;

	assert_int_equal(status_fixture("status_bash.txt", &st), 0);
	assert_string_equal(st.name, "bash");
	assert_int_equal(st.tgid, 3523);
	assert_int_equal(st.ppid, 3522);
	assert_true(st.vm_rss == 4024 * 1024ULL);
	assert_true(st.vm_hwm == 4024 * 1024ULL);
	assert_true(st.rss_anon == 956 * 1024ULL);
	assert_true(st.rss_file == 3068 * 1024ULL);
	assert_true(st.rss_shmem == 0);
	assert_false(st.kernel_thread);
	assert_int_equal(st.present, STATUS_HAS_RSS | STATUS_HAS_SPLIT | STATUS_HAS_SWAP);
	/* the split adds up to VmRSS */
	assert_true(st.rss_anon + st.rss_file + st.rss_shmem == st.vm_rss);
}

static void test_procfs__status_kernel_thread(void **state)
{
	struct proc_status st;

	assert_int_equal(status_fixture("status_kthreadd.txt", &st), 0);
	assert_string_equal(st.name, "kthreadd");
	assert_int_equal(st.tgid, 2);
	assert_true(st.kernel_thread);
	assert_int_equal(st.present, 0);
}

static void test_procfs__status_odd_names(void **state)
{
	struct proc_status st;

	assert_int_equal(status_fixture("status_paren_name.txt", &st), 0);
	assert_string_equal(st.name, "we ird) (x");
	/* the kernel escapes \n and \\; the raw 0xff byte stays as it is */
	assert_int_equal(status_fixture("status_escaped_name.txt", &st), 0);
	assert_string_equal(st.name, "a\nb\\c\"d\377");
}

static void test_procfs__status_uid_and_errors(void **state)
{
	static const char text[] = "Name:\tx\nTgid:\t7\nUid:\t1000\t1001\t1000\t1000\n"
				   "VmRSS:\t 8 kB\n";
	static const char no_tgid[] = "Name:\tx\nVmRSS:\t 8 kB\n";
	static const char bad_rss[] = "Name:\tx\nTgid:\t7\nVmRSS:\t banana kB\n";
	struct proc_status st;

	assert_int_equal(proc_status__parse(text, sizeof(text) - 1, &st), 0);
	assert_int_equal(st.uid, 1001);
	assert_true(st.vm_rss == 8192);
	assert_int_equal(proc_status__parse(no_tgid, sizeof(no_tgid) - 1, &st), -EINVAL);
	assert_int_equal(proc_status__parse(bad_rss, sizeof(bad_rss) - 1, &st), -EINVAL);
	assert_int_equal(proc_status__parse("", 0, &st), -EINVAL);
}

/* octal escapes need three octal digits; anything else is kept as it is (UBSan: no shift of a
 * negative digit) */
static void test_procfs__status_malformed_octal(void **state)
{
	static const char text[] = "Name:\tq\\1!x\\18y\\101\nTgid:\t7\n";
	struct proc_status st;

	assert_int_equal(proc_status__parse(text, sizeof(text) - 1, &st), 0);
	assert_string_equal(st.name, "q1!x18yA");
}

static void test_procfs__stat_parse(void **state)
{
	struct proc_stat st;

	assert_int_equal(stat_fixture("stat_bash.txt", &st), 0);
	assert_string_equal(st.comm, "bash");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 3522);
	assert_int_equal(st.pgrp, 3523);
	assert_int_equal(st.session, 3523);
	assert_int_equal(st.flags, 4194560);
	assert_true(st.start_ticks == 34105ULL);

	assert_int_equal(stat_fixture("stat_kthreadd.txt", &st), 0);
	assert_string_equal(st.comm, "kthreadd");
	assert_true(st.flags & 0x00200000); /* PF_KTHREAD */
}

static void test_procfs__stat_paren_in_comm(void **state)
{
	struct proc_stat st;
	static const char cut[] = "12 (x) S 1 2 3";

	/* comm "we ird) (x": fields must be counted from the last ')' */
	assert_int_equal(stat_fixture("stat_paren_name.txt", &st), 0);
	assert_string_equal(st.comm, "we ird) (x");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 1);
	assert_true(st.start_ticks == 41585ULL);
	assert_int_equal(stat_fixture("stat_escaped_name.txt", &st), 0);
	assert_string_equal(st.comm, "a\nb\\c\"d\377");
	assert_int_equal(st.pgrp, 5276);
	assert_int_equal(st.session, 3523);
	assert_int_equal(proc_stat__parse(cut, sizeof(cut) - 1, &st), -EINVAL);
	assert_int_equal(proc_stat__parse("", 0, &st), -EINVAL);
}

static void test_procfs__live(void **state)
{
	struct proc_status st;

	assert_true(proc_exists(getpid()));
	assert_false(proc_exists(1 << 23));
	assert_false(proc_exists(0));
	assert_true(proc_is_kernel_thread(2)); /* kthreadd */
	assert_false(proc_is_kernel_thread(getpid()));
	assert_false(proc_is_kernel_thread(1 << 23));
	assert_int_equal(proc_status__read(getpid(), &st), 0);
	assert_int_equal(st.tgid, getpid());
	assert_false(st.kernel_thread);
	assert_int_equal(proc_status__read(1 << 23, &st), -ENOENT);
}

static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/*
 * A batch closes exactly the fds it was given, in runs and around a gap
 * held by someone else, and flushes itself when full.
 */
static void test_procfs__fd_batch(void **state)
{
	struct fd_batch b = { 0 };
	int fds[FD_BATCH_MAX + 3], other;

	for (int i = 0; i < 3; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
	other = open("/dev/null", O_RDONLY | O_CLOEXEC); /* between the runs, not given */
	assert_true(other >= 0);
	for (int i = 3; i < FD_BATCH_MAX + 3; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
	/* out of order: the batch sorts them into runs */
	for (int i = FD_BATCH_MAX + 2; i >= 0; i--) {
		fd_batch__add(&b, fds[i]);
		assert_true(b.n >= 1 && b.n <= FD_BATCH_MAX);
	}
	assert_int_equal(b.n, 3); /* one flush of FD_BATCH_MAX on the way */
	/* the first FD_BATCH_MAX given were closed when the next came; 3 are held */
	for (int i = 0; i < FD_BATCH_MAX + 3; i++)
		assert_true(fd_open(fds[i]) == (i < 3));
	fd_batch__flush(&b);
	assert_int_equal(b.n, 0);
	for (int i = 0; i < FD_BATCH_MAX + 3; i++)
		assert_false(fd_open(fds[i]));
	assert_true(fd_open(other));
	close(other);
	fd_batch__flush(&b); /* empty */
	fd_batch__flush(NULL);
	other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fd_batch__add(NULL, other); /* no batch: closed at once */
	assert_false(fd_open(other));
}

/* With the fd limit reached by the batch's fds, an open flushes them and succeeds. */
static void test_procfs__fd_batch_emfile(void **state)
{
	struct fd_batch b = { 0 };
	struct rlimit old, low;
	char *buf = malloc(64);
	size_t cap = 64;
	int fd, top = -1;

	assert_non_null(buf);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	/* the lowest free fd plus 4: the batch fills what is left */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	low = old;
	low.rlim_cur = (rlim_t)fd + 4;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
		fd_batch__add(&b, fd);
		top = fd;
	}
	assert_int_equal(errno, EMFILE);
	assert_true(b.n >= 1 && top >= 0);
	assert_true(proc_read_record_batch(AT_FDCWD, "/proc/self/comm", &buf, &cap, 4096, &b) > 0);
	assert_string_equal(buf, "test_procfs\n");
	fd = proc_open_batch(AT_FDCWD, "/proc/self/stat", &b);
	assert_true(fd >= 0);
	fd_batch__add(&b, fd);
	fd_batch__flush(&b);
	assert_false(fd_open(top));
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_procfs__status_normal),
		cmocka_unit_test(test_procfs__status_kernel_thread),
		cmocka_unit_test(test_procfs__status_odd_names),
		cmocka_unit_test(test_procfs__status_uid_and_errors),
		cmocka_unit_test(test_procfs__status_malformed_octal),
		cmocka_unit_test(test_procfs__stat_parse),
		cmocka_unit_test(test_procfs__stat_paren_in_comm),
		cmocka_unit_test(test_procfs__live),
		cmocka_unit_test(test_procfs__fd_batch),
		cmocka_unit_test(test_procfs__fd_batch_emfile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
