// SPDX-License-Identifier: GPL-2.0
/*
 * Safe output files: random temporary file beside the target, renamed into
 * place (see outfile.h). mkostemp() would do the creation, but it takes a
 * path, not a directory fd: openat() on a directory opened once keeps the
 * temporary file and the rename in the same directory even if a path
 * component is swapped meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "outfile.h"

struct outfile {
	FILE *f;
	int dirfd; /* the target's directory, -1 for stdout */
	bool force;
	char *base;    /* target name within dirfd */
	char tmp[256]; /* temporary name within dirfd */
};

static void outfile_free(struct outfile *f)
{
	if (f->dirfd >= 0)
		close(f->dirfd);
	free(f->base);
	free(f);
}

static int split_path(const char *path, char **dir, char **base)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		*dir = strdup(".");
		*base = strdup(path);
	} else {
		*dir = slash == path ? strdup("/") : strndup(path, slash - path);
		*base = strdup(slash + 1);
	}
	if (!*dir || !*base) {
		free(*dir);
		free(*base);
		return -ENOMEM;
	}
	return 0;
}

static int create_temp(struct outfile *f, mode_t mode)
{
	for (int tries = 0; tries < 100; tries++) {
		unsigned char rnd[6];
		int fd;

		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			return -EIO;
		/* the target name is cut so that the temporary one fits NAME_MAX */
		snprintf(f->tmp, sizeof(f->tmp), ".%.200s.%02x%02x%02x%02x%02x%02x.tmp", f->base,
			 rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
		fd = openat(f->dirfd, f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    mode);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			return -errno;
		}
		f->f = fdopen(fd, "w");
		if (!f->f) {
			int err = -errno;

			close(fd);
			unlinkat(f->dirfd, f->tmp, 0);
			return err;
		}
		return 0;
	}
	return -EEXIST;
}

struct outfile *outfile__open(const char *path, const struct outfile_opts *opts)
{
	struct outfile *f = calloc(1, sizeof(*f));
	mode_t mode = opts && opts->mode ? opts->mode : OUTFILE_MODE_DEFAULT;
	char *dir = NULL;
	struct stat st;
	int err;

	if (!f)
		return NULL;
	f->dirfd = -1;
	f->force = opts && opts->force;
	if (strcmp(path, "-") == 0) {
		f->f = stdout;
		return f;
	}
	err = split_path(path, &dir, &f->base);
	if (err)
		goto fail;
	if (!*f->base || strcmp(f->base, ".") == 0 || strcmp(f->base, "..") == 0) {
		err = -EISDIR;
		goto fail;
	}
	f->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (f->dirfd < 0) {
		err = -errno;
		goto fail;
	}
	if (fstatat(f->dirfd, f->base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode)) {
			err = -EISDIR;
			goto fail;
		}
		if (!f->force) {
			err = -EEXIST;
			goto fail;
		}
	} else if (errno != ENOENT) {
		err = -errno;
		goto fail;
	}
	err = create_temp(f, mode);
	if (err)
		goto fail;
	free(dir);
	return f;
fail:
	free(dir);
	outfile_free(f);
	errno = -err;
	return NULL;
}

FILE *outfile__file(const struct outfile *f)
{
	return f->f;
}

bool outfile__is_stdout(const struct outfile *f)
{
	return f->dirfd < 0;
}

static int place(struct outfile *f)
{
	if (f->force)
		return renameat(f->dirfd, f->tmp, f->dirfd, f->base) ? -errno : 0;
	if (renameat2(f->dirfd, f->tmp, f->dirfd, f->base, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* a filesystem without RENAME_NOREPLACE: link() refuses an existing name too */
	if (linkat(f->dirfd, f->tmp, f->dirfd, f->base, 0))
		return -errno;
	unlinkat(f->dirfd, f->tmp, 0);
	return 0;
}

int outfile__commit(struct outfile *f)
{
	int err = 0;

	if (outfile__is_stdout(f)) {
		if (fflush(f->f))
			err = -errno;
		else if (ferror(f->f))
			err = -EIO;
		outfile_free(f);
		return err;
	}
	if (fflush(f->f))
		err = -errno;
	else if (ferror(f->f))
		err = -EIO;
	if (!err && fsync(fileno(f->f)) && errno != EINVAL)
		err = -errno;
	if (fclose(f->f) && !err)
		err = -errno;
	f->f = NULL;
	if (!err)
		err = place(f);
	if (err)
		unlinkat(f->dirfd, f->tmp, 0);
	outfile_free(f);
	return err;
}

void outfile__abort(struct outfile *f)
{
	if (!f)
		return;
	if (!outfile__is_stdout(f)) {
		if (f->f)
			fclose(f->f);
		unlinkat(f->dirfd, f->tmp, 0);
	} else {
		fflush(f->f);
	}
	outfile_free(f);
}
