// SPDX-License-Identifier: GPL-2.0
/*
 * Build-ids as record reads them: never through an explicit dw_dl__open()
 * here, as record never calls it (session 6's dlopen of libdw left every
 * map of a recording without a build-id, and the other-root binaries out of
 * the cache). The reference is binutils' readelf -n.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "buildid.h"

/* This test binary's build-id as readelf prints it, or "" without readelf. */
static void readelf_build_id(char hex[256])
{
	char exe[PATH_MAX], line[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *p;

	hex[0] = '\0';
	if (n <= 0)
		return;
	exe[n] = '\0';
	snprintf(line, sizeof(line), "readelf -n '%s' 2>/dev/null", exe);
	p = popen(line, "r");
	if (!p)
		return;
	while (fgets(line, sizeof(line), p))
		if (sscanf(line, " Build ID: %255[0-9a-f]", hex) == 1)
			break;
	pclose(p);
}

static void to_hex(const uint8_t *id, uint32_t n, char *hex)
{
	for (uint32_t i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", id[i]);
	hex[2 * n] = '\0';
}

static void test_buildid__read_matches_readelf(void **state)
{
	char want[256], got[2 * MT_BUILD_ID_MAX + 1];
	uint8_t id[MT_BUILD_ID_MAX];
	uint32_t n = 0;
	struct stat sb;
	int err;

	readelf_build_id(want);
	if (!want[0])
		skip(); /* no readelf (binutils), or a binary linked without --build-id */
	assert_int_equal(stat("/proc/self/exe", &sb), 0);
	err = buildid__read("/proc/self/exe", sb.st_dev, sb.st_ino, id, &n);
	to_hex(id, err ? 0 : n, got);
	print_message("build-id %s, readelf says %s (err %d)\n", got, want, err);
	assert_int_equal(err, 0);
	assert_string_equal(got, want);
}

static void test_buildid__cache_entry_has_it(void **state)
{
	struct buildid_cache *c = buildid_cache__new();
	char want[256], got[2 * MT_BUILD_ID_MAX + 1];
	const struct buildid_ent *b;
	struct stat sb;

	readelf_build_id(want);
	if (!want[0])
		skip();
	assert_non_null(c);
	assert_int_equal(stat("/proc/self/exe", &sb), 0);
	b = buildid_cache__get(c, "/proc/self/exe", "/proc/self/exe", sb.st_dev, sb.st_ino,
			       BUILDID_OURS);
	assert_non_null(b);
	to_hex(b->id, b->len, got);
	assert_string_equal(got, want);
	assert_null(b->cache_path); /* ours: not copied */
	assert_ptr_equal(buildid_cache__find(c, sb.st_dev, sb.st_ino), b);
	buildid_cache__free(c);
}

static void test_buildid__not_elf_or_not_regular(void **state)
{
	uint8_t id[MT_BUILD_ID_MAX];
	uint32_t n = 0;
	struct stat sb;

	assert_int_equal(stat("/dev/null", &sb), 0);
	assert_int_equal(buildid__read("/dev/null", sb.st_dev, sb.st_ino, id, &n), -ESTALE);
	assert_int_equal(stat("/proc/self/cmdline", &sb), 0);
	assert_true(buildid__read("/proc/self/cmdline", sb.st_dev, sb.st_ino, id, &n) < 0);
	assert_int_equal(buildid__read("/nonexistent/x", 0, 0, id, &n), -ENOENT);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buildid__read_matches_readelf),
		cmocka_unit_test(test_buildid__cache_entry_has_it),
		cmocka_unit_test(test_buildid__not_elf_or_not_regular),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
