// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include "outfile.h"

int outfile__open(struct outfile *o, const char *path, bool force, mode_t mode)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path + 1) : 0, err;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->force = force;
	if (!*path || (slash && !slash[1]))
		return -EISDIR;
	if (!force && faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	o->path = strdup(path);
	if (!o->path)
		return -ENOMEM;
	for (int tries = 0; tries < 100; tries++) {
		unsigned int r;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (unsigned int)getpid() * 2654435761u + tries;
		free(o->tmp);
		if (asprintf(&o->tmp, "%.*s.%s.%08x.tmp", dirlen, path, path + dirlen, r) < 0) {
			o->tmp = NULL;
			err = -ENOMEM;
			goto fail;
		}
		o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (o->fd >= 0)
			break;
		if (errno != EEXIST) {
			err = -errno;
			goto fail;
		}
	}
	if (o->fd < 0) {
		err = -EEXIST;
		goto fail;
	}
	if (fchmod(o->fd, mode)) {
		err = -errno;
		goto fail;
	}
	return 0;
fail:
	if (o->fd >= 0) {
		close(o->fd);
		unlink(o->tmp);
	}
	free(o->tmp);
	o->tmp = NULL;
	o->fd = -1;
	free(o->path);
	o->path = NULL;
	return err;
}

int outfile__commit(struct outfile *o)
{
	int err = 0;

	if (o->fd < 0 || !o->tmp)
		return -EBADF;
	if (close(o->fd))
		err = -errno;
	o->fd = -1;
	if (!err && renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->path, o->force ? 0 : RENAME_NOREPLACE))
		err = -errno;
	if (err) {
		unlink(o->tmp);
	}
	free(o->tmp);
	o->tmp = NULL;
	return err;
}

void outfile__abort(struct outfile *o)
{
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp)
		unlink(o->tmp);
	free(o->tmp);
	o->tmp = NULL;
	free(o->path);
	o->path = NULL;
}
