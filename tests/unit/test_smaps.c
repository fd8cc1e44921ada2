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
#include "smaps.h"

static int parse_fixture(const char *name, struct smaps_rollup *s)
{
	size_t len;
	char *buf = fixture_load(name, &len);
	int err = smaps_rollup__parse(buf, len, s);

	free(buf);
	return err;
}

/* Invariants that hold for every record the kernel writes. */
static void check_invariants(const struct smaps_rollup *s)
{
	assert_true(s->pss <= s->rss);
	assert_true(s->pss_anon + s->pss_file + s->pss_shmem <= s->pss);
	assert_true(smaps_private(s) <= s->pss);
	assert_true(s->shared_clean + s->shared_dirty + smaps_private(s) == s->rss);
	assert_true(s->swap_pss <= s->swap);
	assert_true(s->anon_huge <= s->anonymous);
}

static void test_smaps__rollup_real(void **state)
{
	struct smaps_rollup s;

	/* numbers straight from tests/fixtures/smaps_rollup_cat.txt, x1024 */
	assert_int_equal(parse_fixture("smaps_rollup_cat.txt", &s), 0);
	assert_true(s.rss == 1612 * 1024ULL);
	assert_true(s.pss == 530 * 1024ULL);
	assert_true(s.pss_anon == 112 * 1024ULL);
	assert_true(s.pss_file == 418 * 1024ULL);
	assert_true(s.pss_shmem == 0);
	assert_true(s.private_dirty == 112 * 1024ULL);
	assert_true(s.vm_start == 0x56421ef19000ULL);
	assert_true(s.vm_end == 0x7fffb867e000ULL);
	assert_int_equal(s.present, SMAPS_HAS_RSS | SMAPS_HAS_PSS | SMAPS_HAS_SWAP |
					SMAPS_HAS_SWAP_PSS | SMAPS_HAS_HUGETLB |
					SMAPS_HAS_PSS_SPLIT);
	check_invariants(&s);

	assert_int_equal(parse_fixture("smaps_rollup_bash.txt", &s), 0);
	check_invariants(&s);
}

static void test_smaps__rollup_hugetlb_thp(void **state)
{
	struct smaps_rollup s;

	assert_int_equal(parse_fixture("smaps_rollup_hugetlb_thp.txt", &s), 0);
	assert_true(s.private_hugetlb == 4096 * 1024ULL);
	assert_true(s.shared_hugetlb == 0);
	assert_true(s.anon_huge == 8192 * 1024ULL);
	/* hugetlb is outside rss: 1 MiB anon + 8 MiB THP + program, not + 4 MiB */
	assert_true(s.rss == 10776 * 1024ULL);
	assert_true(s.pss == 9638 * 1024ULL);
	check_invariants(&s);
}

static void test_smaps__full_smaps_sums_records(void **state)
{
	struct smaps_rollup full, rollup;

	/* both captured from the same process a moment apart */
	assert_int_equal(parse_fixture("smaps_hugetlb_thp_full.txt", &full), 0);
	assert_int_equal(parse_fixture("smaps_rollup_hugetlb_thp.txt", &rollup), 0);
	assert_true(full.rss == rollup.rss);
	assert_true(full.anonymous == rollup.anonymous);
	assert_true(full.anon_huge == rollup.anon_huge);
	assert_true(full.private_hugetlb == rollup.private_hugetlb);
	assert_true(full.private_dirty == rollup.private_dirty);
	/* smaps rounds Pss down to kB per mapping, the rollup once */
	assert_true(full.pss <= rollup.pss + 64 * 1024);
	assert_true(full.vm_start == rollup.vm_start);
	assert_true(full.vm_end == rollup.vm_end);
	check_invariants(&full);

	assert_int_equal(parse_fixture("smaps_cat_full.txt", &full), 0);
	check_invariants(&full);
	assert_true(full.rss > 0);
}

static void test_smaps__truncated(void **state)
{
	struct smaps_rollup s;

	/* cut mid-line after Pss: the complete lines count, the stub is ignored */
	assert_int_equal(parse_fixture("smaps_rollup_truncated_midline.txt", &s), 0);
	assert_true(s.rss == 1612 * 1024ULL);
	assert_true(s.pss == 530 * 1024ULL);
	assert_true(s.shared_clean == 0);
	assert_int_equal(parse_fixture("smaps_rollup_truncated_before_pss.txt", &s), -EINVAL);
}

