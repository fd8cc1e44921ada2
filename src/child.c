// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "child.h"

/* After fork: async-signal-safe calls only. Never returns. */
static void child_main(int go, int report, pid_t parent, char *const argv[],
		       const struct mt_child_opts *opts)
{
	int err;
	char c;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(MT_CHILD_NOT_FOUND); /* the tracer is gone already */
	if (!(opts && opts->same_group))
		setpgid(0, 0);
	if (opts && opts->before_exec)
		opts->before_exec(opts->arg);
	if (read(go, &c, 1) != 1)
		_exit(MT_CHILD_NOT_FOUND); /* the caller gave up before starting us */
	execvp(argv[0], argv);
	err = errno;
	(void)!write(report, &err, sizeof(err));
	_exit(err == ENOENT || err == ENOTDIR || err == ENAMETOOLONG ? MT_CHILD_NOT_FOUND
								     : MT_CHILD_NOT_EXECUTABLE);
}

int mt_child__spawn(struct mt_child *c, char *const argv[], const struct mt_child_opts *opts)
{
	int go[2] = { -1, -1 }, report[2] = { -1, -1 }, err;
	pid_t parent = getpid(), pid;

	if (pipe2(go, O_CLOEXEC) || pipe2(report, O_CLOEXEC)) {
		err = -errno;
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto fail;
	}
	if (pid == 0) {
		close(go[1]);
		close(report[0]);
		child_main(go[0], report[1], parent, argv, opts);
	}
	/* set it from here too: kill(-pid) must work even before the child ran */
	if (!(opts && opts->same_group))
		setpgid(pid, pid);
	close(go[0]);
	close(report[1]);
	c->pid = pid;
	c->go_fd = go[1];
	c->err_fd = report[0];
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (go[i] >= 0)
			close(go[i]);
		if (report[i] >= 0)
			close(report[i]);
	}
	return err;
}

int mt_child__release(struct mt_child *c)
{
	int child_errno = 0, err = 0;
	ssize_t n;

	if (c->go_fd < 0 || c->err_fd < 0)
		return -EINVAL;
	if (write(c->go_fd, "g", 1) != 1)
		err = -errno;
	close(c->go_fd);
	c->go_fd = -1;
	if (err)
		return err;
	do
		n = read(c->err_fd, &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(c->err_fd);
	c->err_fd = -1;
	if (n == sizeof(child_errno))
		return child_errno > 0 ? -child_errno : -EIO;
	return 0; /* EOF: the descriptor closed at exec */
}

void mt_child__close(struct mt_child *c)
{
	if (c->go_fd >= 0)
		close(c->go_fd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	c->go_fd = c->err_fd = -1;
}

int mt_child__shell_status(int wait_status)
{
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return 1;
}
