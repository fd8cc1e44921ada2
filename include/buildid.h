/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ELF build-ids of the files the traced processes map, read once per file
 * (dev, inode), and the binary cache: a binary seen through another root
 * (a container) may not exist under the same path for report, so a copy is
 * kept by build-id under $MEMTRACE_CACHE or ~/.cache/memtrace, as perf's
 * ~/.debug does.
 */
#ifndef MEMTRACE_BUILDID_H
#define MEMTRACE_BUILDID_H

#include <stdbool.h>
#include <stdint.h>
#include "recording.h"

struct buildid_ent {
	uint64_t dev, ino;
	uint32_t len; /* 0: none found (yet) */
	uint8_t id[MT_BUILD_ID_MAX];
	char *path;	  /* as the first process that mapped it named it */
	char *cache_path; /* the cached copy, or NULL */
};

struct buildid_cache;

/* How a readable path reaches the file, for buildid_cache__get. */
enum buildid_via {
	BUILDID_OURS, /* a path from our root: not copied */
	/*
	 * /proc/PID/root/PATH: copied to the cache; its last component is
	 * the traced process's to make a link of, so it is never followed
	 */
	BUILDID_ROOT,
	/* /proc/PID/map_files/START-END, the kernel's link to the mapped file: copied */
	BUILDID_MAPPED,
};

struct buildid_cache *buildid_cache__new(void); /* NULL with errno set */
void buildid_cache__free(struct buildid_cache *c);

/*
 * The entry of file (dev, ino), its build-id read from readable (the file
 * as we can open it, reached as via says) the first time; path is how the
 * traced process named it. A file not reached from our root is copied to
 * the cache. NULL on ENOMEM. Entries live as long as the cache.
 */
const struct buildid_ent *buildid_cache__get(struct buildid_cache *c, const char *readable,
					     const char *path, uint64_t dev, uint64_t ino,
					     enum buildid_via via);

/* The entry of (dev, ino) if some mapping already named it, else NULL. */
const struct buildid_ent *buildid_cache__find(const struct buildid_cache *c, uint64_t dev,
					      uint64_t ino);

/*
 * The GNU build-id note of the ELF file at path (dev, ino), which must be a
 * regular file (checked on the open descriptor). 0, -ENOENT (no note),
 * -ESTALE (not a regular file), -errno.
 */
int buildid__read(const char *path, uint64_t dev, uint64_t ino, uint8_t *id, uint32_t *len);

#endif /* MEMTRACE_BUILDID_H */
