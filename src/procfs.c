// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "procfs.h"

#define PF_KTHREAD 0x00200000U /* include/linux/sched.h */

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

void fd_batch__flush(struct fd_batch *b)
{
	unsigned int i, j;

	if (!b || !b->n)
		return;
	qsort(b->fds, b->n, sizeof(b->fds[0]), cmp_int);
	for (i = 0; i < b->n; i = j) {
		for (j = i + 1; j < b->n && b->fds[j] == b->fds[j - 1] + 1; j++)
			;
		if (j - i == 1 ||
		    close_range((unsigned int)b->fds[i], (unsigned int)b->fds[j - 1], 0))
			for (unsigned int k = i; k < j; k++)
				close(b->fds[k]);
	}
	b->n = 0;
}

void fd_batch__add(struct fd_batch *b, int fd)
{
	if (!b) {
		close(fd);
		return;
	}
	if (b->n == FD_BATCH_MAX)
		fd_batch__flush(b);
	b->fds[b->n++] = fd;
}

int proc_open_batch(int dirfd, const char *path, struct fd_batch *b)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno == EMFILE && b && b->n) {
		fd_batch__flush(b);
		fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	}
	return fd;
}

static ssize_t read_file(int dirfd, const char *path, char **buf, size_t *cap, size_t limit,
			 bool record, struct fd_batch *b)
{
	size_t len = 0;
	ssize_t n, ret;
	int fd;

	fd = proc_open_batch(dirfd, path, b);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (len + 1 >= *cap) {
			char *bigger;

			if (!limit)
				break; /* a fixed buffer keeps what fits */
			if (*cap >= limit) {
				ret = -E2BIG;
				goto cleanup;
			}
			bigger = realloc(*buf, *cap * 2);
			if (!bigger) {
				ret = -ENOMEM;
				goto cleanup;
			}
			*buf = bigger;
			*cap *= 2;
		}
		n = read(fd, *buf + len, *cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto cleanup;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (record && (size_t)n < *cap - 1 - (len - (size_t)n))
			break; /* short: the record was all there is */
	}
	(*buf)[len] = '\0';
	ret = (ssize_t)len;
cleanup:
	fd_batch__add(b, fd);
	return ret;
}

ssize_t proc_read_file(const char *path, char **buf, size_t *cap, size_t limit)
{
	return read_file(AT_FDCWD, path, buf, cap, limit, false, NULL);
}

ssize_t proc_read_record(const char *path, char **buf, size_t *cap, size_t limit)
{
	return read_file(AT_FDCWD, path, buf, cap, limit, true, NULL);
}

ssize_t proc_read_record_at(int dirfd, const char *path, char **buf, size_t *cap, size_t limit)
{
	return read_file(dirfd, path, buf, cap, limit, true, NULL);
}

ssize_t proc_read_record_batch(int dirfd, const char *path, char **buf, size_t *cap, size_t limit,
			       struct fd_batch *b)
{
	return read_file(dirfd, path, buf, cap, limit, true, b);
}

int proc_dir_open(void)
{
	int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? AT_FDCWD : fd;
}

void proc_dir_close(int dirfd)
{
	if (dirfd >= 0)
		close(dirfd);
}

void proc_pid_path(char *buf, size_t size, int dirfd, int pid, const char *name)
{
	snprintf(buf, size, "%s%d/%s", dirfd == AT_FDCWD ? "/proc/" : "", pid, name);
}

/* Whole small /proc file (status, stat: one record) into buf; length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	return proc_read_record(path, &buf, &size, 0);
}

/* The kernel writes Name: through seq_escape (ESCAPE_SPACE | ESCAPE_SPECIAL). */
static void unescape_name(const char *p, const char *eol, char *out, size_t outlen)
{
	size_t n = 0;

	while (p < eol && n + 1 < outlen) {
		char c = *p++;

		if (c == '\\' && p < eol) {
			char e = *p++;

			switch (e) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'f':
				c = '\f';
				break;
			case 'v':
				c = '\v';
				break;
			case 'a':
				c = '\a';
				break;
			case 'e':
				c = '\033';
				break;
			case '\\':
				c = '\\';
				break;
			case '"':
				c = '"';
				break;
			default:
				if (e >= '0' && e <= '7' && eol - p >= 2 && p[0] >= '0' &&
				    p[0] <= '7' && p[1] >= '0' && p[1] <= '7') {
					c = (char)(((e - '0') << 6) | ((p[0] - '0') << 3) |
						   (p[1] - '0'));
					p += 2;
				} else {
					c = e;
				}
			}
		}
		out[n++] = c;
	}
	out[n] = '\0';
}

/* Bounded by eol: the buffer need not be NUL-terminated. */
static int parse_u64(const char *p, const char *eol, uint64_t *v)
{
	uint64_t n = 0;

	while (p < eol && (*p == ' ' || *p == '\t'))
		p++;
	if (p == eol || *p < '0' || *p > '9')
		return -EINVAL;
	while (p < eol && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p++ - '0');

		if (n > (UINT64_MAX - d) / 10)
			return -ERANGE;
		n = n * 10 + d;
	}
	*v = n;
	return 0;
}

static int parse_kb_bytes(const char *p, const char *eol, uint64_t *bytes)
{
	uint64_t kb;
	int err = parse_u64(p, eol, &kb);

	if (err)
		return err;
	if (kb > UINT64_MAX / 1024)
		return -ERANGE;
	*bytes = kb * 1024;
	return 0;
}

