// SPDX-License-Identifier: GPL-2.0
/*
 * The perf-map reader as root reading what another user planted: every
 * refusal is checked with the file in place, the owner check with a file
 * chowned to nobody (65534). Files live in a private directory, not /tmp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "perfmap.h"
#include "recording.h"
#include "symbolize.h"
#include "untrusted.h"

static char dir[64];
static char path[PATH_MAX];

static int setup(void **state)
{
	strcpy(dir, "/tmp/mt-perfmap.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/perf-1234.map", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void put(const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

#define PARSE(lit) perfmap__parse(lit, sizeof(lit) - 1)

static void test_perfmap__parse_and_lookup(void **state)
{
	struct perfmap *m = PARSE("7f0000001000 100 jitted_function\n"
				  "7f0000002000 40 other one\n"
				  "0x7f0000003000 0x10 with_prefix\r\n");
	uint64_t off = 0;

	assert_non_null(m);
	assert_int_equal(perfmap__count(m), 3);
	assert_int_equal(perfmap__skipped(m), 0);
	assert_string_equal(perfmap__lookup(m, 0x7f0000001010, &off), "jitted_function");
	assert_int_equal(off, 0x10);
	assert_string_equal(perfmap__lookup(m, 0x7f0000002000, &off), "other one");
	assert_int_equal(off, 0);
	assert_string_equal(perfmap__lookup(m, 0x7f000000300f, &off), "with_prefix");
	assert_null(perfmap__lookup(m, 0x7f0000002040, &off)); /* one past the end */
	assert_null(perfmap__lookup(m, 0x7f0000000fff, &off));
	assert_null(perfmap__lookup(NULL, 1, &off));
	perfmap__free(m);
	perfmap__free(NULL);
}

static void test_perfmap__malformed_skipped(void **state)
{
	static char line[PERFMAP_MAX_LINE + 64];
	struct perfmap *m;
	uint64_t off;

	m = PARSE("zz 10 bad_hex\n"
		  "1000 10\n" /* no name */
		  "1000 0 empty_range\n"
		  "ffffffffffffff00 1000 wraps\n"
		  "11111111111111111 10 over_64_bits\n"
		  "\n" /* blank lines are not counted */
		  "2000 10 good\n"
		  "3000 10 no_newline_at_end");
	assert_non_null(m);
	assert_int_equal(perfmap__count(m), 2);
	assert_int_equal(perfmap__skipped(m), 5);
	assert_string_equal(perfmap__lookup(m, 0x3001, &off), "no_newline_at_end");
	perfmap__free(m);

	/* an over-long line is skipped whole, the next line still parses */
	memcpy(line, "4000 10 ", 8);
	memset(line + 8, 'a', PERFMAP_MAX_LINE);
	strcpy(line + 8 + PERFMAP_MAX_LINE, "\n5000 10 after\n");
	m = perfmap__parse(line, strlen(line));
	assert_int_equal(perfmap__count(m), 1);
	assert_int_equal(perfmap__skipped(m), 1);
	assert_string_equal(perfmap__lookup(m, 0x5000, &off), "after");
	perfmap__free(m);
}

static void test_perfmap__names_sanitized(void **state)
{
	struct perfmap *m = PARSE("1000 10 \x1b]0;pwned\x07\x1b[2J\n2000 10 caf\xC3\xA9\xFF\n");
	uint64_t off;

	assert_string_equal(perfmap__lookup(m, 0x1000, &off), "\\x1b]0;pwned\\x07\\x1b[2J");
	assert_string_equal(perfmap__lookup(m, 0x2000, &off), "caf\xC3\xA9\\xff");
	perfmap__free(m);
}

static void test_perfmap__overlap_later_wins(void **state)
{
	struct perfmap *m = PARSE("1000 100 old\n1000 100 recompiled\n1040 10 inner\n");
	uint64_t off;

	assert_string_equal(perfmap__lookup(m, 0x1010, &off), "recompiled");
	assert_string_equal(perfmap__lookup(m, 0x1044, &off), "inner");
	perfmap__free(m);
}

static void test_perfmap__load_regular(void **state)
{
	struct perfmap *m;
	uint64_t off;

	put("1000 10 f\n");
	m = perfmap__load(path, UNTRUSTED_UID_UNKNOWN); /* root's file: accepted */
	assert_non_null(m);
	assert_string_equal(perfmap__lookup(m, 0x1000, &off), "f");
	perfmap__free(m);
	errno = 0;
	assert_null(perfmap__load("/nonexistent/perf-1.map", 0));
	assert_int_equal(errno, ENOENT);
}

