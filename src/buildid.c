// SPDX-License-Identifier: GPL-2.0
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "buildid.h"
#include "dw_dl.h"
#include "hashmap.h"
#include "log.h"
#include "outfile.h"

#define CACHE_COPY_MAX (2ULL << 30) /* larger "binaries" are not copied */

struct buildid_cache {
	struct hashmap *by_file; /* struct buildid_ent * -> itself, keyed by (dev, ino) */
};

static uint64_t file_hash(uintptr_t key, void *ctx)
{
	const struct buildid_ent *b = (const void *)key;

	return (b->dev * 0x9E3779B97F4A7C15ULL) ^ (b->ino * 0xC2B2AE3D27D4EB4FULL);
}

static bool file_equal(uintptr_t a, uintptr_t b, void *ctx)
{
	const struct buildid_ent *x = (const void *)a, *y = (const void *)b;

	return x->dev == y->dev && x->ino == y->ino;
}

struct buildid_cache *buildid_cache__new(void)
{
	struct buildid_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->by_file = hashmap__new(file_hash, file_equal, NULL, 64);
	if (!c->by_file) {
		free(c);
		return NULL;
	}
	/*
	 * dwelf_elf_gnu_build_id's library, now, from our own root and mount
	 * namespace. Without it (the error is printed) no build-id is known.
	 */
	dw_dl__open();
	return c;
}

void buildid_cache__free(struct buildid_cache *c)
{
	size_t cursor = 0;
	uintptr_t v;

	if (!c)
		return;
	while (hashmap__next(c->by_file, &cursor, NULL, &v)) {
		struct buildid_ent *b = (void *)v;

		free(b->path);
		free(b->cache_path);
		free(b);
	}
	hashmap__free(c->by_file);
	free(c);
}

/* Opens path for reading on behalf of a traced process: a regular file only. */
static int open_checked(const char *path, uint64_t dev, uint64_t ino, int extra_flags,
			struct stat *sb)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | extra_flags), err;

	if (fd < 0)
		return -errno;
	if (fstat(fd, sb)) {
		err = -errno;
		close(fd);
		return err;
	}
	/*
	 * Not compared with (dev, ino): on overlayfs /proc/PID/maps names the
	 * lower file's inode while stat() through the overlay gives its own,
	 * and callers chose path by (dev, ino) already where they could.
	 */
	if (!S_ISREG(sb->st_mode)) {
		close(fd);
		return -ESTALE;
	}
	return fd;
}

int buildid__read(const char *path, uint64_t dev, uint64_t ino, uint8_t *id, uint32_t *len)
{
	const void *bits = NULL;
	struct stat sb;
	Elf *elf = NULL;
	ssize_t n;
	int fd, err = 0;

	fd = open_checked(path, dev, ino, 0, &sb);
	if (fd < 0)
		return fd;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		err = -EINVAL;
		goto cleanup;
	}
	n = dwelf_elf_gnu_build_id(elf, &bits);
	if (n <= 0 || n > MT_BUILD_ID_MAX) {
		err = -ENOENT;
		goto cleanup;
	}
	memcpy(id, bits, n);
	*len = n;
cleanup:
	elf_end(elf);
	close(fd);
	return err;
}

/* Copies the regular file (dev, ino) at from to to, through a temporary file and rename. */
static int copy_file(const char *from, uint64_t dev, uint64_t ino, enum buildid_via via,
		     const char *to)
{
	/* by build-id: a file there already has the same contents, replacing it is fine */
	struct outfile_opts oo = { .mode = 0644, .force = true };
	struct outfile *out = NULL;
	char buf[65536];
	uint64_t copied = 0;
	struct stat sb;
	ssize_t n;
	int in, err = 0;

	/* the final component must not be a link a traced process planted (map_files' are the
	 * kernel's) */
	in = open_checked(from, dev, ino, via == BUILDID_MAPPED ? 0 : O_NOFOLLOW, &sb);
	if (in < 0)
		return in;
	if ((uint64_t)sb.st_size > CACHE_COPY_MAX) {
		err = -EFBIG;
		goto cleanup;
	}
	/* never readable by more than the original: a container's 0700 binary stays private */
	oo.mode &= sb.st_mode;
	out = outfile__open(to, &oo);
	if (!out) {
		err = -errno;
		goto cleanup;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0 && copied <= CACHE_COPY_MAX) {
		if (fwrite(buf, 1, n, outfile__file(out)) != (size_t)n) {
			err = -EIO;
			goto cleanup;
		}
		copied += n;
	}
	if (n < 0)
		err = -errno;
	else if (copied > CACHE_COPY_MAX)
		err = -EFBIG;
	if (!err) {
		err = outfile__commit(out);
		out = NULL;
	}
cleanup:
	outfile__abort(out);
	close(in);
	return err;
}

/* An entry already in the cache, as a regular file (not a link to something else). */
static bool cached(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static char *cache_binary(const char *src, uint64_t dev, uint64_t ino, enum buildid_via via,
			  const uint8_t *id, uint32_t len)
{
	const char *base = getenv("MEMTRACE_CACHE"), *home = getenv("HOME");
	char dir[PATH_MAX], path[PATH_MAX], hex[2 * MT_BUILD_ID_MAX + 1];
	int err;

	for (uint32_t i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	hex[2 * len] = '\0';
	if (base)
		snprintf(dir, sizeof(dir), "%s", base);
	else if (home)
		snprintf(dir, sizeof(dir), "%s/.cache/memtrace", home);
	else
		return NULL;
	mkdir(dir, 0755);
	if (snprintf(path, sizeof(path), "%s/%s", dir, hex) >= (int)sizeof(path))
		return NULL;
	if (cached(path))
		return strdup(path);
	err = copy_file(src, dev, ino, via, path);
	if (!err)
		return strdup(path);
	mt_warn("cannot keep a copy of %s in %s: %s (report may not symbolize it)", src, dir,
		strerror(-err));
	return NULL;
}

const struct buildid_ent *buildid_cache__find(const struct buildid_cache *c, uint64_t dev,
					      uint64_t ino)
{
	struct buildid_ent probe = { .dev = dev, .ino = ino };
	uintptr_t v;

	return hashmap__find(c->by_file, (uintptr_t)&probe, &v) ? (void *)v : NULL;
}

const struct buildid_ent *buildid_cache__get(struct buildid_cache *c, const char *readable,
					     const char *path, uint64_t dev, uint64_t ino,
					     enum buildid_via via)
{
	struct buildid_ent *b = (struct buildid_ent *)buildid_cache__find(c, dev, ino);
	bool foreign = via != BUILDID_OURS;

	if (b) {
		/* first seen where it could not be opened: this path may do better */
		if (!b->len && buildid__read(readable, dev, ino, b->id, &b->len))
			b->len = 0;
		/*
		 * first seen from our root, now named by a path report cannot
		 * open (a process that moved to its own mount namespace since):
		 * that mapping needs the copy too
		 */
		if (b->len && foreign && !b->cache_path)
			b->cache_path = cache_binary(readable, dev, ino, via, b->id, b->len);
		return b;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->path = strdup(path);
	b->dev = dev;
	b->ino = ino;
	if (!b->path || hashmap__add(c->by_file, (uintptr_t)b, (uintptr_t)b)) {
		free(b->path);
		free(b);
		return NULL;
	}
	if (buildid__read(readable, dev, ino, b->id, &b->len))
		b->len = 0;
	if (foreign && b->len)
		b->cache_path = cache_binary(readable, dev, ino, via, b->id, b->len);
	return b;
}
