/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A file memtrace writes, created safely although memtrace runs as root in
 * directories that other users control (/tmp, a shared CI workspace).
 *
 * outfile__open() creates a temporary file with a random name in the
 * target's own directory (O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, so a planted
 * file or symlink is never opened), the caller writes through
 * outfile__file(), and outfile__commit() flushes, fsyncs and renames it
 * into place. The target path itself is never opened: a symlink planted
 * there is never followed. Without force an existing target (file,
 * symlink, anything) is refused with -EEXIST, both at open and again
 * atomically at commit (renameat2 RENAME_NOREPLACE); with force the
 * rename replaces it, a symlink included, atomically. outfile__abort()
 * (or a failed commit) unlinks the temporary file.
 *
 * The path "-" means standard output: no file is created, commit flushes.
 *
 *	struct outfile_opts o = { .mode = 0600, .force = force };
 *	struct outfile *f = outfile__open(path, &o);
 *	if (!f) return -errno;
 *	fprintf(outfile__file(f), ...);
 *	err = outfile__commit(f);    (frees f in every case)
 */
#ifndef MEMTRACE_OUTFILE_H
#define MEMTRACE_OUTFILE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* for outfile_opts.mode: what a file that is not secret gets (the umask then applies) */
#define OUTFILE_MODE_DEFAULT 0666
/* recordings hold raw user-stack bytes: owner only, as perf does */
#define OUTFILE_MODE_PRIVATE 0600

struct outfile_opts {
	mode_t mode; /* creation mode, the umask applies; 0 means OUTFILE_MODE_DEFAULT */
	bool force;  /* replace an existing target */
};

struct outfile;

/*
 * NULL with errno set: EEXIST (target exists and !force), EISDIR (target
 * is a directory), or whatever creating the temporary file failed with.
 */
struct outfile *outfile__open(const char *path, const struct outfile_opts *opts);

/* The stream to write to (stdout for "-"). Owned by the outfile. */
FILE *outfile__file(const struct outfile *f);

/* True when the outfile is standard output. */
bool outfile__is_stdout(const struct outfile *f);

/*
 * Flush, fsync, close and rename into place. 0, or -errno (-EIO for a
 * write error seen on the stream, -EEXIST if a target appeared meanwhile
 * and !force); on any error the temporary file is removed and the target
 * is untouched. Frees f.
 */
int outfile__commit(struct outfile *f);

/* Remove the temporary file, leave the target untouched, free f. NULL is fine. */
void outfile__abort(struct outfile *f);

#endif /* MEMTRACE_OUTFILE_H */
