// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <cmocka.h>
#include "selfpages.h"

#define NPAGES 64

/* the kernel's figures for [addr, addr + len): Rss and Anonymous in kB, from smaps */
static void smaps_of(const void *addr, uint64_t *rss_kb, uint64_t *anon_kb)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool in = false;

	assert_non_null(f);
	*rss_kb = *anon_kb = UINT64_MAX;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		uint64_t kb;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, ' ') > strchr(line, '-'))
			in = (uintptr_t)addr == start;
		else if (in && sscanf(line, "Rss: %" SCNu64, &kb) == 1)
			*rss_kb = kb;
		else if (in && sscanf(line, "Anonymous: %" SCNu64, &kb) == 1)
			*anon_kb = kb;
	}
	fclose(f);
	assert_int_not_equal(*rss_kb, UINT64_MAX);
}

static char path[] = "/tmp/mt-selfpages.XXXXXX";

/*
 * a temporary file of NPAGES pages, page i filled with the byte 'a' + i % 26;
 * kept on disk while mapped: a deleted file's mapping is not released
 */
static int temp_file(size_t page)
{
	char *buf = malloc(page);
	int fd = mkstemp(path);

	assert_true(fd >= 0 && buf);
	for (int i = 0; i < NPAGES; i++) {
		memset(buf, 'a' + i % 26, page);
		assert_int_equal(write(fd, buf, page), (ssize_t)page);
	}
	free(buf);
	return fd;
}

/* reads every page of a mapping of temp_file(), checking the file's contents */
static void touch_all(const volatile char *p, size_t page)
{
	for (int i = 0; i < NPAGES; i++)
		assert_int_equal(p[(size_t)i * page + 7], 'a' + i % 26);
}

/*
 * Read-only file pages leave our RSS and come back with the file's
 * contents; writable mappings and read-only ones holding a private copy
 * (a relocated RELRO page, here a written page made read-only) keep theirs.
 */
static void test_release(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), len = NPAGES * page;
	int fd = temp_file(page);
	char *ro = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	char *rw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	char *relro = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	struct selfpages_stats st;
	uint64_t rss, anon, rss_rw, rss_relro;

	assert_true(ro != MAP_FAILED && rw != MAP_FAILED && relro != MAP_FAILED);
	touch_all(ro, page);
	for (int i = 0; i < NPAGES; i++) {
		rw[(size_t)i * page] = 'X';
		relro[(size_t)i * page] = 'Y';
	}
	assert_int_equal(mprotect(relro, len, PROT_READ), 0);
	smaps_of(ro, &rss, &anon);
	assert_int_equal(rss, len / 1024);
	assert_int_equal(anon, 0);
	smaps_of(relro, &rss_relro, &anon);
	assert_int_equal(anon, len / 1024); /* a private copy in a read-only mapping */

	assert_int_equal(selfpages__release_startup(&st), 0);
	print_message("released %" PRIu64 " mappings (%" PRIu64 " kB), kept %" PRIu64 "\n",
		      st.mappings, st.rss_before_kb, st.skipped);
	assert_true(st.mappings >= 2); /* ours and at least this binary's code */
	assert_true(st.skipped >= 1);  /* relro at least */
	assert_true(st.rss_before_kb >= len / 1024);

	smaps_of(ro, &rss, &anon);
	assert_int_equal(rss, 0); /* the kernel's smaps: gone from our page tables */
	smaps_of(rw, &rss_rw, &anon);
	assert_int_equal(rss_rw, len / 1024);
	assert_int_equal(anon, len / 1024);
	smaps_of(relro, &rss, &anon);
	assert_int_equal(rss, rss_relro);
	/* back from the page cache with the file's contents; the copies kept theirs */
	touch_all(ro, page);
	for (int i = 0; i < NPAGES; i++) {
		assert_int_equal(rw[(size_t)i * page], 'X');
		assert_int_equal(relro[(size_t)i * page], 'Y');
		assert_int_equal(relro[(size_t)i * page + 1], 'a' + i % 26);
	}
	smaps_of(ro, &rss, &anon);
	assert_int_equal(rss, len / 1024);
	munmap(ro, len);
	munmap(rw, len);
	munmap(relro, len);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