/* line starts with "k:" within [line, lend): the buffer need not be NUL-terminated */
#define KEY(line, lend, k)                                                                         \
	((size_t)((lend) - (line)) >= sizeof(k) && memcmp(line, k ":", sizeof(k)) == 0)

int proc_status__parse(const char *buf, size_t len, struct proc_status *out)
{
	const char *p = buf, *end = buf + len;
	bool has_name = false, has_tgid = false;

	memset(out, 0, sizeof(*out));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *v;
		uint64_t n;
		int err = 0;

		if (!eol)
			eol = end;
		v = memchr(p, ':', (size_t)(eol - p));
		if (!v)
			goto next;
		v++;
		if (KEY(p, eol, "Name")) {
			if (v < eol && *v == '\t')
				v++;
			unescape_name(v, eol, out->name, sizeof(out->name));
			has_name = true;
		} else if (KEY(p, eol, "Tgid")) {
			err = parse_u64(v, eol, &n);
			if (!err && n > INT_MAX)
				err = -ERANGE;
			out->tgid = (int)n;
			has_tgid = !err;
		} else if (KEY(p, eol, "PPid")) {
			err = parse_u64(v, eol, &n);
			if (!err && n > INT_MAX)
				err = -ERANGE;
			out->ppid = (int)n;
		} else if (KEY(p, eol, "Uid")) {
			const char *second = v;

			while (second < eol && (*second == ' ' || *second == '\t'))
				second++;
			while (second < eol && *second >= '0' && *second <= '9')
				second++;
			err = parse_u64(second, eol, &n);
			if (!err && n > UINT32_MAX)
				err = -ERANGE;
			out->uid = (uint32_t)n;
		} else if (KEY(p, eol, "VmRSS")) {
			err = parse_kb_bytes(v, eol, &out->vm_rss);
			out->present |= STATUS_HAS_RSS;
		} else if (KEY(p, eol, "VmHWM")) {
			err = parse_kb_bytes(v, eol, &out->vm_hwm);
		} else if (KEY(p, eol, "RssAnon")) {
			err = parse_kb_bytes(v, eol, &out->rss_anon);
			out->present |= STATUS_HAS_SPLIT;
		} else if (KEY(p, eol, "RssFile")) {
			err = parse_kb_bytes(v, eol, &out->rss_file);
		} else if (KEY(p, eol, "RssShmem")) {
			err = parse_kb_bytes(v, eol, &out->rss_shmem);
		} else if (KEY(p, eol, "VmSwap")) {
			err = parse_kb_bytes(v, eol, &out->vm_swap);
			out->present |= STATUS_HAS_SWAP;
		}
		if (err)
			return -EINVAL;
	next:
		p = eol + 1;
	}
	if (!has_name || !has_tgid)
		return -EINVAL;
	out->kernel_thread = !(out->present & STATUS_HAS_RSS);
	return 0;
}

int proc_status__read(int pid, struct proc_status *out)
{
	char path[32], buf[4096];
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	len = read_small(path, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	return proc_status__parse(buf, (size_t)len, out);
}

int proc_stat__parse(const char *buf, size_t len, struct proc_stat *out)
{
	const char *open_paren, *close_paren = NULL, *p, *end = buf + len;
	uint64_t v[20] = { 0 };
	size_t n, field = 0;

	memset(out, 0, sizeof(*out));
	open_paren = memchr(buf, '(', len);
	for (p = buf + len; p > buf; p--) {
		if (p[-1] == ')') {
			close_paren = p - 1;
			break;
		}
	}
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EINVAL;
	n = (size_t)(close_paren - open_paren - 1);
	if (n >= sizeof(out->comm))
		n = sizeof(out->comm) - 1;
	memcpy(out->comm, open_paren + 1, n);
	out->comm[n] = '\0';

	/* ") S 1 4701 ...": state is field 3; flags field 9; starttime field 22 */
	p = close_paren + 1;
	if (end - p < 3 || p[0] != ' ')
		return -EINVAL;
	out->state = p[1];
	p += 2;
	while (field < 19) {
		const char *num;

		if (p >= end || *p != ' ')
			return -EINVAL;
		p++;
		if (p < end && *p == '-') /* tty_nr, tpgid may be -1 */
			p++;
		num = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (parse_u64(num, p, &v[field]))
			return -EINVAL;
		field++;
	}
	/* v[0..2] are fields 4-6 (ppid, pgrp, session), v[5] field 9 (flags), v[18] field 22
	 * (starttime) */
	if (v[0] > INT_MAX || v[1] > INT_MAX || v[2] > INT_MAX)
		return -EINVAL;
	out->ppid = (int)v[0];
	out->pgrp = (int)v[1];
	out->session = (int)v[2];
	out->flags = (uint32_t)v[5];
	out->start_ticks = v[18];
	return 0;
}

int proc_stat__read(int pid, struct proc_stat *out)
{
	char path[32], buf[1024];
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	len = read_small(path, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	return proc_stat__parse(buf, (size_t)len, out);
}

bool proc_is_kernel_thread(int pid)
{
	struct proc_stat st;

	if (proc_stat__read(pid, &st))
		return false;
	return st.flags & PF_KTHREAD;
}

bool proc_exists(int pid)
{
	char path[32];

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d", pid);
	return access(path, F_OK) == 0;
}

bool path_is_cgroup2(const char *path)
{
	struct statfs sf;
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode) && statfs(path, &sf) == 0 &&
	       sf.f_type == CGROUP2_SUPER_MAGIC;
}
