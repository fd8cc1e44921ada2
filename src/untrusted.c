// SPDX-License-Identifier: GPL-2.0
/* Checked reads of files another user controls (see untrusted.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "procfs.h"
#include "untrusted.h"

int untrusted_open(const char *path, const struct untrusted_opts *opts, struct stat *st)
{
	struct stat sb;
	int fd, err;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb)) {
		err = -errno;
		goto fail;
	}
	err = 0;
	if (!S_ISREG(sb.st_mode))
		err = -EINVAL;
	else if (!opts->any_owner && sb.st_uid != 0 &&
		 (opts->owner == UNTRUSTED_UID_UNKNOWN || sb.st_uid != opts->owner))
		err = -EPERM;
	else if (opts->max_bytes && (uint64_t)sb.st_size > opts->max_bytes)
		err = -EFBIG;
	if (err)
		goto fail;
	if (st)
		*st = sb;
	return fd;
fail:
	close(fd);
	return err;
}

int untrusted_read(const char *path, const struct untrusted_opts *opts, char **buf, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	char *b = NULL;
	int fd, err = 0;

	fd = untrusted_open(path, opts, &st);
	if (fd < 0)
		return fd;
	cap = (size_t)st.st_size + 1; /* one more byte tells a file that grew */
	if (opts->max_bytes && cap > opts->max_bytes + 1)
		cap = opts->max_bytes + 1;
	b = malloc(cap + 1);
	if (!b) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (;;) {
		ssize_t r = read(fd, b + n, cap - n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto cleanup;
		}
		if (r == 0)
			break;
		n += r;
		if (n == cap) {
			/* the file grew since fstat: keep going within the cap */
			char *nb;

			if (opts->max_bytes && n > opts->max_bytes) {
				err = -EFBIG;
				goto cleanup;
			}
			cap *= 2;
			if (opts->max_bytes && cap > opts->max_bytes + 1)
				cap = opts->max_bytes + 1;
			nb = realloc(b, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				goto cleanup;
			}
			b = nb;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
cleanup:
	free(b);
	close(fd);
	return err;
}

const char *untrusted_strerror(int err)
{
	switch (err) {
	case -ELOOP:
		return "is a symbolic link";
	case -EINVAL:
		return "is not a regular file";
	case -EPERM:
		return "is owned by neither root nor the process's user";
	case -EFBIG:
		return "is larger than memtrace reads";
	default:
		return strerror(-err);
	}
}

uid_t untrusted_proc_uid(int pid)
{
	struct proc_status ps;

	if (proc_status__read(pid, &ps))
		return UNTRUSTED_UID_UNKNOWN;
	return ps.uid;
}
