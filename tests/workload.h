/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Starting tests/workloads programs from a test and stepping them through
 * their phases over pipes: the workload prints "ready PID", waits for one
 * byte, does its work, prints "done", and (with --hold) waits for EOF.
 */
#ifndef MEMTRACE_TESTS_WORKLOAD_H
#define MEMTRACE_TESTS_WORKLOAD_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/wait.h>

struct workload {
	pid_t pid;
	int to_child;	/* write end of the child's stdin */
	int from_child; /* read end of the child's stdout */
};

static inline const char *workload_path(const char *name, char *buf, size_t len)
{
	const char *dir = getenv("WORKLOADS");

	snprintf(buf, len, "%s/%s", dir ? dir : "build/tests/workloads", name);
	return buf;
}

/* Read one line from the child into buf (without the newline); 0 or -1. */
static inline int workload_read_line(struct workload *w, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		char c;
		ssize_t r = read(w->from_child, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}

/* Start argv (argv[0] is a workload name) and wait for its "ready" line. */
static inline int workload_start(struct workload *w, char *const argv[])
{
	int in[2], out[2];
	char path[512], line[128];

	if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
		return -1;
	w->pid = fork();
	if (w->pid < 0)
		return -1;
	if (w->pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);

		execv(workload_path(argv[0], path, sizeof(path)), argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	w->to_child = in[1];
	w->from_child = out[0];
	if (workload_read_line(w, line, sizeof(line)) || strncmp(line, "ready ", 6) != 0)
		return -1;
	return 0;
}

/* Let it run its phase and wait for "done". */
static inline int workload_go(struct workload *w)
{
	char line[128];

	if (write(w->to_child, "g", 1) != 1)
		return -1;
	if (workload_read_line(w, line, sizeof(line)) || strcmp(line, "done") != 0)
		return -1;
	return 0;
}

/* Close its stdin (ending --hold) and reap it; returns its exit status or -1. */
static inline int workload_finish(struct workload *w)
{
	int status;

	close(w->to_child);
	close(w->from_child);
	if (waitpid(w->pid, &status, 0) != w->pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif /* MEMTRACE_TESTS_WORKLOAD_H */
