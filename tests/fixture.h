/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fixture loading for the unit tests. Tests run from the repository root
 * (tests/run-tests.sh), so fixtures are named relative to tests/fixtures/.
 * The returned buffer is NUL-terminated (not counted in *len) and owned by
 * the caller; a missing fixture fails the test.
 */
#ifndef MEMTRACE_TESTS_FIXTURE_H
#define MEMTRACE_TESTS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

static inline char *fixture_load(const char *name, size_t *len)
{
	char path[256];
	FILE *f;
	char *buf;
	long size;

	snprintf(path, sizeof(path), "tests/fixtures/%s", name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open fixture %s (run from the repository root)\n", path);
		abort();
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)size + 1);
	if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size)
		abort();
	buf[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return buf;
}

#endif /* MEMTRACE_TESTS_FIXTURE_H */