static void test_smaps__malformed(void **state)
{
	struct smaps_rollup s;
	static const char no_space[] = "Rss:1720kB\nPss: 3 kB\n";
	static const char tab[] = "Rss:\t1720 kB\nPss: 3 kB\n";
	static const char mb[] = "Rss: 1720 MB\nPss: 3 kB\n";
	static const char unknown_ok[] =
	    "Rss: 8 kB\nPss: 4 kB\nVmFlags: rd wr mr\nTHPeligible: 0\n";

	assert_int_equal(parse_fixture("smaps_rollup_malformed_value.txt", &s), -EINVAL);
	assert_int_equal(parse_fixture("smaps_rollup_missing_kb.txt", &s), -EINVAL);
	assert_int_equal(smaps_rollup__parse(no_space, sizeof(no_space) - 1, &s), -EINVAL);
	assert_int_equal(smaps_rollup__parse(tab, sizeof(tab) - 1, &s), -EINVAL);
	assert_int_equal(smaps_rollup__parse(mb, sizeof(mb) - 1, &s), -EINVAL);
	assert_int_equal(smaps_rollup__parse(unknown_ok, sizeof(unknown_ok) - 1, &s), 0);
	assert_true(s.rss == 8192 && s.pss == 4096);
}

static void test_smaps__empty(void **state)
{
	struct smaps_rollup s;

	assert_int_equal(parse_fixture("empty.txt", &s), -EINVAL);
	assert_int_equal(smaps_rollup__parse("", 0, &s), -EINVAL);
}

static void test_smaps__huge_values(void **state)
{
	struct smaps_rollup s;

	/* 2^54 - 1 kB is the largest that fits in bytes: 2^64 - 1024 */
	assert_int_equal(parse_fixture("smaps_rollup_huge.txt", &s), 0);
	assert_true(s.rss == UINT64_MAX - 1023);
	assert_int_equal(parse_fixture("smaps_rollup_overflow.txt", &s), -ERANGE);
	/* each record fits, their sum does not: rejected, not wrapped */
	assert_int_equal(parse_fixture("smaps_sum_overflow.txt", &s), -ERANGE);
}

static void test_smaps__reader_self(void **state)
{
	struct smaps_reader *r = smaps_reader__new();
	struct smaps_rollup s;
	char *big = malloc(8 << 20);

	assert_non_null(r);
	assert_non_null(big);
	memset(big, 1, 8 << 20);
	assert_int_equal(smaps_reader__read(r, getpid(), &s), 0);
	assert_true(s.anonymous >= 8ULL << 20);
	assert_true(s.private_dirty >= 8ULL << 20);
	check_invariants(&s);
	/* the reader is reused: a second read must see the same process */
	assert_int_equal(smaps_reader__read(r, getpid(), &s), 0);
	assert_true(s.anonymous >= 8ULL << 20);
	free(big);
	smaps_reader__free(r);
	smaps_reader__free(NULL);
}

static void test_smaps__reader_errors(void **state)
{
	struct smaps_reader *r = smaps_reader__new();
	struct smaps_rollup s;
	int err;

	assert_non_null(r);
	/* PID_MAX_LIMIT is 2^22: this PID cannot exist */
	assert_int_equal(smaps_reader__read(r, 1 << 23, &s), -ENOENT);
	/* kthreadd has no mm */
	err = smaps_reader__read(r, 2, &s);
	assert_true(err == -ESRCH || err == -ENODATA || err == -EACCES);
	smaps_reader__free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smaps__rollup_real),
		cmocka_unit_test(test_smaps__rollup_hugetlb_thp),
		cmocka_unit_test(test_smaps__full_smaps_sums_records),
		cmocka_unit_test(test_smaps__truncated),
		cmocka_unit_test(test_smaps__malformed),
		cmocka_unit_test(test_smaps__empty),
		cmocka_unit_test(test_smaps__huge_values),
		cmocka_unit_test(test_smaps__reader_self),
		cmocka_unit_test(test_smaps__reader_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
