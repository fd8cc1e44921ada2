// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
