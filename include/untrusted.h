/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Files read as root on behalf of a traced process: /tmp/perf-PID.map,
 * anything reached through /proc/PID/root, binaries a process mapped. The
 * traced user controls these paths, so a symlink to a root-only file, a
 * FIFO that never answers or /dev/zero must not be read. The final path
 * component is opened O_RDONLY|O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC (never a
 * symlink, never a blocking open), then fstat decides: a regular file,
 * owned by root or by the process's user, no larger than the cap. Strings
 * read from such files go through sanitize.h before any terminal.
 */
#ifndef MEMTRACE_UNTRUSTED_H
#define MEMTRACE_UNTRUSTED_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* opts.owner when the process's user is not known: only root's files pass */
#define UNTRUSTED_UID_UNKNOWN ((uid_t)-1)

struct untrusted_opts {
	uid_t owner;	  /* the process's user (root's files always pass) */
	bool any_owner;	  /* no owner check (a shared library owned by a package user) */
	size_t max_bytes; /* larger files are refused with -EFBIG; 0: no cap */
};

/*
 * An fd open on path, or -errno: -ELOOP (a symlink), -EINVAL (not a
 * regular file), -EPERM (owned by another user), -EFBIG (over the cap),
 * or what open() failed with. st, if not NULL, gets the fstat result.
 */
int untrusted_open(const char *path, const struct untrusted_opts *opts, struct stat *st);

/*
 * The whole file, NUL-terminated, in a new *buf (free()); *len excludes
 * the NUL. 0 or -errno as untrusted_open, -EFBIG also when the file grew
 * past the cap while being read.
 */
int untrusted_read(const char *path, const struct untrusted_opts *opts, char **buf, size_t *len);

/* Why untrusted_open refused, as a phrase: "is a symbolic link", ... */
const char *untrusted_strerror(int err);

/* The effective uid of a live process (from /proc/PID/status), or UNTRUSTED_UID_UNKNOWN. */
uid_t untrusted_proc_uid(int pid);

#endif /* MEMTRACE_UNTRUSTED_H */
