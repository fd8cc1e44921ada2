/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The held child of `record -- CMD` and `run -- CMD`: forked, held on a
 * pipe until the caller's tracing is in place, then exec'd.
 *
 * In the child, between fork and exec, only async-signal-safe calls run
 * (no stdio, no malloc: write(2) at most). The child gets
 * PR_SET_PDEATHSIG(SIGKILL), so that it dies with the tracer rather than
 * running on untraced, and its own process group, so that the caller can
 * signal the whole tree with kill(-pid, sig). Exec failure is reported to
 * the parent through a close-on-exec pipe (EOF there means exec worked),
 * and the child then exits as a shell would: 127 for a command that was
 * not found, 126 for one that could not be executed.
 */
#ifndef MEMTRACE_CHILD_H
#define MEMTRACE_CHILD_H

#include <stdbool.h>
#include <sys/types.h>

#define MT_CHILD_NOT_FOUND 127
#define MT_CHILD_NOT_EXECUTABLE 126

struct mt_child_opts {
	/* run in the child after fork, before waiting to be released: async-signal-safe only */
	void (*before_exec)(void *arg);
	void *arg;
	bool same_group; /* stay in the caller's process group (default: a group of its own) */
};

struct mt_child {
	pid_t pid;  /* -1 before spawn */
	int go_fd;  /* ours: a byte (or EOF) releases the child */
	int err_fd; /* ours: the child's exec errno, or EOF once exec worked */
};

#define MT_CHILD_INIT                                                                              \
	{                                                                                          \
		.pid = -1, .go_fd = -1, .err_fd = -1                                               \
	}

/* Forks argv (argv[0] looked up in PATH) held; 0 or -errno (nothing forked then). */
int mt_child__spawn(struct mt_child *c, char *const argv[], const struct mt_child_opts *opts);

/*
 * Lets the child exec and waits until it did: 0 once the command runs,
 * -errno of its failed exec (the child exits 127 or 126 then: reap it).
 */
int mt_child__release(struct mt_child *c);

/* Closes our ends; a child never released sees EOF and exits 127 without exec. */
void mt_child__close(struct mt_child *c);

/* A wait status as a shell's $?: the exit code, or 128 + the signal. */
int mt_child__shell_status(int wait_status);

#endif /* MEMTRACE_CHILD_H */
