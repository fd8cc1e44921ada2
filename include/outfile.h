/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An output file written as root into a directory others may control:
 * the data goes to a fresh temporary file in the target's directory,
 * created O_CREAT|O_EXCL|O_NOFOLLOW (so no planted file or symlink is
 * written through), then renamed over the target. Without force an
 * existing target is refused, atomically (RENAME_NOREPLACE), also when it
 * appears while we write.
 *
 * Minimal version by branch record; branch safety owns this file.
 */
#ifndef MEMTRACE_OUTFILE_H
#define MEMTRACE_OUTFILE_H

#include <stdbool.h>
#include <sys/types.h>

struct outfile {
	int fd;	    /* the temporary file, open for writing; -1 when closed */
	char *path; /* the target */
	char *tmp;  /* the temporary file's name, NULL once renamed or removed */
	bool force;
};

/*
 * Creates the temporary file with mode (exactly: the umask does not widen
 * or narrow it). 0; -EEXIST when the target exists and !force; -errno.
 */
int outfile__open(struct outfile *o, const char *path, bool force, mode_t mode);

/*
 * Closes and renames into place; -EEXIST when !force and the target has
 * appeared. The temporary file is removed on any error.
 */
int outfile__commit(struct outfile *o);

/* Removes the temporary file (if any) and frees; safe after commit and twice. */
void outfile__abort(struct outfile *o);

#endif /* MEMTRACE_OUTFILE_H */
