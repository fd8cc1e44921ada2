// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "units.h"

static void test_units__size_plain(void **state)
{
	uint64_t v;

	assert_int_equal(parse_size("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
}

static void test_units__size_suffixes(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{ "512K", 512ULL << 10 }, { "512M", 512ULL << 20 }, { "2G", 2ULL << 30 },
		{ "1.5GiB", 3ULL << 29 }, { "10MB", 10ULL << 20 },  { "1T", 1ULL << 40 },
		{ "4kB", 4096 },	  { "4kb", 4096 },	    { "7B", 7 },
		{ "0.5k", 512 },	  { "1mib", 1ULL << 20 },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse_size(cases[i].text, &v), 0);
		assert_true(v == cases[i].bytes);
	}
}

static void test_units__size_rejects(void **state)
{
	static const char *const bad[] = {
		"",   "12abc", "-5M",  "+5M", " 5M", "5 M", "5M ", "1.5.5G", "1.",
		".5", "M",     "0x10", "inf", "nan", "1e3", "5MM", "5KiBB",
	};
	uint64_t v = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_size(bad[i], &v), -EINVAL);
	assert_int_equal(parse_size(NULL, &v), -EINVAL);
	assert_true(v == 42); /* untouched on failure */
}

static void test_units__size_overflow(void **state)
{
	uint64_t v = 42;

	assert_int_equal(parse_size("18446744073709551616", &v), -ERANGE);
	assert_int_equal(parse_size("16777216T", &v), -ERANGE); /* 2^64 */
	assert_int_equal(parse_size("17179869184G", &v), -ERANGE);
	assert_int_equal(parse_size("16777216.0T", &v), -ERANGE);
	assert_int_equal(parse_size("99999999999999999999999999P", &v), -ERANGE);
	assert_true(v == 42);
	assert_int_equal(parse_size("16777215T", &v), 0);
	assert_true(v == 16777215ULL << 40);
}

static void test_units__duration(void **state)
{
	static const struct {
		const char *text;
		uint64_t ns;
	} cases[] = {
		{ "500ms", 500000000ULL }, { "2s", 2000000000ULL },    { "1.5s", 1500000000ULL },
		{ "1m", 60000000000ULL },  { "1h", 3600000000000ULL }, { "250us", 250000ULL },
		{ "100ns", 100ULL },	   { "3", 3000000000ULL },     { "0.25", 250000000ULL },
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse_duration(cases[i].text, &v, 0), 0);
		assert_true(v == cases[i].ns);
	}
}

static void test_units__duration_rejects(void **state)
{
	uint64_t v = 7;

	assert_int_equal(parse_duration("banana", &v, 0), -EINVAL);
	assert_int_equal(parse_duration("", &v, 0), -EINVAL);
	assert_int_equal(parse_duration("-1s", &v, 0), -EINVAL);
	assert_int_equal(parse_duration("5sec", &v, 0), -EINVAL);
	assert_int_equal(parse_duration("1.5.5s", &v, 0), -EINVAL);
	assert_int_equal(parse_duration("0", &v, 0), -ERANGE);
	assert_int_equal(parse_duration("0.1ns", &v, 0), -ERANGE);
	assert_int_equal(parse_duration("99999999999h", &v, 0), -ERANGE);
	assert_true(v == 7);
	assert_int_equal(parse_duration("0", &v, 1), 0);
	assert_true(v == 0);
}

