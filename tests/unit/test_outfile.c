// SPDX-License-Identifier: GPL-2.0
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "outfile.h"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/mt-outfile.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *in_dir(const char *name)
{
	static char path[2][PATH_MAX];
	static int i;

	i ^= 1;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

/* entries of dir other than . and .. (a leftover temporary file shows here) */
static int count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_outfile__commit_creates(void **state)
{
	const char *path = in_dir("out.txt");
	struct outfile_opts o = { .mode = OUTFILE_MODE_PRIVATE };
	struct outfile *f = outfile__open(path, &o);
	struct stat st;

	assert_non_null(f);
	assert_false(outfile__is_stdout(f));
	/* before commit the target does not exist, only the temporary file */
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count_entries(), 1);
	fputs("hello\n", outfile__file(f));
	assert_int_equal(outfile__commit(f), 0);
	assert_string_equal(slurp(path), "hello\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_entries(), 1);
}

static void test_outfile__default_mode_follows_umask(void **state)
{
	const char *path = in_dir("umask.txt");
	mode_t old = umask(027);
	struct outfile *f = outfile__open(path, NULL);
	struct stat st;

	umask(old);
	assert_non_null(f);
	assert_int_equal(outfile__commit(f), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
}

static void test_outfile__existing_refused(void **state)
{
	const char *path = in_dir("exists.txt");
	struct outfile_opts o = { 0 };

	write_file(path, "old\n");
	errno = 0;
	assert_null(outfile__open(path, &o));
	assert_int_equal(errno, EEXIST);
	assert_string_equal(slurp(path), "old\n");
	assert_int_equal(count_entries(), 1);

	o.force = true;
	struct outfile *f = outfile__open(path, &o);

	assert_non_null(f);
	fputs("new\n", outfile__file(f));
	assert_int_equal(outfile__commit(f), 0);
	assert_string_equal(slurp(path), "new\n");
	assert_int_equal(count_entries(), 1);
}

/* a target created between open and commit is still not overwritten */
static void test_outfile__race_at_commit_refused(void **state)
{
	const char *path = in_dir("race.txt");
	struct outfile *f = outfile__open(path, NULL);

	assert_non_null(f);
	write_file(path, "theirs\n");
	fputs("ours\n", outfile__file(f));
	assert_int_equal(outfile__commit(f), -EEXIST);
	assert_string_equal(slurp(path), "theirs\n");
	assert_int_equal(count_entries(), 1);
}

static void test_outfile__symlink_never_followed(void **state)
{
	char victim[PATH_MAX], link[PATH_MAX];
	struct outfile_opts o = { 0 };
	struct outfile *f;
	struct stat st;

	strcpy(victim, in_dir("victim"));
	strcpy(link, in_dir("link"));
	write_file(victim, "secret\n");
	assert_int_equal(symlink(victim, link), 0);
	errno = 0;
	assert_null(outfile__open(link, &o));
	assert_int_equal(errno, EEXIST);

	/* dangling symlink: refused too, and its target is not created */
	assert_int_equal(symlink(in_dir("nowhere"), in_dir("dangling")), 0);
	assert_null(outfile__open(in_dir("dangling"), &o));
	assert_int_equal(access(in_dir("nowhere"), F_OK), -1);

	/* with force the link itself is replaced, its target untouched */
	o.force = true;
	f = outfile__open(link, &o);
	assert_non_null(f);
	fputs("report\n", outfile__file(f));
	assert_int_equal(outfile__commit(f), 0);
	assert_string_equal(slurp(victim), "secret\n");
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(slurp(link), "report\n");
}

static void test_outfile__abort_removes_temp(void **state)
{
	const char *path = in_dir("aborted");
	struct outfile *f = outfile__open(path, NULL);

	assert_non_null(f);
	fputs("partial", outfile__file(f));
	outfile__abort(f);
	outfile__abort(NULL);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count_entries(), 0);
}

static void test_outfile__bad_targets(void **state)
{
	struct outfile_opts o = { .force = true };

	errno = 0;
	assert_null(outfile__open(dir, &o));
	assert_int_equal(errno, EISDIR);
	assert_null(outfile__open(in_dir(""), &o));
	assert_int_equal(errno, EISDIR);
	assert_null(outfile__open(in_dir("no/such/dir"), &o));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_entries(), 0);
}

/* a write error (here: a full device) fails the commit and leaves nothing */
static void test_outfile__write_error_fails_commit(void **state)
{
	struct outfile *f;
	char big[8192];

	if (access("/dev/full", W_OK))
		skip();
	f = outfile__open(in_dir("full"), NULL);
	assert_non_null(f);
	/* swap the stream's descriptor for /dev/full: every write gets ENOSPC */
	int full = open("/dev/full", O_WRONLY);

	assert_true(full >= 0);
	assert_int_equal(dup2(full, fileno(outfile__file(f))), fileno(outfile__file(f)));
	close(full);
	memset(big, 'x', sizeof(big));
	fwrite(big, 1, sizeof(big), outfile__file(f));
	assert_true(outfile__commit(f) < 0);
	assert_int_equal(access(in_dir("full"), F_OK), -1);
	assert_int_equal(count_entries(), 0);
}

static void test_outfile__stdout(void **state)
{
	struct outfile *f = outfile__open("-", NULL);

	assert_non_null(f);
	assert_true(outfile__is_stdout(f));
	assert_ptr_equal(outfile__file(f), stdout);
	assert_int_equal(outfile__commit(f), 0);
	assert_int_equal(count_entries(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outfile__commit_creates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outfile__default_mode_follows_umask, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_outfile__existing_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outfile__race_at_commit_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_outfile__symlink_never_followed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_outfile__abort_removes_temp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outfile__bad_targets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outfile__write_error_fails_commit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_outfile__stdout, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