static void test_perfmap__symlink_refused(void **state)
{
	char secret[PATH_MAX];
	FILE *f;

	/* a root-only file, and the map a symlink to it */
	snprintf(secret, sizeof(secret), "%s/secret", dir);
	f = fopen(secret, "w");
	assert_non_null(f);
	fputs("1000 10 root_password\n", f);
	fclose(f);
	chmod(secret, 0600);
	assert_int_equal(symlink(secret, path), 0);
	errno = 0;
	assert_null(perfmap__load(path, UNTRUSTED_UID_UNKNOWN));
	assert_int_equal(errno, ELOOP);
	assert_string_equal(untrusted_strerror(-ELOOP), "is a symbolic link");
}

static void test_perfmap__fifo_and_devices_refused(void **state)
{
	assert_int_equal(mkfifo(path, 0644), 0);
	errno = 0;
	/* would block forever in open() without O_NONBLOCK */
	assert_null(perfmap__load(path, UNTRUSTED_UID_UNKNOWN));
	assert_int_equal(errno, EINVAL);
	unlink(path);
	errno = 0;
	assert_null(perfmap__load("/dev/zero", UNTRUSTED_UID_UNKNOWN));
	assert_int_equal(errno, EINVAL);
	assert_null(perfmap__load(dir, UNTRUSTED_UID_UNKNOWN));
	assert_int_equal(errno, EINVAL);
}

static void test_perfmap__owner_checked(void **state)
{
	struct perfmap *m;

	if (geteuid() != 0)
		skip(); /* chown to another user needs root */
	put("1000 10 f\n");
	assert_int_equal(chown(path, 65534, 65534), 0);
	errno = 0;
	assert_null(perfmap__load(path, 1000)); /* the process runs as uid 1000 */
	assert_int_equal(errno, EPERM);
	assert_null(perfmap__load(path, UNTRUSTED_UID_UNKNOWN));
	assert_int_equal(errno, EPERM);
	m = perfmap__load(path, 65534); /* nobody's own process */
	assert_non_null(m);
	assert_int_equal(perfmap__count(m), 1);
	perfmap__free(m);
}

static void test_perfmap__size_capped(void **state)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	/* sparse: costs no disk, looks like 64 MiB + 1 to fstat */
	assert_int_equal(ftruncate(fd, PERFMAP_MAX_BYTES + 1), 0);
	close(fd);
	errno = 0;
	assert_null(perfmap__load(path, UNTRUSTED_UID_UNKNOWN));
	assert_int_equal(errno, EFBIG);
}

static void test_perfmap__untrusted_read_cap(void **state)
{
	struct untrusted_opts o = { .owner = UNTRUSTED_UID_UNKNOWN, .max_bytes = 8 };
	char *buf = NULL;
	size_t len = 0;

	put("12345678");
	assert_int_equal(untrusted_read(path, &o, &buf, &len), 0);
	assert_int_equal(len, 8);
	assert_string_equal(buf, "12345678");
	free(buf);
	put("123456789");
	assert_int_equal(untrusted_read(path, &o, &buf, &len), -EFBIG);
	/* a file that says size 0 (as /proc files do) is still read whole, up to the cap */
	o.max_bytes = 0;
	o.any_owner = true;
	assert_int_equal(untrusted_read("/proc/self/status", &o, &buf, &len), 0);
	assert_non_null(strstr(buf, "Name:"));
	assert_int_equal(strlen(buf), len);
	free(buf);
	o.max_bytes = 16;
	assert_int_equal(untrusted_read("/proc/self/status", &o, &buf, &len), -EFBIG);
}

/* the symbolizer's JIT lookup goes through the reader: planted files give nothing */
static void test_perfmap__symbolizer_refuses_planted(void **state)
{
	uint32_t pid = 4100000 + getpid() % 100000; /* no such pid: only root's files pass */
	struct recording *rec = recording__new();
	struct symbolizer *sym = symbolizer__new(rec);
	char jit[64], secret[PATH_MAX];
	struct mt_frame f;
	FILE *sf;

	assert_non_null(sym);
	snprintf(jit, sizeof(jit), "/tmp/perf-%u.map", pid);
	unlink(jit);
	assert_int_equal(mkfifo(jit, 0666), 0);
	alarm(20); /* a hang is a failure, not a stuck suite */
	assert_int_equal(symbolizer__lookup(sym, pid, 0, 0x7f0000001010, false, &f), -ENOENT);
	unlink(jit);
	symbolizer__free(sym);

	snprintf(secret, sizeof(secret), "%s/secret", dir);
	sf = fopen(secret, "w");
	assert_non_null(sf);
	fputs("7f0000001000 100 root_only_line\n", sf);
	fclose(sf);
	assert_int_equal(symlink(secret, jit), 0);
	sym = symbolizer__new(rec);
	assert_int_equal(symbolizer__lookup(sym, pid, 0, 0x7f0000001010, false, &f), -ENOENT);
	assert_true(!f.func || strcmp(f.func, "root_only_line"));
	unlink(jit);
	alarm(0);
	symbolizer__free(sym);
	recording__free(rec);
}