static void test_units__pid_list(void **state)
{
	int pids[4];
	size_t n = 99;

	assert_int_equal(parse_pid_list("1234", pids, 4, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], 1234);
	assert_int_equal(parse_pid_list("1,2,3", pids, 4, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pids[2], 3);
	assert_int_equal(parse_pid_list("2147483647", pids, 4, &n), 0);
	assert_int_equal(pids[0], INT_MAX);
}

static void test_units__pid_list_rejects(void **state)
{
	int pids[3];
	size_t n = 99;

	assert_int_equal(parse_pid_list("", pids, 3, &n), -EINVAL);
	assert_int_equal(parse_pid_list("0", pids, 3, &n), -EINVAL);
	assert_int_equal(parse_pid_list("-1", pids, 3, &n), -EINVAL);
	assert_int_equal(parse_pid_list("1,,2", pids, 3, &n), -EINVAL);
	assert_int_equal(parse_pid_list("1,", pids, 3, &n), -EINVAL);
	assert_int_equal(parse_pid_list(",1", pids, 3, &n), -EINVAL);
	assert_int_equal(parse_pid_list("12abc", pids, 3, &n), -EINVAL);
	assert_int_equal(parse_pid_list("1, 2", pids, 3, &n), -EINVAL);
	assert_int_equal(parse_pid_list("5,6,5", pids, 3, &n), -EINVAL);
	assert_int_equal(parse_pid_list("2147483648", pids, 3, &n), -ERANGE);
	assert_int_equal(parse_pid_list("1,2,3,4", pids, 3, &n), -ERANGE);
	assert_int_equal(n, 99);
}

static void test_units__format_size(void **state)
{
	char buf[32];

	assert_string_equal(format_size(buf, sizeof(buf), 0), "0 B");
	assert_string_equal(format_size(buf, sizeof(buf), 512), "512 B");
	assert_string_equal(format_size(buf, sizeof(buf), 1023), "1023 B");
	assert_string_equal(format_size(buf, sizeof(buf), 4096), "4.0 KiB");
	assert_string_equal(format_size(buf, sizeof(buf), 3ULL << 19), "1.5 MiB");
	assert_string_equal(format_size(buf, sizeof(buf), 2ULL << 30), "2.0 GiB");
	assert_string_equal(format_size(buf, sizeof(buf), (1ULL << 20) - 1), "1.0 MiB");
	assert_string_equal(format_size(buf, sizeof(buf), UINT64_MAX), "16.0 EiB");
}

static void test_units__format_size_delta(void **state)
{
	char buf[32];

	assert_string_equal(format_size_delta(buf, sizeof(buf), 0), "0 B");
	assert_string_equal(format_size_delta(buf, sizeof(buf), 4096), "+4.0 KiB");
	assert_string_equal(format_size_delta(buf, sizeof(buf), -(3LL << 19)), "-1.5 MiB");
	assert_string_equal(format_size_delta(buf, sizeof(buf), INT64_MIN), "-8.0 EiB");
}

static void test_units__format_duration(void **state)
{
	char buf[32];

	assert_string_equal(format_duration(buf, sizeof(buf), 1500000000ULL), "1.5s");
	assert_string_equal(format_duration(buf, sizeof(buf), 250000000ULL), "250ms");
	assert_string_equal(format_duration(buf, sizeof(buf), 12000ULL), "12us");
	assert_string_equal(format_duration(buf, sizeof(buf), 7ULL), "7ns");
	assert_string_equal(format_duration(buf, sizeof(buf), 0), "0ns");
	assert_string_equal(format_duration(buf, sizeof(buf), 2000000000ULL), "2s");
}

static void test_units__rates(void **state)
{
	assert_true(rate_per_sec(10, 0) == 0.0);
	assert_true(rate_per_sec(10, 2000000000ULL) == 5.0);
	assert_true(counter_delta(5, 12) == 7);
	assert_true(counter_delta(12, 5) == 0); /* a reset, not a wrap */
	assert_true(counter_delta(0, UINT64_MAX) == UINT64_MAX);
}

static void test_units__parse_uint(void **state)
{
	static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "12abc", "0x10", "1.5" };
	uint64_t v = 7;

	assert_int_equal(parse_uint("42", 1, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_uint("1", 1, 100, &v), 0);
	assert_int_equal(parse_uint("100", 1, 100, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(parse_uint("0", 1, 100, &v), -ERANGE);
	assert_int_equal(parse_uint("101", 1, 100, &v), -ERANGE);
	assert_int_equal(parse_uint("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse_uint(bad[i], 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(v, 100); /* untouched on error */
}

static void test_units__parse_u32(void **state)
{
	uint32_t v = 7;

	assert_int_equal(parse_u32("4194304", 16, 4194304, &v), 0);
	assert_int_equal(v, 4194304);
	assert_int_equal(parse_u32("4294967295", 0, UINT32_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	/* beyond 32 bits: out of range, never cut to the low bits */
	assert_int_equal(parse_u32("4294967296", 0, UINT32_MAX, &v), -ERANGE);
	assert_int_equal(parse_u32("15", 16, 4194304, &v), -ERANGE);
	assert_int_equal(parse_u32("16x", 16, 4194304, &v), -EINVAL);
	assert_int_equal(v, UINT32_MAX); /* untouched on error */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units__size_plain),
		cmocka_unit_test(test_units__size_suffixes),
		cmocka_unit_test(test_units__size_rejects),
		cmocka_unit_test(test_units__size_overflow),
		cmocka_unit_test(test_units__duration),
		cmocka_unit_test(test_units__duration_rejects),
		cmocka_unit_test(test_units__pid_list),
		cmocka_unit_test(test_units__pid_list_rejects),
		cmocka_unit_test(test_units__format_size),
		cmocka_unit_test(test_units__format_size_delta),
		cmocka_unit_test(test_units__format_duration),
		cmocka_unit_test(test_units__rates),
		cmocka_unit_test(test_units__parse_uint),
		cmocka_unit_test(test_units__parse_u32),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