/* /tmp/perf-PID.map naming jit_func at 0x7f0000001000, owned by owner; its path in jit */
static void plant_jit_map(char *jit, size_t len, uint32_t pid, uid_t owner)
{
	FILE *jf;

	snprintf(jit, len, "/tmp/perf-%u.map", pid);
	unlink(jit);
	jf = fopen(jit, "w");
	assert_non_null(jf);
	fputs("7f0000001000 100 jit_func\n", jf);
	fclose(jf);
	assert_int_equal(chown(jit, owner, owner), 0);
}

/* whether a fresh symbolizer of rec names pid's JIT frame jit_func; the symbolizer in *out */
static bool jit_named(const struct recording *rec, uint32_t pid, struct symbolizer **out)
{
	struct symbolizer *sym = symbolizer__new(rec);
	struct mt_frame f;
	bool named;

	assert_non_null(sym);
	named = symbolizer__lookup(sym, pid, 0, 0x7f0000001010, false, &f) == 0 && f.func &&
		!strcmp(f.func, "jit_func");
	*out = sym;
	return named;
}

/* a process gone before report: its map must belong to the user recorded for it */
static void test_perfmap__exited_owner_recorded(void **state)
{
	uint32_t pid = 4200000 + getpid() % 100000; /* no such pid now */
	struct mt_rec_proc proc = { .pid = pid, .comm = "node", .uid = 65534, .has_uid = 1 };
	struct recording *rec = recording__new();
	struct symbolizer *sym;
	const char *note;
	char jit[64];

	if (geteuid())
		skip(); /* chown to another user needs root */
	assert_int_equal(recording__add_proc(rec, &proc), 0);
	/* planted by another user: refused, and said once for the header */
	plant_jit_map(jit, sizeof(jit), pid, 12345);
	assert_false(jit_named(rec, pid, &sym));
	assert_int_equal(symbolizer__jits_refused(sym, &note), 1);
	assert_non_null(strstr(note, jit));
	assert_non_null(strstr(note, "owned by neither"));
	assert_int_equal(symbolizer__jits_unowned(sym), 0);
	symbolizer__free(sym);
	/* the process's own (recorded) user: read, though the process is gone */
	assert_int_equal(chown(jit, 65534, 65534), 0);
	assert_true(jit_named(rec, pid, &sym));
	assert_int_equal(symbolizer__jits_refused(sym, &note), 0);
	symbolizer__free(sym);
	unlink(jit);
	recording__free(rec);
}

/* a process gone before any /proc read has no recorded user: only root's map passes, counted */
static void test_perfmap__exited_owner_unknown(void **state)
{
	uint32_t pid = 4300000 + getpid() % 100000; /* no such pid now */
	struct mt_rec_proc other = { .pid = pid + 1, .comm = "sh", .uid = 0, .has_uid = 1 };
	struct mt_rec_proc proc = { .pid = pid, .comm = "node" }; /* no uid recorded */
	struct recording *rec = recording__new();
	struct symbolizer *sym;
	const char *note;
	char jit[64];

	if (geteuid())
		skip(); /* chown to another user needs root */
	assert_int_equal(recording__add_proc(rec, &other), 0);
	assert_int_equal(recording__add_proc(rec, &proc), 0);
	plant_jit_map(jit, sizeof(jit), pid, 65534);
	assert_false(jit_named(rec, pid, &sym));
	assert_int_equal(symbolizer__jits_unowned(sym), 1);
	assert_int_equal(symbolizer__jits_refused(sym, &note), 0);
	symbolizer__free(sym);
	/* root's map is trusted whoever the process was */
	assert_int_equal(chown(jit, 0, 0), 0);
	assert_true(jit_named(rec, pid, &sym));
	assert_int_equal(symbolizer__jits_unowned(sym), 0);
	symbolizer__free(sym);
	unlink(jit);
	recording__free(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perfmap__parse_and_lookup),
		cmocka_unit_test(test_perfmap__malformed_skipped),
		cmocka_unit_test(test_perfmap__names_sanitized),
		cmocka_unit_test(test_perfmap__overlap_later_wins),
		cmocka_unit_test_setup_teardown(test_perfmap__load_regular, setup, teardown),
		cmocka_unit_test_setup_teardown(test_perfmap__symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_perfmap__fifo_and_devices_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_perfmap__owner_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_perfmap__size_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_perfmap__untrusted_read_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_perfmap__symbolizer_refuses_planted, setup,
						teardown),
		cmocka_unit_test(test_perfmap__exited_owner_recorded),
		cmocka_unit_test(test_perfmap__exited_owner_unknown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
